import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleValue } from '../helpers/exposition.js';
import { startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import {
  describeMssqlRoutes,
  ITEMS_DDL,
  routeDatabases,
  seedItemsSql,
  targetTable,
  type Route,
  type RouteDatabases,
  type TargetEngine,
  CROSS_ROUTES,
} from '../helpers/routes.js';

/**
 * A target that rejects rows the source has (a CHECK and a unique key the operator added there, a
 * column made narrower, a NOT NULL the source lacks), under the error policies: `stop` names the
 * table, key and cause and keeps the checkpoint before the row; `dead-letter` keeps the row in
 * ferry.ferry_dead_letters and applies the rest of its batch. One route per target engine; the
 * routes into SQL Server run where FERRY_TEST_MSSQL_URL names one (`npm run test:mssql`), and are
 * reported skipped elsewhere, the reason in their name.
 */

const NOTES_DDL = 'CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(64) NULL)';

/** The source log's head: where a checkpoint not past the next transaction stays at or before. */
async function sourceHead(db: RouteDatabases<TargetEngine>): Promise<(checkpoint: Record<string, unknown>) => boolean> {
  if (db.route.source === 'mysql') {
    const [head] = await db.source.query('SHOW MASTER STATUS');
    const seq = (f: string) => Number(f.split('.').pop());
    return (p) => seq(String(p.file)) < seq(String(head!.File)) || (p.file === head!.File && Number(p.pos) <= Number(head!.Position));
  }
  const [head] = await db.source.query("SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn");
  return (p) => BigInt(String(p.lsn)) <= BigInt(String(head!.lsn));
}

/** The operator's constraints on the target, which the source does not have. */
function constrainTarget(db: RouteDatabases<TargetEngine>): Promise<unknown> {
  const [items, notes] = [targetTable(db, 'items'), targetTable(db, 'notes')];
  const both = `ALTER TABLE ${items} ADD CONSTRAINT amount_cap CHECK (amount < 5000); CREATE UNIQUE INDEX items_val_u ON ${items} (val)`;
  const narrower = {
    postgres: `ALTER TABLE ${notes} ALTER COLUMN body TYPE varchar(8), ALTER COLUMN body SET NOT NULL`,
    mysql: `ALTER TABLE ${notes} MODIFY body VARCHAR(8) NOT NULL`,
    mssql: `ALTER TABLE ${notes} ALTER COLUMN body nvarchar(8) NOT NULL`,
  };
  return db.target.query(`${both}; ${narrower[db.route.target]}`);
}

/** notes.body as the source has it again: ferry refuses to start on a target column narrower than the source's. */
function widenNotes(db: RouteDatabases<TargetEngine>): Promise<unknown> {
  const notes = targetTable(db, 'notes');
  const wide = {
    postgres: `ALTER TABLE ${notes} ALTER COLUMN body TYPE varchar(64), ALTER COLUMN body DROP NOT NULL`,
    mysql: `ALTER TABLE ${notes} MODIFY body VARCHAR(64) NULL`,
    mssql: `ALTER TABLE ${notes} ALTER COLUMN body nvarchar(64) NULL`,
  };
  return db.target.query(wide[db.route.target]);
}

interface StoredLetter {
  table: string;
  key: Record<string, unknown>;
  operation: string;
  reason: string;
  row: Record<string, unknown>;
  message: string;
}

async function deadLetters(db: RouteDatabases<TargetEngine>): Promise<StoredLetter[]> {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
  const rows = await db.target.query(
    `SELECT table_name, row_key, operation, error_class, row_image, error_message, position FROM ferry.ferry_dead_letters WHERE pipeline = '${db.name}' ORDER BY id`,
  );
  return rows.map((r) => ({
    table: String(r.table_name),
    key: json(r.row_key),
    operation: String(r.operation),
    reason: String(r.error_class),
    row: json(r.row_image),
    message: String(r.error_message),
  }));
}

async function started(config: string): Promise<RunningCli> {
  const ferry = startCli(['run', '-c', config]);
  await waitFor('the stream to start', async () => /streaming from/.test(ferry.output())).catch((err: Error) => {
    throw new Error(`${err.message}; ferry said: ${ferry.output()}`);
  });
  return ferry;
}

describe.each(CROSS_ROUTES)('error policy, $label', (route) => {
  /** Each rejection under stop: what the operator does to the target, the row it refuses, what the stop says, and the fix. */
  const STOPS: StopCase[] = [
    {
      kind: 'a CHECK',
      table: 'items',
      constrain: (s: string) => `ALTER TABLE ${s}.items ADD CONSTRAINT amount_cap CHECK (amount < 5000)`,
      rows: "INSERT INTO items VALUES (51, 1, 'a', 10), (52, 1, 'b', 9000), (53, 1, 'c', 30)",
      cause: /amount_cap/,
      fix: (s: string) => `ALTER TABLE ${s}.items DROP CONSTRAINT amount_cap`,
    },
    {
      kind: 'a unique key',
      table: 'items',
      constrain: (s: string) => `CREATE UNIQUE INDEX items_val_u ON ${s}.items (val)`,
      rows: "INSERT INTO items VALUES (51, 1, 'a', 10), (52, 1, 'seed7', 20), (53, 1, 'c', 30)",
      cause: /collides with another row of the target on unique key items_val_u/,
      fix: (s: string) => (route.target === 'postgres' ? `DROP INDEX ${s}.items_val_u` : `DROP INDEX items_val_u ON ${s}.items`),
    },
    {
      kind: 'a narrower column',
      table: 'items',
      constrain: (s: string) =>
        route.target === 'postgres' ? `ALTER TABLE ${s}.items ALTER COLUMN val TYPE varchar(8)` : `ALTER TABLE ${s}.items MODIFY val VARCHAR(8) NOT NULL`,
      rows: "INSERT INTO items VALUES (51, 1, 'a', 10), (52, 1, 'far too long for it', 20), (53, 1, 'c', 30)",
      cause: /too long/i,
      fix: (s: string) =>
        route.target === 'postgres' ? `ALTER TABLE ${s}.items ALTER COLUMN val TYPE varchar(64)` : `ALTER TABLE ${s}.items MODIFY val VARCHAR(64) NOT NULL`,
    },
    {
      kind: 'a NOT NULL',
      table: 'notes',
      constrain: (s: string) =>
        route.target === 'postgres' ? `ALTER TABLE ${s}.notes ALTER COLUMN body SET NOT NULL` : `ALTER TABLE ${s}.notes MODIFY body VARCHAR(64) NOT NULL`,
      rows: "INSERT INTO notes VALUES (51, 'a'), (52, NULL), (53, 'c')",
      cause: /null/i,
      fix: (s: string) =>
        route.target === 'postgres' ? `ALTER TABLE ${s}.notes ALTER COLUMN body DROP NOT NULL` : `ALTER TABLE ${s}.notes MODIFY body VARCHAR(64) NULL`,
    },
  ];

  describe.each(STOPS)('stop (the default), $kind on the target', (c) => {
    let db: RouteDatabases;
    beforeAll(async () => {
      db = await routeDatabases(route, `ep_stop_${c.kind.toLowerCase().replace(/\W+/g, '_')}_${route.target}`);
    });
    afterAll(async () => db?.close());

    it('stops naming the table, the key and the cause, the checkpoint before the row; fixed and restarted, the tables are equal', () => stopsAndResumes(db, c));
  });

  describeDeadLetter(route);

  describe('dead-letter in a large transaction', () => {
    let db: RouteDatabases;
    beforeAll(async () => {
      db = await routeDatabases(route, `ep_dead_big_${route.target}`);
    });
    afterAll(async () => db?.close());

    it('5,000 rows in one source transaction, 3 of them rejected: 4,997 applied once, 3 dead-lettered; then all updated, 4 rejected', async () => {
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql(route.source, 10)}`);
      const config = writeConfig(db.config({ errors: { policy: 'dead-letter' } }));
      const ferry = await started(config);
      await db.waitCaughtUp();
      await db.target.query(`ALTER TABLE ${db.targetSchema}.items ADD CONSTRAINT amount_cap CHECK (amount < 5000)`);
      const bad = [1000, 2500, 5100];
      const amount = (n: string) => `CASE WHEN ${n} IN (${bad.join(', ')}) THEN 9000 ELSE ${n} % 1000 END`;
      const began = performance.now();
      await db.source.query(
        route.source === 'mysql'
          ? `BEGIN; INSERT INTO items SELECT seq, 1, CONCAT('b', seq), ${amount('seq')} FROM seq_101_to_5100; COMMIT`
          : `BEGIN; INSERT INTO items SELECT g, 1, 'b' || g, ${amount('g')} FROM generate_series(101, 5100) g; COMMIT`,
      );
      await db.waitCaughtUp();
      const ms = performance.now() - began;
      const [count] = await db.target.query(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${db.targetSchema}.items WHERE id > 100`);
      expect([Number(count!.n), Number(count!.d)]).toEqual([4997, 4997]);
      const letters = await deadLetters(db);
      expect(letters.map((l) => [l.key.id, l.reason, l.operation])).toEqual(bad.map((id) => [id, 'check', 'insert']));
      expect(await db.target.query(`SELECT id FROM ${db.targetSchema}.items WHERE id IN (${bad.join(', ')})`)).toEqual([]);
      console.log(`${route.label}: 5,000-row transaction, 3 rows dead-lettered, 4,997 applied in ${Math.round(ms)} ms`);

      // An update of all 5,000 rows (upserts through the stage): the 3 still refused, and one more.
      await db.source.query(`BEGIN; UPDATE items SET grp = 2, amount = CASE WHEN id = 3000 THEN 9999 ELSE amount END WHERE id > 100; COMMIT`);
      await db.waitCaughtUp();
      const updated = await deadLetters(db);
      expect(
        updated
          .slice(3)
          .map((l) => [l.key.id, l.reason, l.operation])
          .sort((a, b) => Number(a[0]) - Number(b[0])),
      ).toEqual([1000, 2500, 3000, 5100].map((id) => [id, 'check', 'upsert']));
      const [moved] = await db.target.query(`SELECT count(*) AS n FROM ${db.targetSchema}.items WHERE id > 100 AND grp = 2`);
      expect(Number(moved!.n)).toBe(4996);
      const [kept] = await db.target.query(`SELECT grp, amount FROM ${db.targetSchema}.items WHERE id = 3000`);
      expect([Number(kept!.grp), Number(kept!.amount)]).toEqual([1, 0]);
      ferry.child.kill('SIGTERM');
      expect((await ferry.done).code).toBe(0);
    });
  });
});

