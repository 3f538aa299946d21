import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, startWithAdmin } from '../helpers/admin.js';
import { type RunningCli, runCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { startWriteLoad } from '../helpers/write-load.js';
import {
  describeMssqlRoutes,
  ITEMS_DDL,
  type Route,
  type RouteDatabases,
  routeDatabases,
  seedItemsSql,
  targetTable,
  type TargetEngine,
  CROSS_ROUTES,
} from '../helpers/routes.js';

/**
 * POST /tables/{schema.table}/resync copies one table again while every table streams: under a write
 * load on the resynced table and on another, in many small chunks, after the operator damaged the
 * target table, and through a kill -9 mid-resync (the restarted ferry starts it over). Both source
 * engines, both target engines; the routes into SQL Server where FERRY_TEST_MSSQL_URL names one
 * (`npm run test:mssql`), reported skipped elsewhere.
 */

const SEED_ROWS = 3_000;
const CHUNK_ROWS = 100;
/** The write load updates and deletes seed rows up to this id; the operator damages those after it. */
const LOADED_ROWS = 2_000;
const OTHER_DDL = ITEMS_DDL.replace('items', 'other');
const DOCS_DDL = 'CREATE TABLE docs (id INT PRIMARY KEY, n INT NOT NULL, body TEXT NOT NULL)';
const DOCS = 400;
const FAMILY_DDL = `CREATE TABLE parent (id INT PRIMARY KEY);
  CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE ON UPDATE CASCADE)`;
const PARENTS = 100;
const CHILDREN = 1_000;
const FLIPS = 20;

/** Parents 1..PARENTS, and children 1..CHILDREN spread over them. */
function seedFamilySql(engine: Route['source']): string {
  const seq = (n: number) => (engine === 'mysql' ? `seq_1_to_${n}` : `generate_series(1, ${n}) AS s(seq)`);
  return `INSERT INTO parent SELECT seq FROM ${seq(PARENTS)}; INSERT INTO child SELECT seq, 1 + seq % ${PARENTS} FROM ${seq(CHILDREN)}`;
}

/** Documents of about 10 kB that do not compress below Postgres's TOAST threshold: an update of `n` alone leaves them out. */
function seedDocsSql(engine: Route['source']): string {
  return engine === 'mysql'
    ? `INSERT INTO docs SELECT seq, 0, REPEAT(MD5(seq), 300) FROM seq_1_to_${DOCS}`
    : `INSERT INTO docs SELECT g, 0, (SELECT string_agg(md5(random()::text || g || x), '') FROM generate_series(1, 300) x) FROM generate_series(1, ${DOCS}) g`;
}

interface ResyncStatus {
  id: string;
  table: string;
  state: 'running' | 'done';
  restarts: number;
  chunks: number;
  rows: number;
  readAhead: number;
  ms?: number;
}

async function status(admin: string): Promise<{ lagSeconds: number | null; resync: ResyncStatus | null }> {
  const { body } = await adminCall(admin, '/status');
  return { lagSeconds: body.lagSeconds as number | null, resync: body.resync as ResyncStatus | null };
}

async function count(db: RouteDatabases<TargetEngine>, table: string): Promise<number> {
  const [row] = await db.target.query(`SELECT count(*) AS n FROM ${targetTable(db, table)}`);
  return Number(row!.n);
}

/** Polls GET /status until the resync is done, sampling the pipeline's lag meanwhile. */
async function untilDone(admin: string): Promise<{ done: ResyncStatus; maxLag: number; samples: number }> {
  let maxLag = 0;
  let samples = 0;
  const done = await waitFor(
    'the resync to end',
    async () => {
      const s = await status(admin);
      maxLag = Math.max(maxLag, s.lagSeconds ?? 0);
      samples++;
      return s.resync?.state === 'done' ? s.resync : null;
    },
    180_000,
  );
  return { done, maxLag, samples };
}

async function expectEqual(configFile: string): Promise<void> {
  const differing = (await verifyWithCli(configFile, 'checksums')).tables.filter((t) => !t.equal);
  expect(differing, JSON.stringify(differing)).toEqual([]);
}

describe.each(CROSS_ROUTES)('resync of one table, $label', (route) => resyncs(route));
describeMssqlRoutes('resync of one table', (route) => resyncs(route));

function resyncs(route: Route<TargetEngine>): void {
  let db: RouteDatabases<TargetEngine>;
  const runs: RunningCli[] = [];
  let loadRuns = 0;
  beforeAll(async () => {
    db = await routeDatabases(route, `resync_${route.source}_${route.target}`);
    await db.source.query(
      `${ITEMS_DDL}; ${OTHER_DDL}; ${DOCS_DDL}; ${seedItemsSql(route.source, SEED_ROWS)}; ${seedItemsSql(route.source, 500).replace('items', 'other')}; ${seedDocsSql(route.source)}; ${FAMILY_DDL}; ${seedFamilySql(route.source)}`,
    );
  }, 60_000);
  afterAll(async () => {
    for (const r of runs) r.child.kill('SIGKILL');
    await db?.close();
  });

  it('copies a damaged table again under a write load on it and on another table, which keeps streaming; after a kill -9 mid-resync it starts over; equal by checksums', async () => {
    const config = db.config({ snapshot: { chunkRows: CHUNK_ROWS } });
    let { ferry, admin, configFile } = await startWithAdmin(config);
    runs.push(ferry);
    await waitFor('the stream', async () => (await adminCall(admin, '/status')).body.phase === 'streaming');
    const items = `${db.sourceSchema}.items`;

    // Refusals first: an unknown table (naming the replicated ones), and the right one is accepted.
    const unknown = await adminCall(admin, `/tables/${db.sourceSchema}.nope/resync`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(String(unknown.body.hint)).toContain(items);

    // The operator damaged the target table: rows deleted, rows changed. The load leaves those rows
    // alone: a source delete of a row the target lost would stop the stream before the resync begins.
    await db.target.query(`DELETE FROM ${targetTable(db, 'items')} WHERE id > ${LOADED_ROWS} AND id % 10 = 3`);
    await db.target.query(`UPDATE ${targetTable(db, 'items')} SET val = 'damaged' WHERE id > ${LOADED_ROWS} AND id % 10 = 5`);

    const loads = () => [
      startWriteLoad(db.source, 'items', { firstId: 1_000_000 + 100_000 * ++loadRuns, seedRows: LOADED_ROWS, pauseMs: 5 }),
      startWriteLoad(db.source, 'other', { firstId: 1_000_000 + 100_000 * loadRuns, pauseMs: 5 }),
    ];
    let [load, otherLoad] = loads();
    // Paused, the resync cannot get past its start: a second request finds it running.
    await adminCall(admin, '/pause', { method: 'POST', body: '{}' });
    const accepted = await adminCall(admin, `/tables/${items}/resync`, { method: 'POST', body: '{}' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expect(accepted.body).toMatchObject({ table: items });
    const busy = await adminCall(admin, `/tables/${db.sourceSchema}.other/resync`, { method: 'POST', body: '{}' });
    expect(busy.status).toBe(409);
    expect(String(busy.body.error)).toContain(`a resync of ${items} is running`);
    await adminCall(admin, '/resume', { method: 'POST', body: '{}' });

    // While it runs: the other table's rows keep arriving, and the lag is sampled.
    const otherAtStart = await count(db, 'other');
    const first = await untilDone(admin);
    const otherAtEnd = await count(db, 'other');
    expect(otherAtEnd, "the other table's rows kept arriving during the resync").toBeGreaterThan(otherAtStart);
    expect(first.done.chunks).toBeGreaterThanOrEqual(SEED_ROWS / CHUNK_ROWS);
    const transactions = [load!.transactions, otherLoad!.transactions];
    await Promise.all([load!.stop(), otherLoad!.stop()]);
    await db.waitCaughtUp();
    await expectEqual(configFile);

    // Again, with a kill -9 a few chunks in (paused first, so it cannot end meanwhile): the restarted
    // ferry finds the table held 'resyncing' in the checkpoint and starts the resync over by itself.
    [load, otherLoad] = loads();
    const again = await adminCall(admin, `/tables/${items}/resync`, { method: 'POST', body: '{}' });
    expect(again.status).toBe(202);
    await waitFor('3 chunks of the second resync', async () => {
      const { resync } = await status(admin);
      return resync !== null && resync.id === again.body.id && resync.chunks >= 3;
    });
    await adminCall(admin, '/pause', { method: 'POST', body: '{}' });
    const killedAt = (await status(admin)).resync!;
    expect(killedAt.state).toBe('running');
    // ferry status: the hold from the checkpoint, the progress from the running ferry's admin API (at its address, not port 0).
    const statusConfig = writeConfig({ ...config, admin: { listen: new URL(admin).host } });
    const held = new RegExp(`^held ${items}: being resynced since \\S+: (\\d+) chunks, (\\d+) rows copied so far$`, 'm');
    const shown = (await runCli(['status', '-c', statusConfig])).stdout;
    expect(shown).toMatch(held);
    expect(Number(held.exec(shown)![1])).toBeGreaterThanOrEqual(killedAt.chunks);
    ferry.child.kill('SIGKILL');
    expect((await ferry.done).signal).toBe('SIGKILL');
    ({ ferry, admin, configFile } = await startWithAdmin(config));
    runs.push(ferry);
    await waitFor('the resync to start over', async () => (await status(admin)).resync?.restarts === 1, 60_000);
    expect(ferry.output()).toContain(`resync of ${items} starts over`);
    const second = await untilDone(admin);
    await Promise.all([load!.stop(), otherLoad!.stop()]);
    await db.waitCaughtUp();
    await expectEqual(configFile);
    const metrics = (await adminCall(admin, '/metrics')).body.text as string;
    expect(metrics).toMatch(new RegExp(`^ferry_resync_rows_total\\{[^}]*table="${items}"[^}]*\\} ${second.done.rows}$`, 'm'));

    const sourceRows = Number((await db.source.query('SELECT count(*) AS n FROM items'))[0]!.n);
    console.log(
      `resync ${route.label}: a damaged table of ${sourceRows} rows under load (${transactions[0]} transactions on it, ${transactions[1]} on another table, ${otherAtEnd - otherAtStart} rows of which arrived meanwhile): ${first.done.rows} rows resynced in ${first.done.chunks} chunks in ${((first.done.ms ?? 0) / 1000).toFixed(1)}s, max lag ${first.maxLag.toFixed(2)}s over ${first.samples} samples of /status; kill -9 at chunk ${killedAt.chunks} of a second one (${killedAt.rows} rows), which started over: ${second.done.rows} rows in ${second.done.chunks} chunks, max lag ${second.maxLag.toFixed(2)}s (the backlog of the restart included); equal by checksums after each`,
    );
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  }, 300_000);

  it('resyncs a table of large values while only their other columns are updated: on a Postgres source such an update leaves them out, and its row is read as the stream meets it', async () => {
    const { ferry, admin, configFile } = await startWithAdmin(db.config({ snapshot: { chunkRows: CHUNK_ROWS } }));
    runs.push(ferry);
    await waitFor('the stream', async () => (await adminCall(admin, '/status')).body.phase === 'streaming');
    let stop = false;
    let updates = 0;
    const updater = (async () => {
      for (let i = 0; !stop; i++) {
        await db.source.query(`UPDATE docs SET n = n + 1 WHERE id IN (${1 + ((i * 7919) % DOCS)}, ${1 + ((i * 104729) % DOCS)})`);
        updates++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const accepted = await adminCall(admin, `/tables/${db.sourceSchema}.docs/resync`, { method: 'POST', body: '{}' });
    expect(accepted.status).toBe(202);
    const done = await waitFor('the resync of docs', async () => {
      const { resync } = await status(admin);
      return resync !== null && resync.id === accepted.body.id && resync.state === 'done' ? resync : null;
    });
    stop = true;
    await updater;
    await db.waitCaughtUp();
    await expectEqual(configFile);
    if (route.source === 'postgres') expect(done.readAhead).toBeGreaterThan(0);
    else expect(done.readAhead).toBe(0);
    console.log(
      `resync ${route.label}: ${DOCS} documents of ~10 kB under ${updates} updates of another column: ${done.rows} rows in ${done.chunks} chunks, ${done.readAhead} rows read as the stream met updates without them; equal by checksums`,
    );
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  }, 180_000);

  it("resyncs a child table while every key of its parent table is flipped and flipped back in one transaction, which cascades into the child's references: the rows moved to a key and away again are no row the target must have, ferry streams on; equal by checksums", async () => {
    const { ferry, admin, configFile } = await startWithAdmin(db.config({ snapshot: { chunkRows: CHUNK_ROWS } }));
    runs.push(ferry);
    await waitFor('the stream', async () => (await adminCall(admin, '/status')).body.phase === 'streaming');
    const accepted = await adminCall(admin, `/tables/${db.sourceSchema}.child/resync`, { method: 'POST', body: '{}' });
    expect(accepted.status).toBe(202);
    // A fixed number (a MySQL source's resync reads a chunk again while a parent's change cascades in its window).
    for (let i = 0; i < FLIPS; i++) await db.source.query('START TRANSACTION; UPDATE parent SET id = -id; UPDATE parent SET id = -id; COMMIT');
    const done = await waitFor('the resync of child', async () => {
      if (ferry.child.exitCode !== null) throw new Error(`ferry exited (${ferry.child.exitCode}):\n${ferry.output()}`);
      const { resync } = await status(admin);
      return resync !== null && resync.id === accepted.body.id && resync.state === 'done' ? resync : null;
    });
    await db.waitCaughtUp();
    await expectEqual(configFile);
    expect(ferry.child.exitCode).toBeNull();
    console.log(
      `resync ${route.label}: ${CHILDREN} children under ${FLIPS} flips of every parent key and back (${2 * PARENTS * FLIPS} key changes, ${2 * CHILDREN * FLIPS} cascaded updates): ${done.rows} rows in ${done.chunks} chunks; equal by checksums`,
    );
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  }, 120_000);
}
