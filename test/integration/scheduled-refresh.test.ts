import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, startWithAdmin } from '../helpers/admin.js';
import { type RunningCli, runCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import { ROUTES, type Route, type RouteDatabases, routeDatabases } from '../helpers/routes.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const SALT = `it-refresh-salt-${process.pid}-5c2e8a`;
const REGIONS = ['eu', 'us', 'uk', 'fr'];
const hmac = (text: string) => createHmac('sha256', SALT).update(text).digest('hex');
const customer = (i: number, region = REGIONS[i % REGIONS.length]) => `(${i}, 'user${i}@example.com', '${region}')`;

const HOOK_SECRET = `it-refresh-hook-${process.pid}`;

interface RefreshStatus {
  next: string | null;
  last: { state: string; startedAt: string; rows?: number; error?: string } | null;
  lastSuccessAt: string | null;
  done: number;
  failed: number;
}

const refresh = async (admin: string) => (await adminCall(admin, '/status')).body.refresh as RefreshStatus | null;
/** The first refresh of the given outcome that started after `since` (ferry's clock and ours are one machine's). */
const refreshAfter = (admin: string, since: Date, state: 'done' | 'failed') =>
  waitFor(`a refresh that started after ${since.toISOString()} to be ${state}`, async () => {
    const r = await refresh(admin);
    return r?.last?.state === state && new Date(r.last.startedAt) > since ? r : null;
  });
const metric = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

/** The route's databases for one describe block, and the ferry it starts, killed whatever happens. */
function withRoute(route: Route, name: string) {
  const run = { db: undefined as unknown as RouteDatabases, ferry: undefined as RunningCli | undefined };
  beforeAll(async () => {
    run.db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    run.ferry?.child.kill('SIGKILL');
    await run.db?.close();
  });
  return run;
}

const route = ROUTES.find((r) => r.source === 'mysql' && r.target === 'postgres')!;

describe(`scheduled refreshes through the CLI, ${route.label}`, () => {
  const name = 'xrefresh';
  const run = withRoute(route, name);

  it('reloads the masked, filtered tables at every tick (changes and deletes between ticks arrive), reports a failed refresh and succeeds at the next tick, each notified signed; an invalid schedule is a config error', async () => {
    const { db } = run;
    const bad = await runCli(['check', '-c', writeConfig(db.config({ snapshot: { mode: 'always', tablePrep: 'truncate', schedule: '0 25 * * *' } }))]);
    expect(bad.code).toBe(2);
    const said = String(JSON.parse(bad.stderr.trim().split('\n').pop()!).msg);
    expect(said).toContain('snapshot.schedule: "0 25 * * *" is not a cron schedule');
    expect(said).toContain('e.g. "0 2 * * *"');

    await db.source.query('CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, region VARCHAR(10) NOT NULL)');
    await db.source.query(`INSERT INTO customers VALUES ${Array.from({ length: 400 }, (_, k) => customer(k + 1)).join(', ')}`);
    const hook = await startReceiver(HOOK_SECRET);
    const started = await startWithAdmin(
      db.config({
        snapshot: { mode: 'always', tablePrep: 'truncate', schedule: '*/2 * * * * *' },
        notify: { webhooks: [{ url: hook.url, secret: HOOK_SECRET, events: ['refresh-started', 'refresh-done', 'refresh-failed'] }] },
        transforms: {
          salt: SALT,
          rules: [{ match: `${db.sourceSchema}.customers`, mask: { email: 'hash' }, filter: [{ column: 'region', op: 'in', value: ['eu', 'uk'] }] }],
        },
      }),
    );
    const ferry = (run.ferry = started.ferry);
    const { admin, configFile } = started;

    const first = await refreshAfter(admin, new Date(0), 'done');
    expect(first.last!.rows).toBe(200);
    expect(first.next).not.toBeNull();

    // Between ticks: a changed email, deleted rows (kept and filtered out), new rows, a row moved into the filter and one out of it.
    await db.source.query(`UPDATE customers SET email = 'changed@example.com' WHERE id = 2`);
    await db.source.query('DELETE FROM customers WHERE id IN (4, 6, 7)');
    await db.source.query(`INSERT INTO customers VALUES ${customer(1001, 'eu')}, ${customer(1002, 'us')}`);
    await db.source.query(`UPDATE customers SET region = 'uk' WHERE id = 3`);
    await db.source.query(`UPDATE customers SET region = 'fr' WHERE id = 10`);
    const changed = new Date();
    const second = await refreshAfter(admin, changed, 'done');
    // 200 kept, less 4 and 6 deleted and 10 moved out, plus 1001 and 3.
    expect(second.last!.rows).toBe(199);

    // The target rejects every row for a while: the refresh fails, ferry stays up, the next tick after the fix succeeds.
    // (A CHECK, not a trigger: the snapshot's session skips the target's triggers.)
    await db.target.query(`ALTER TABLE ${db.targetSchema}.customers ADD CONSTRAINT refused_by_the_test CHECK (id < 0) NOT VALID`);
    const broken = new Date();
    const failed = await refreshAfter(admin, broken, 'failed');
    expect(failed.last!.error).toContain('refused_by_the_test');
    expect(failed.failed).toBeGreaterThanOrEqual(1);
    const status = (await adminCall(admin, '/status')).body;
    expect((status.lastError as { message: string }).message).toContain('refused_by_the_test');
    expect(ferry.child.exitCode).toBeNull();
    await db.source.query('DELETE FROM customers WHERE id = 8');
    await db.target.query(`ALTER TABLE ${db.targetSchema}.customers DROP CONSTRAINT refused_by_the_test`);
    const fixed = new Date();
    const recovered = await refreshAfter(admin, fixed, 'done');
    expect(recovered.last!.rows).toBe(198);

    // The receiver got each refresh's start and its end, signed: every failed one started again at the next tick.
    await waitFor('the recovered refresh, notified', async () => hook.got.some((n) => n.kind === 'refresh-done' && n.startedAt === recovered.last!.startedAt));
    await hook.close();
    expect(hook.badSignatures).toEqual([]);
    // Started, ended, started, ended …: each end names its start.
    hook.got.forEach((n, i) => expect(n.kind === 'refresh-started', `notification ${i}: ${n.kind}`).toBe(i % 2 === 0));
    hook.got.forEach((n, i) => i % 2 === 1 && expect(n.startedAt).toBe(hook.got[i - 1]!.startedAt));
    const ends = hook.got.filter((n) => n.kind !== 'refresh-started');
    expect(hook.got.find((n) => n.kind === 'refresh-done')).toMatchObject({ pipeline: name, rows: 200, tables: 1 });
    const failures = hook.got.filter((n) => n.kind === 'refresh-failed');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    for (const f of failures) expect(f).toMatchObject({ errorKind: expect.any(String), message: expect.stringContaining('refused_by_the_test') });
    const retryGaps = failures.map((f) => {
      const next = hook.got[hook.got.indexOf(f) + 1]!;
      return new Date(next.startedAt as string).getTime() - new Date(f.endedAt as string).getTime();
    });
    // The next tick of */2 is at most 2 s after a failure ended (and never the same run again).
    for (const gap of retryGaps) expect(gap).toBeGreaterThan(0);
    for (const gap of retryGaps) expect(gap).toBeLessThanOrEqual(2000 + 2000);

    console.log(
      `scheduled refreshes: ${recovered.done} done, ${recovered.failed} failed; rows of the refreshes checked: ${first.last!.rows}, ${second.last!.rows}, ${recovered.last!.rows}; ${hook.got.length} refresh notifications signed (${ends.filter((n) => n.kind === 'refresh-done').length} done, ${failures.length} failed, each failure started again ${retryGaps.map((g) => `${(g / 1000).toFixed(1)} s`).join(', ')} after it ended)`,
    );
    const metrics = (await adminCall(admin, '/metrics')).body.text as string;
    const labels = `pipeline="${name}"`;
    expect(metric(metrics, `ferry_refreshes_total{outcome="done",${labels}}`)).toBeGreaterThanOrEqual(3);
    expect(metric(metrics, `ferry_refreshes_total{outcome="failed",${labels}}`)).toBeGreaterThanOrEqual(1);
    expect(metric(metrics, `ferry_refresh_last_success_timestamp_seconds{${labels}}`)).toBeGreaterThanOrEqual(fixed.getTime() / 1000);
    expect(metric(metrics, `ferry_refresh_next_timestamp_seconds{${labels}}`)).toBeGreaterThan(fixed.getTime() / 1000);
    const log = ferry.output();
    expect(log.match(/refresh done: /g)!.length).toBeGreaterThanOrEqual(3);
    expect(log).toMatch(/refresh failed \(.*refused_by_the_test/);

    // Stopped between ticks (SIGTERM waits for a running refresh), the target is the last refresh's copy.
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    const source = await rowsAsText(db.source, db.sourceSchema, 'customers', ['id', 'email', 'region']);
    const expected = source.filter((r) => r.region === 'eu' || r.region === 'uk').map((r): Record<string, string | null> => ({ ...r, email: hmac(r.email!) }));
    expect(await rowsAsText(db.target, db.targetSchema, 'customers', ['id', 'email', 'region'])).toEqual(expected);
    expect(expected.map((r) => r.id)).not.toContain('8');
    expect(expected.map((r) => r.id)).toContain('3');
    const verdict = await verifyWithCli(configFile);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    expect(verdict.tables[0]).toMatchObject({ method: 'transforms', rows: 198 });
  });
});

const fromPostgres = ROUTES.find((r) => r.source === 'postgres' && r.target === 'mysql')!;

describe(`scheduled refreshes from a Postgres source through the CLI, ${fromPostgres.label}`, () => {
  const name = 'xrefresh_pg';
  const run = withRoute(fromPostgres, name);
  /** WAL the test writes between ticks, in messages no table holds. */
  const WAL_BYTES = 8 * 1024 * 1024;

  it("drops and creates the target tables at every tick (a column dropped and one added between ticks arrive); no slot is left between ticks to hold WAL, not even an older ferry's", async () => {
    const { db } = run;
    const slotName = `ferry_${name}`;
    await db.source.query(`CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT NOT NULL, legacy TEXT);
      INSERT INTO accounts SELECT g, 'owner' || g, 'old' FROM generate_series(1, 100) g`);
    // The permanent slot an older ferry kept between ticks: the first refresh drops it.
    await db.source.query(`SELECT pg_create_logical_replication_slot('${slotName}', 'pgoutput')`);
    const slots = async () =>
      (await db.source.query(`SELECT slot_name AS name, temporary FROM pg_replication_slots WHERE database = current_database()`)) as {
        name: string;
        temporary: boolean;
      }[];
    expect(await slots()).toEqual([{ name: slotName, temporary: false }]);
    const walLsn = async () => String((await db.source.query('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn);
    const lsn = (text: string) => text.split('/').reduce((v, part) => (v << 32n) | BigInt(`0x${part}`), 0n);
    const started = await startWithAdmin(db.config({ snapshot: { mode: 'always', tablePrep: 'drop-and-create', schedule: '*/3 * * * * *' } }));
    run.ferry = started.ferry;
    const { admin } = started;

    const first = await refreshAfter(admin, new Date(0), 'done');
    expect(first.last!.rows).toBe(100);

    // Between two ticks (none started meanwhile, or the window is tried again at the next), WAL is
    // written and no slot of this database is there to hold it: the refresh's slot went with its snapshot.
    const between = await waitFor('WAL written between two ticks, with no slot', async () => {
      const r = await refresh(admin);
      if (r?.last?.state !== 'done' || (await slots()).length > 0) return null;
      const from = await walLsn();
      await db.source.query(`SELECT pg_logical_emit_message(false, 'ferry-test', repeat('x', ${WAL_BYTES / 8})) FROM generate_series(1, 8)`);
      const left = await slots();
      const still = (await refresh(admin))?.last?.startedAt === r.last.startedAt;
      return still && left.length === 0 ? { written: lsn(await walLsn()) - lsn(from) } : null;
    });
    expect(Number(between.written)).toBeGreaterThanOrEqual(WAL_BYTES);

    // A column dropped and one added at the source; the next refresh's tables are created as the source's are now.
    await db.source.query(`ALTER TABLE accounts DROP COLUMN legacy, ADD COLUMN tier TEXT NOT NULL DEFAULT 'basic';
      UPDATE accounts SET tier = 'gold' WHERE id % 10 = 0`);
    const since = new Date();
    const second = await refreshAfter(admin, since, 'done');
    expect(second.last!.rows).toBe(100);
    await waitFor('no slot after the next tick', async () => (await slots()).length === 0);

    const columns = await db.target.query(
      `SELECT column_name AS name FROM information_schema.columns WHERE table_schema = '${db.targetSchema}' AND table_name = 'accounts' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => c.name)).toEqual(['id', 'owner', 'tier']);
    expect(await db.target.query(`SELECT tier, CAST(count(*) AS CHAR) AS n FROM ${db.targetSchema}.accounts GROUP BY tier ORDER BY tier`)).toEqual([
      { tier: 'basic', n: '90' },
      { tier: 'gold', n: '10' },
    ]);
    console.log(
      `scheduled refreshes from Postgres: ${second.done} done; the older ferry's slot ${slotName} dropped by the first; between ticks ${(Number(between.written) / 1048576).toFixed(1)} MiB of WAL written and no slot held it; the target's columns ${columns.map((c) => c.name).join(', ')}`,
    );
  });
});
