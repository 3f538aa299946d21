import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { ITEMS_DDL, type Route, type RouteDatabases, routeDatabases, seedItemsSql } from '../helpers/routes.js';

/**
 * Rows the target rejected under the `dead-letter` policy, after the fact: their later changes at the
 * source (updates, column-only updates, deletes) do not stop the stream. Both source engines, both
 * target engines.
 */
const ROUTES: readonly Route[] = [
  { source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' },
  { source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' },
];

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

describe.each(ROUTES)('dead-lettered rows, $label', (route) => {
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