/**
 * dead-letter on `route`: a rejection of each kind in one source transaction, kept with its fields
 * and reported (metrics, log, GET /dead-letters, verify); the rest applied once; kill -9 after a
 * dead letter stores and applies nothing twice. SQL Server reports a CHECK as a constraint (547
 * also stands for a foreign key).
 */
function describeDeadLetter(route: Route<TargetEngine>): void {
  const check = route.target === 'mssql' ? 'constraint' : 'check';
  describe('dead-letter', () => {
    let db: RouteDatabases<TargetEngine>;
    beforeAll(async () => {
      db = await routeDatabases(route, `ep_dead_${route.source}_${route.target}`);
    });
    afterAll(async () => db?.close());

    it('keeps each rejected row with its fields, applies the rest of its batch, moves on; verify names the count; kill -9 duplicates nothing', async () => {
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql(route.source, 50)}; ${NOTES_DDL}; INSERT INTO notes VALUES (1, 'n1'), (2, 'n2')`);
      const config = writeConfig(
        db.config({ errors: { policy: 'stop', tables: { [`${db.sourceSchema}.*`]: 'dead-letter' } }, admin: { listen: '127.0.0.1:0' } }),
      );
      let ferry = await started(config);
      await db.waitCaughtUp();
      await constrainTarget(db);

      // One source transaction: rows the target takes, and one of each rejection among them.
      await db.source.query(`BEGIN;
      INSERT INTO items VALUES (51, 1, 'fine51', 10), (52, 1, 'fine52', 9000), (53, 1, 'seed1', 30), (54, 1, 'fine54', 40);
      UPDATE items SET amount = 7000 WHERE id = 2;
      UPDATE items SET amount = 1 WHERE id = 3;
      INSERT INTO notes VALUES (11, 'ok11'), (12, NULL), (13, 'far too long for eight'), (14, 'ok14');
      UPDATE notes SET body = 'ok1' WHERE id = 1;
      COMMIT`);
      await db.waitCaughtUp();

      const letters = await deadLetters(db);
      const s = db.sourceSchema;
      expect(letters.map(({ table, key, operation, reason }) => ({ table, key, operation, reason }))).toEqual(
        expect.arrayContaining([
          { table: `${s}.items`, key: { id: 52 }, operation: 'insert', reason: check },
          { table: `${s}.items`, key: { id: 53 }, operation: 'insert', reason: 'unique' },
          { table: `${s}.items`, key: { id: 2 }, operation: 'upsert', reason: check },
          { table: `${s}.notes`, key: { id: 12 }, operation: 'insert', reason: 'not-null' },
          { table: `${s}.notes`, key: { id: 13 }, operation: 'insert', reason: 'too-long' },
        ]),
      );
      expect(letters).toHaveLength(5);
      const letter52 = letters.find((l) => l.key.id === 52)!;
      expect(letter52.row).toMatchObject({ id: 52, grp: 1, val: 'fine52' });
      expect(Number(letter52.row.amount)).toBe(9000);
      expect(letter52.message).toMatch(/amount_cap/);
      expect(letters.find((l) => l.key.id === 13)!.row).toEqual({ id: 13, body: 'far too long for eight' });

      // The metrics count them by table and reason; the log names each.
      const admin = /admin API on (http:\/\/[\d.:]+)/.exec(ferry.output())![1]!;
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      const counted = (table: string, reason: string) => sampleValue(metrics, 'ferry_dead_letter_rows_total', { table: `${s}.${table}`, reason });
      expect([counted('items', check), counted('items', 'unique'), counted('notes', 'not-null'), counted('notes', 'too-long')]).toEqual([2, 1, 1, 1]);
      expect(counted('items', 'foreign-key')).toBe(0);
      expect(ferry.output()).toMatch(new RegExp(`2 row\\(s\\) of ${s}\\.items the target rejected \\(${check}\\) kept in ferry\\.ferry_dead_letters`));

      // GET /dead-letters: the last rows, oldest first, with their fields.
      const listed = (await (await fetch(`${admin}/dead-letters`)).json()) as {
        rows: { id: number; table: string; key: unknown; reason: string; row: unknown }[];
      };
      expect(listed.rows.map((r) => ({ table: r.table, key: r.key, reason: r.reason }))).toEqual(
        letters.map((l) => ({ table: l.table, key: l.key, reason: l.reason })),
      );
      expect(listed.rows.find((r) => (r.key as { id: number }).id === 13)!.row).toEqual({ id: 13, body: 'far too long for eight' });
      const lastTwo = (await (await fetch(`${admin}/dead-letters?limit=2`)).json()) as { rows: { id: number }[] };
      expect(lastTwo.rows.map((r) => r.id)).toEqual(listed.rows.slice(-2).map((r) => r.id));
      expect((await fetch(`${admin}/dead-letters?limit=0`)).status).toBe(400);

      // The rest of the batch arrived, once, in order.
      const items = await db.target.query(`SELECT id, val, amount FROM ${targetTable(db, 'items')} WHERE id > 50 OR id IN (2, 3) ORDER BY id`);
      expect(items.map((r) => [Number(r.id), String(r.val), Number(r.amount)])).toEqual([
        [2, 'seed2', 2],
        [3, 'seed3', 1],
        [51, 'fine51', 10],
        [54, 'fine54', 40],
      ]);
      const notes = await db.target.query(`SELECT id, body FROM ${targetTable(db, 'notes')} ORDER BY id`);
      expect(notes.map((r) => [Number(r.id), r.body])).toEqual([
        [1, 'ok1'],
        [2, 'n2'],
        [11, 'ok11'],
        [14, 'ok14'],
      ]);

      // verify: both tables not equal, naming their dead letters.
      const verdict = await verifyWithCli(config);
      expect(verdict.equal).toBe(false);
      const note = (table: string) => verdict.tables.find((t) => t.table === `${s}.${table}`)?.note ?? '';
      expect(note('items')).toMatch(/3 row\(s\) dead-lettered in ferry\.ferry_dead_letters/);
      expect(note('notes')).toMatch(/2 row\(s\) dead-lettered/);

      // A kill -9 right after a batch with a dead letter: restarted, nothing is stored or applied twice.
      // (ferry refuses to start on a target column narrower than the source's: the operator widens it back first.)
      await widenNotes(db);
      await db.source.query(`BEGIN; INSERT INTO items VALUES (60, 2, 'fine60', 6000), (61, 2, 'fine61', 61); COMMIT`);
      await waitFor('the dead letter of row 60', async () => (await deadLetters(db)).some((l) => l.key.id === 60));
      ferry.child.kill('SIGKILL');
      await ferry.done;
      ferry = await started(config);
      await db.source.query(`BEGIN; INSERT INTO items VALUES (62, 2, 'fine62', 62); COMMIT`);
      await db.waitCaughtUp();
      const after = await deadLetters(db);
      expect(after).toHaveLength(6);
      expect(after.filter((l) => l.key.id === 60)).toHaveLength(1);
      const tail = await db.target.query(`SELECT id FROM ${targetTable(db, 'items')} WHERE id >= 60 ORDER BY id`);
      expect(tail.map((r) => Number(r.id))).toEqual([61, 62]);
      ferry.child.kill('SIGTERM');
      expect((await ferry.done).code).toBe(0);
    });
  });
}

/** A rejection under stop, as the operator meets it: what they do to the target, the rows, what the stop says, and the fix. */
interface StopCase {
  readonly kind: string;
  readonly table: string;
  readonly constrain: (schema: string) => string;
  readonly rows: string;
  readonly cause: RegExp;
  readonly fix: (schema: string) => string;
}

/** `c` under stop: the stop names the table, the key and the cause, the checkpoint before the row; fixed and restarted, the tables are equal. */
async function stopsAndResumes(db: RouteDatabases<TargetEngine>, c: StopCase): Promise<void> {
  await db.source.query(`${ITEMS_DDL}; ${seedItemsSql(db.route.source, 50)}; ${NOTES_DDL}; INSERT INTO notes VALUES (1, 'n1')`);
  const config = writeConfig(db.config());
  const ferry = await started(config);
  await db.waitCaughtUp();
  await db.target.query(c.constrain(db.targetSchema));
  const notPast = await sourceHead(db);
  await db.source.query(`BEGIN; ${c.rows}; COMMIT`);

  const r = await ferry.done;
  expect(r.code).toBe(1);
  const stop = new RegExp(`target rejected a change to ${db.targetSchema}\\.${c.table}: the row with id = 52[: ].*`).exec(r.stderr)?.[0];
  expect(stop, r.stderr).toMatch(c.cause);
  expect(r.stderr).toMatch(/the checkpoint did not move past this change/);
  const stopped = await db.checkpoint();
  expect(notPast(stopped!.position!)).toBe(true);
  // Nothing of the transaction arrived: not even its rows the target would take.
  expect(await db.target.query(`SELECT id FROM ${targetTable(db, c.table)} WHERE id > 50`)).toEqual([]);

  await db.target.query(c.fix(db.targetSchema));
  const resumed = await started(config);
  await db.waitCaughtUp();
  const verdict = await verifyWithCli(config);
  expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
  resumed.child.kill('SIGTERM');
  expect((await resumed.done).code).toBe(0);
}

describeMssqlRoutes('error policy', (route) => {
  describe('stop (the default), a CHECK on the target', () => {
    let db: RouteDatabases<'mssql'>;
    beforeAll(async () => {
      db = await routeDatabases(route, `ep_stop_check_${route.source}_mssql`);
    });
    afterAll(async () => db?.close());

    it('stops naming the table, the key and the cause, the checkpoint before the row; fixed and restarted, the tables are equal', () =>
      stopsAndResumes(db, {
        kind: 'a CHECK',
        table: 'items',
        constrain: (s) => `ALTER TABLE [${s}].[items] ADD CONSTRAINT amount_cap CHECK (amount < 5000)`,
        rows: "INSERT INTO items VALUES (51, 1, 'a', 10), (52, 1, 'b', 9000), (53, 1, 'c', 30)",
        cause: /amount_cap/,
        fix: (s) => `ALTER TABLE [${s}].[items] DROP CONSTRAINT amount_cap`,
      }));
  });

  describeDeadLetter(route);
});
