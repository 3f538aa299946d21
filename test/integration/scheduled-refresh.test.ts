import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, startWithAdmin } from '../helpers/admin.js';
import { type RunningCli, runCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import { ROUTES, type RouteDatabases, routeDatabases } from '../helpers/routes.js';

const SALT = `it-refresh-salt-${process.pid}-5c2e8a`;
const REGIONS = ['eu', 'us', 'uk', 'fr'];
const hmac = (text: string) => createHmac('sha256', SALT).update(text).digest('hex');
const customer = (i: number, region = REGIONS[i % REGIONS.length]) => `(${i}, 'user${i}@example.com', '${region}')`;

interface RefreshStatus {
  next: string | null;
  last: { state: string; startedAt: string; rows?: number; error?: string } | null;
  lastSuccessAt: string | null;
  done: number;
  failed: number;
}

const route = ROUTES.find((r) => r.source === 'mysql' && r.target === 'postgres')!;

describe(`scheduled refreshes through the CLI, ${route.label}`, () => {
  const name = 'xrefresh';
  let db: RouteDatabases;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  const refresh = async (admin: string) => (await adminCall(admin, '/status')).body.refresh as RefreshStatus | null;
  /** The first refresh of the given outcome that started after `since` (ferry's clock and ours are one machine's). */
  const refreshAfter = (admin: string, since: Date, state: 'done' | 'failed') =>
    waitFor(`a refresh that started after ${since.toISOString()} to be ${state}`, async () => {
      const r = await refresh(admin);
      return r?.last?.state === state && new Date(r.last.startedAt) > since ? r : null;
    });
  const metric = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  it('reloads the masked, filtered tables at every tick (changes and deletes between ticks arrive), reports a failed refresh and succeeds at the next tick; an invalid schedule is a config error', async () => {
    const bad = await runCli(['check', '-c', writeConfig(db.config({ snapshot: { mode: 'always', tablePrep: 'truncate', schedule: '0 25 * * *' } }))]);
    expect(bad.code).toBe(2);
    const said = String(JSON.parse(bad.stderr.trim().split('\n').pop()!).msg);
    expect(said).toContain('snapshot.schedule: "0 25 * * *" is not a cron schedule');
    expect(said).toContain('e.g. "0 2 * * *"');

    await db.source.query('CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, region VARCHAR(10) NOT NULL)');
    await db.source.query(`INSERT INTO customers VALUES ${Array.from({ length: 400 }, (_, k) => customer(k + 1)).join(', ')}`);
    const started = await startWithAdmin(
      db.config({
        snapshot: { mode: 'always', tablePrep: 'truncate', schedule: '*/2 * * * * *' },
        transforms: {
          salt: SALT,
          rules: [{ match: `${db.sourceSchema}.customers`, mask: { email: 'hash' }, filter: [{ column: 'region', op: 'in', value: ['eu', 'uk'] }] }],
        },
      }),
    );
    ferry = started.ferry;
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

    console.log(
      `scheduled refreshes: ${recovered.done} done, ${recovered.failed} failed; rows of the refreshes checked: ${first.last!.rows}, ${second.last!.rows}, ${recovered.last!.rows}`,
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
