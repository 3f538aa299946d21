import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Logger } from 'pino';
import { parseConfig } from '../config.js';
import { FerryEventBus } from '../core/events.js';
import { comparePositions, formatPosition, type Position } from '../core/position.js';
import { openSink, openSource } from '../pipeline/endpoints.js';
import { runPipeline } from '../pipeline/coordinator.js';
import { logEvents } from '../ui/event-log.js';
import { showSnapshotProgress } from '../ui/snapshot-progress.js';
import { verifyTables } from '../verify/verify.js';
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
 * The main job on an embedded default: private MariaDB and Postgres, a sample database, ferry
 * snapshotting and streaming it while a write load runs, then a checksum comparison of every table.
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
    });
    const events = new FerryEventBus();
    const offLog = logEvents(events, o.log, 60_000);
    const offBars = showSnapshotProgress(events, say);
    let applied: { position: Position; commitTime: Date } | null = null;
    let appliedTransactions = 0;
    let maxLag = 0;
    let snapshot: { rows: number; ms: number } | null = null;
    events.on('snapshot-done', ({ rows, ms }) => (snapshot = { rows, ms }));
    events.on('batch-applied', (b) => {
      applied = b;
      appliedTransactions += b.transactions;
      maxLag = Math.max(maxLag, (Date.now() - b.commitTime.getTime()) / 1000);
    });

    const load = new AbortController();
    let written = 0;
    const loadConn = await mysql.createConnection({ uri: maria.url() });
    const loadDone = runWriteLoad(loadConn, load.signal, () => written++);
    say('running ferry (snapshot, then streaming) while a write load runs on the source …');
    const stop = new AbortController();
    const pipelineDone = runPipeline({ config, log: o.log, events, signal: stop.signal, until: 'stream' });
    pipelineDone.catch(() => load.abort());

    while (!snapshot) {
      await Promise.race([sleep(200), pipelineDone]);
    }
    const loadSeconds = o.loadSeconds ?? 8;
    for (let s = 0; s < loadSeconds; s++) {
      await sleep(1000);
      const lag = applied ? ((Date.now() - (applied as { commitTime: Date }).commitTime.getTime()) / 1000).toFixed(1) : '-';
      say(`  streaming: ${written} source transactions written, ${appliedTransactions} applied, lag ${lag}s`);
    }
    load.abort();
    await loadDone;
    await loadConn.end();

    const [rows] = await admin.query('SHOW MASTER STATUS');
    const headRow = (rows as { File: string; Position: number }[])[0]!;
    const head: Position = { kind: 'mysql', file: headRow.File, pos: Number(headRow.Position) };
    say(`load stopped at ${formatPosition(head)}; waiting for ferry to catch up …`);
    const deadline = Date.now() + 120_000;
    while (!applied || comparePositions((applied as { position: Position }).position, head) < 0) {
      if (Date.now() > deadline) throw new Error('ferry did not catch up within 120 s');
      await Promise.race([sleep(100), pipelineDone]);
    }
    await admin.end();

    say('caught up; comparing every table by checksum …');
    const source = await openSource(config, o.log);
    const sink = await openSink(config, o.log);
    const verdicts = await verifyTables(source, sink, await source.describeTables(), 'checksums');
    await Promise.all([source.close(), sink.close()]);
    for (const v of verdicts) say(`  ${v.equal ? 'equal ' : 'DIFFER'}  ${v.table.padEnd(28)} rows:checksum ${v.target}`);

    stop.abort();
    await pipelineDone;
    offBars();
    offLog();
    const equal = verdicts.every((v) => v.equal);
    const snap = snapshot as { rows: number; ms: number } | null;
    say('');
    say('summary');
    say(`  snapshot:   ${snap?.rows ?? 0} rows in ${((snap?.ms ?? 0) / 1000).toFixed(1)}s (${snap ? Math.round((snap.rows * 1000) / snap.ms) : 0} rows/s)`);
    say(`  streaming:  ${written} source transactions written under load, ${appliedTransactions} applied, max lag ${maxLag.toFixed(1)}s`);
    say(`  verify:     ${equal ? `all ${verdicts.length} tables equal (checksums)` : 'source and target DIFFER'}`);
    say(`  total time: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    return equal ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.destroy()));
  }
}
