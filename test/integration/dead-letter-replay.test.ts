import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, startWithAdmin } from '../helpers/admin.js';
import { startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { startWriteLoad } from '../helpers/write-load.js';
import { ITEMS_DDL, type Route, type RouteDatabases, routeDatabases, seedItemsSql, CROSS_ROUTES } from '../helpers/routes.js';

/**
 * Rows the target rejected under the `dead-letter` policy, after the fact: their later changes at the
 * source (updates, column-only updates, deletes) do not stop the stream, and once the operator fixed
 * the target, POST /dead-letters/replay reads them again from the source, under a write load and
 * through kill -9, until the tables verify equal. Both source engines, both target engines.
 */

/** A table with a large column: a Postgres update that leaves it alone sends it as an unchanged TOAST value (a column-only update). */
const DOCS_DDL = 'CREATE TABLE docs (id INT PRIMARY KEY, n INT NOT NULL, body TEXT NOT NULL)';

/** A body past Postgres's TOAST threshold that does not compress below it. */
function bigBody(route: Route): string {
  return route.source === 'postgres' ? "(SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 200) g)" : "REPEAT('b', 6400)";
}

async function started(config: string): Promise<RunningCli> {
  const ferry = startCli(['run', '-c', config]);
  await waitFor('the stream to start', async () => /streaming from/.test(ferry.output())).catch((err: Error) => {
    throw new Error(`${err.message}; ferry said: ${ferry.output()}`);
  });
  return ferry;
}

async function letterKeys(db: RouteDatabases, table: string): Promise<number[]> {
  const rows = await db.target.query(
    `SELECT row_key FROM ferry.ferry_dead_letters WHERE pipeline = '${db.name}' AND table_name = '${db.sourceSchema}.${table}' AND replayed_at IS NULL ORDER BY id`,
  );
  return rows.map((r) => Number((typeof r.row_key === 'string' ? JSON.parse(r.row_key) : r.row_key).id));
}

describe.each(CROSS_ROUTES)('dead-lettered rows, $label', (route) => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(route, `dl_later_${route.source}_${route.target}`);
  });
  afterAll(async () => db?.close());

  it('their later updates, column-only updates and deletes at the source do not stop the stream; a delete of another row the target lacks still does', async () => {
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql(route.source, 20)}; ${DOCS_DDL}`);
    const config = writeConfig(db.config({ errors: { policy: 'dead-letter' } }));
    const ferry = await started(config);
    await db.waitCaughtUp();
    const t = db.targetSchema;
    await db.target.query(`ALTER TABLE ${t}.items ADD CONSTRAINT amount_cap CHECK (amount < 5000)`);
    await db.target.query(`ALTER TABLE ${t}.docs ADD CONSTRAINT n_cap CHECK (n < 100)`);

    await db.source.query(`BEGIN;
      INSERT INTO items VALUES (101, 1, 'a', 9000), (102, 1, 'b', 9000), (103, 1, 'c', 9000), (104, 1, 'd', 10);
      INSERT INTO docs VALUES (1, 500, ${bigBody(route)}), (2, 5, ${bigBody(route)}), (3, 700, ${bigBody(route)});
      COMMIT`);
    await db.waitCaughtUp();
    expect(await letterKeys(db, 'items')).toEqual([101, 102, 103]);
    expect(await letterKeys(db, 'docs')).toEqual([1, 3]);

    // Later changes of the rejected rows, each applied before the next is made (so none is coalesced with another), then several together.
    for (const change of [
      "UPDATE items SET val = CONCAT(val, '+') WHERE id = 101",
      'DELETE FROM items WHERE id = 101',
      'UPDATE docs SET n = n + 1 WHERE id = 1',
      'DELETE FROM docs WHERE id = 1',
      'UPDATE items SET amount = 9500 WHERE id = 102; DELETE FROM items WHERE id = 103; UPDATE docs SET n = n + 1 WHERE id = 3',
    ]) {
      await db.source.query(`BEGIN; ${change}; COMMIT`);
      await db.waitCaughtUp();
    }
    await db.source.query("BEGIN; INSERT INTO items VALUES (105, 1, 'e', 20); COMMIT");
    await db.waitCaughtUp();
    const applied = await db.target.query(`SELECT id FROM ${t}.items WHERE id > 100 ORDER BY id`);
    expect(applied.map((r) => Number(r.id))).toEqual([104, 105]);
    // The updates of 101 and 102 were rejected again: letters of their own.
    expect(await letterKeys(db, 'items')).toEqual([101, 102, 103, 101, 102]);
    expect(ferry.output()).not.toMatch(/no row with/);

    // A row the target lost without a dead letter: its delete still stops, naming it.
    await db.target.query(`DELETE FROM ${t}.items WHERE id = 7`);
    await db.source.query('BEGIN; DELETE FROM items WHERE id = 7; COMMIT');
    const stopped = await ferry.done;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/no row with id = 7/);
  }, 120_000);
});

interface Letter {
  id: number;
  table: string;
  replayedAt: string | null;
}

async function letters(db: RouteDatabases): Promise<Letter[]> {
  const at = db.route.target === 'postgres' ? "to_char(replayed_at, 'YYYY-MM-DD HH24:MI:SS.US')" : 'CAST(replayed_at AS CHAR)';
  const rows = await db.target.query(`SELECT id, table_name, ${at} AS replayed_at FROM ferry.ferry_dead_letters WHERE pipeline = '${db.name}' ORDER BY id`);
  return rows.map((r) => ({ id: Number(r.id), table: String(r.table_name).split('.')[1]!, replayedAt: r.replayed_at === null ? null : String(r.replayed_at) }));
}

/** Each letter's replayed_at, for those replayed. */
const replayedAt = (all: Letter[]) => new Map(all.filter((l) => l.replayedAt !== null).map((l) => [l.id, l.replayedAt]));

interface ReplayAnswer {
  id: string;
  state: string;
  tables: Record<string, { letters: number; rows: number; deleted: number; rejected: number }>;
  left: Record<string, unknown>;
}

async function replay(admin: string, body: Record<string, unknown> = {}): Promise<{ status: number; body: ReplayAnswer }> {
  const r = await adminCall(admin, '/dead-letters/replay', { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, body: r.body as unknown as ReplayAnswer };
}

describe.each(CROSS_ROUTES)('POST /dead-letters/replay, $label', (route) => {
  let db: RouteDatabases;
  const runs: RunningCli[] = [];
  beforeAll(async () => {
    db = await routeDatabases(route, `dl_replay_${route.source}_${route.target}`);
  });
  afterAll(async () => {
    for (const r of runs) r.child.kill('SIGKILL');
    await db?.close();
  });

  it('reads the rejected rows again once the operator dropped the CHECK, under a write load and through kill -9: every letter replayed once, the tables equal by checksums', async () => {
    const seed = (table: string) => seedItemsSql(route.source, 2000).replace('items', table).replaceAll('% 1000', '% 500');
    await db.source.query(`${ITEMS_DDL}; ${ITEMS_DDL.replace('items', 'other')}; ${seed('items')}; ${seed('other')}`);
    const config = db.config({ errors: { policy: 'dead-letter' }, snapshot: { chunkRows: 10 } });
    let { ferry, admin, configFile } = await startWithAdmin(config);
    runs.push(ferry);
    await waitFor('the stream', async () => (await adminCall(admin, '/status')).body.phase === 'streaming');
    await db.waitCaughtUp();
    const t = db.targetSchema;
    // The rows already there pass (a CHECK added later checks them too): those written from `minId` on may be rejected.
    const constrain = (minId: number) =>
      Promise.all(
        ['items', 'other'].map((table) => db.target.query(`ALTER TABLE ${t}.${table} ADD CONSTRAINT ${table}_cap CHECK (amount < 900 OR id < ${minId})`)),
      );
    const fix = () => Promise.all(['items', 'other'].map((table) => db.target.query(`ALTER TABLE ${t}.${table} DROP CONSTRAINT ${table}_cap`)));
    let firstId = 100_000;
    const loads = () => ['items', 'other'].map((table) => startWriteLoad(db.source, table, { firstId: (firstId += 100_000), seedRows: 2000, pauseMs: 5 }));
    /** Rows rejected under the load (most of which it deletes again soon), and 30 rows of each table it leaves alone, rejected too. */
    const rejectUnderLoad = async (atLeast: number) => {
      const before = (await letters(db)).length;
      const minId = firstId + 100_000;
      await constrain(minId);
      for (const table of ['items', 'other']) {
        const kept = Array.from({ length: 30 }, (_, i) => `(${minId + 50_000 + i}, 1, 'kept', 950)`).join(', ');
        await db.source.query(`BEGIN; INSERT INTO ${table} VALUES ${kept}; COMMIT`);
      }
      const running = loads();
      await waitFor(`${atLeast} dead letters of the load's rows`, async () => (await letters(db)).length >= before + 60 + atLeast, 120_000);
      await Promise.all(running.map((l) => l.stop()));
      await db.waitCaughtUp();
    };

    // Rows rejected under the load; then later changes of some of them at the source: updates (rejected again) and deletes.
    await rejectUnderLoad(40);
    await db.source.query("BEGIN; UPDATE items SET val = 'later', amount = amount + 1 WHERE id BETWEEN 250000 AND 250003; COMMIT");
    await db.source.query('BEGIN; DELETE FROM items WHERE id BETWEEN 250004 AND 250007; COMMIT');
    await db.waitCaughtUp();
    // Before the fix, a replay reads the rows again and the target rejects them again: new letters, the old ones marked.
    const other = `${db.sourceSchema}.other`;
    const open = (all: Letter[]) => all.filter((l) => l.table === 'other' && l.replayedAt === null).map((l) => l.id);
    const unfixed = open(await letters(db));
    const still = await replay(admin, { table: other, timeoutSeconds: 120 });
    expect(still.status, JSON.stringify(still.body)).toBe(200);
    const stillDone = still.body.tables[other]!;
    expect(stillDone.letters).toBe(unfixed.length);
    expect(stillDone.rows).toBeGreaterThanOrEqual(30);
    expect(stillDone.rejected).toBe(stillDone.rows);
    const first = await letters(db);
    expect(first.filter((l) => unfixed.includes(l.id)).every((l) => l.replayedAt !== null)).toBe(true);
    expect(open(first)).toHaveLength(stillDone.rejected);
    expect((await verifyWithCli(configFile)).equal).toBe(false);

    // The operator fixes the target; the load goes on through the replays.
    await fix();
    let running = loads();
    const items = await replay(admin, { table: `${db.sourceSchema}.items`, timeoutSeconds: 120 });
    expect(items.status, JSON.stringify(items.body)).toBe(200);
    const itemsDone = items.body.tables[`${db.sourceSchema}.items`]!;
    expect(itemsDone.letters).toBe(first.filter((l) => l.table === 'items').length);
    expect(itemsDone.rejected).toBe(0);
    expect(itemsDone.deleted).toBeGreaterThanOrEqual(4);
    expect(itemsDone.rows).toBeGreaterThanOrEqual(26);
    expect(Object.keys(items.body.tables)).toEqual([`${db.sourceSchema}.items`]);
    // kill -9 right after that replay committed: its letters stay replayed, once; the other table's are left.
    ferry.child.kill('SIGKILL');
    await ferry.done;
    const afterFirstKill = await letters(db);
    expect(afterFirstKill.filter((l) => l.table === 'items').every((l) => l.replayedAt !== null)).toBe(true);
    expect(open(afterFirstKill)).toEqual(open(first));
    ({ ferry, admin, configFile } = await startWithAdmin(config));
    runs.push(ferry);
    await waitFor('the stream', async () => (await adminCall(admin, '/status')).body.phase === 'streaming');

    // More rejections, then a replay of every table killed -9 as soon as it answered that it goes on.
    await Promise.all(running.map((l) => l.stop()));
    await rejectUnderLoad(30);
    await fix();
    running = loads();
    const busy = await replay(admin, { timeoutSeconds: 0 });
    expect(busy.status, JSON.stringify(busy.body)).toBe(202);
    expect((await replay(admin)).status).toBe(409);
    // Killed once its first chunks committed (or at its end, should it get there first).
    const marked = replayedAt(await letters(db)).size;
    for (let i = 0; i < 3000 && replayedAt(await letters(db)).size === marked; i++);
    ferry.child.kill('SIGKILL');
    await ferry.done;
    const atKill = await letters(db);
    ({ ferry, admin, configFile } = await startWithAdmin(config));
    runs.push(ferry);
    await waitFor('the stream', async () => (await adminCall(admin, '/status')).body.phase === 'streaming');
    const all = await replay(admin, { timeoutSeconds: 120 });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    await Promise.all(running.map((l) => l.stop()));
    await db.waitCaughtUp();

    // Every letter replayed, each once (its replayed_at as first set), and the tables equal.
    const end = await letters(db);
    expect(end.filter((l) => l.replayedAt === null)).toEqual([]);
    for (const [id, at] of [...replayedAt(afterFirstKill), ...replayedAt(atKill)]) expect(end.find((l) => l.id === id)!.replayedAt, `letter ${id}`).toBe(at);
    const verdict = await verifyWithCli(configFile);
    expect(verdict.equal, JSON.stringify(verdict.tables.filter((v) => !v.equal))).toBe(true);
    const again = await replay(admin);
    expect(again.status).toBe(200);
    expect(again.body.tables).toEqual({});
    const metrics = (await adminCall(admin, '/metrics')).body.text as string;
    expect(metrics).toMatch(/^ferry_dead_letters_replayed_total\{/m);

    const sum = (k: 'rows' | 'deleted' | 'letters') => [items, all].reduce((n, r) => n + Object.values(r.body.tables).reduce((m, x) => m + x[k], 0), 0);
    console.log(
      `replay ${route.label}: ${end.length} letters under the load (${first.length} before the first replay; a row the load updated again is rejected again, a letter each time), ${sum('letters')} letters replayed by the replays after the kills (${replayedAt(atKill).size - replayedAt(afterFirstKill).size} by the one killed -9 mid-way), ${sum('rows')} rows read again and applied, ${sum('deleted')} deleted by replay; each letter replayed once; equal by checksums; before the fix, a replay of the other table read ${stillDone.rows} rows again, all rejected again (new letters)`,
    );
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  }, 420_000);
});
