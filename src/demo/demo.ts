import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Logger } from 'pino';
import { parseConfig } from '../config.js';
import { FerryEventBus } from '../core/events.js';
import { startDaemon } from '../admin/daemon.js';
import { followCutover } from '../admin/cutover-client.js';
import type { CutoverView } from '../admin/cutover.js';
import { formatPosition, type Position } from '../core/position.js';
import { mariaSeqs } from '../sources/mysql/binlog-missing.js';
import { logEvents } from '../ui/event-log.js';
import { showSnapshotProgress } from '../ui/snapshot-progress.js';
import { startMariaDb, startPostgres, type LocalServer } from './local-databases.js';
import { createSampleData, runWriteLoad } from './sample-data.js';

export interface DemoOptions {
  readonly log: Logger;
  readonly metadataRows: number;
  /** How long the write load runs while ferry streams. */
  readonly loadSeconds?: number;
}

const say = (text: string) => process.stdout.write(`${text}\n`);

/**
 * How many of the write load's commits (their GTIDs, as the source numbered them) the binlog places
 * after `position`, where streaming starts; the others are in the snapshot's copy.
 */
function committedAfter(gtids: readonly string[], position: Position): number {
  if (position.kind !== 'mysql' || !position.gtid)
    throw new Error(`the snapshot's position ${formatPosition(position)} has no MariaDB GTID to place the write load's commits against`);
  const from = mariaSeqs(position.gtid);
  return gtids.filter((gtid) => [...mariaSeqs(gtid)].some(([domain, seq]) => seq > (from.get(domain) ?? -1n))).length;
}

/** A cutover state and when it began, counted from the cutover's start: `fencing +0.1 s`. */
const stateAt = (entry: CutoverView['history'][number]) => `${entry.state} +${(entry.ms / 1000).toFixed(1)} s`;

/**
 * The main job on an embedded default: private MariaDB and Postgres, a sample database, ferry
 * snapshotting and streaming it while a write load runs, then a cutover through the admin API that
 * fences the source, drains, compares every table by checksum and moves the target's sequences.
 */
export async function runDemo(o: DemoOptions): Promise<number> {
  const started = performance.now();
  say('ferry demo: starting private MariaDB and PostgreSQL servers …');
  const servers: LocalServer[] = [];
  try {
    const [maria, postgres] = await Promise.all([startMariaDb(), startPostgres()]);
    servers.push(maria, postgres);
    say(`  MariaDB ${maria.url()}  PostgreSQL ${postgres.url()}`);

    const admin = await mysql.createConnection({ uri: maria.url(), multipleStatements: true });
    say(`creating the sample source: contentsearchdb.metadata (${o.metadataRows} rows) and shop.{customers,orders,order_items} …`);
    await createSampleData(admin, o.metadataRows);
    const pgAdmin = new pg.Client({ connectionString: postgres.url() });
    await pgAdmin.connect();
    await pgAdmin.query('CREATE DATABASE ferry_demo');
    await pgAdmin.end();

    const config = parseConfig({
      pipeline: 'demo',
      source: { type: 'mysql', url: maria.url() },
      target: { type: 'postgres', url: postgres.url('ferry_demo') },
      tables: { include: ['contentsearchdb.*', 'shop.*'] },
      snapshot: { chunkRows: 20_000 },
      admin: { listen: '127.0.0.1:0' },
    });
    const events = new FerryEventBus();
    const offLog = logEvents(events, o.log, 60_000);
    const offBars = showSnapshotProgress(events, { log: o.log, everyMs: 60_000, printSummary: say });
    // Both counts are of source transactions that changed the sample tables: the load's own commits,
    // and those ferry applied (batch-applied counts no heartbeat or other ferry-only transaction).
    let appliedTransactions = 0;
    let maxLag = 0;
    let snapshot: { rows: number; ms: number; position: Position } | null = null;
    events.on('snapshot-done', (done) => (snapshot = done));
    events.on('batch-applied', (b) => (appliedTransactions += b.transactions));

    const load = new AbortController();
    const committed: string[] = [];
    const loadConn = await mysql.createConnection({ uri: maria.url() });
    const loadDone = runWriteLoad(loadConn, load.signal, (gtid) => committed.push(gtid));
    say('running ferry (snapshot, then streaming) while a write load runs on the source …');
    const stop = new AbortController();
    const daemon = await startDaemon({ config, log: o.log, events, signal: stop.signal, until: 'stream' });
    daemon.done.catch(() => load.abort());
    say(`  admin API: ${daemon.adminUrl}/status, /metrics, /cutover`);

    while (!snapshot) {
      await Promise.race([sleep(200), daemon.done]);
    }
    const snap = snapshot as { rows: number; ms: number; position: Position };
    const loadSeconds = o.loadSeconds ?? 8;
    for (let s = 0; s < loadSeconds; s++) {
      await sleep(1000);
      const lag = daemon.status.lagSeconds();
      maxLag = Math.max(maxLag, lag ?? 0);
      say(
        `  streaming: ${committedAfter(committed, snap.position)} source transactions committed since the snapshot's position, ${appliedTransactions} applied, lag ${lag === null ? '-' : lag.toFixed(1)}s`,
      );
    }
    load.abort();
    await loadDone;
    await loadConn.end();
    await admin.end();

    say('load stopped; cutting over through the admin API (POST /cutover: fence read-only, drain, verify by checksums, finalize) …');
    const view = await followCutover({
      admin: daemon.adminUrl!,
      request: { verify: 'checksums', maxLagSeconds: 10, timeoutSeconds: 120 },
      onState: (entry, v) => say(`  cutover: ${stateAt(entry)}${entry.state === 'failed' && v.reason ? ` (${v.reason})` : ''}`),
    });
    const verdicts = view.verify ?? [];
    for (const v of verdicts)
      say(
        `  ${v.equal ? 'equal ' : 'DIFFER'}  ${v.table.padEnd(28)} ${String(v.rows).padStart(8)} rows by ${v.method === 'sql' ? 'SQL chunk checksums' : 'rows read into ferry'}`,
      );
    if (view.state === 'completed')
      say(`  the source is read-only; final position ${view.finalPosition}; fence to completed ${((view.fencedToCompletedMs ?? 0) / 1000).toFixed(1)}s`);

    stop.abort();
    await daemon.done;
    await daemon.close();
    offBars();
    offLog();
    const equal = view.state === 'completed' && verdicts.every((v) => v.equal);
    const streamed = committedAfter(committed, snap.position);
    say('');
    say('summary');
    say(`  snapshot:   ${snap.rows} rows in ${(snap.ms / 1000).toFixed(1)}s (${Math.round((snap.rows * 1000) / snap.ms)} rows/s)`);
    say(`  write load: ${committed.length} source transactions committed, ${committed.length - streamed} of them before the snapshot's position (in its copy)`);
    say(`  streaming:  ${streamed} source transactions committed after the snapshot's position, ${appliedTransactions} applied, max lag ${maxLag.toFixed(1)}s`);
    say(
      `  cutover:    ${view.state}${view.state === 'completed' ? `, all ${verdicts.length} tables equal (checksums)` : `: ${view.reason ?? ''}`}; ${view.history.map(stateAt).join(', ')}`,
    );
    say(`  total time: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    return equal ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.destroy()));
  }
}
