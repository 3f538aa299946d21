import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { tableName } from '../helpers/engine-sql.js';
import {
  describeMssqlRoutes,
  type Endpoint,
  MSSQL_ROUTES,
  ROUTES,
  type Route,
  routeDatabases,
  type RouteDatabases,
  type TargetEngine,
} from '../helpers/routes.js';

/**
 * InnoDB writes no binlog rows for what its foreign keys' actions change: ferry must run them on the
 * target itself. The schema has every action InnoDB has (SET DEFAULT it turns into RESTRICT): a
 * cascade chain three tables deep that goes on through a composite key, SET NULL on delete and on
 * update, and a self-referencing tree.
 */
const SCHEMA = `
  CREATE TABLE parent (id INT PRIMARY KEY);
  CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NULL,
    FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE SET NULL ON UPDATE CASCADE);
  CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(64) NOT NULL);
  CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL DEFAULT 0,
    updated TIMESTAMP NOT NULL DEFAULT '2020-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP,
    FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE ON UPDATE CASCADE);
  CREATE TABLE order_lines (order_id INT NOT NULL, line INT NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line),
    FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE ON UPDATE CASCADE);
  CREATE TABLE line_notes (id INT PRIMARY KEY, order_id INT NULL, line INT NULL, note VARCHAR(40) NOT NULL,
    FOREIGN KEY (order_id, line) REFERENCES order_lines(order_id, line) ON DELETE SET NULL ON UPDATE CASCADE);
  CREATE TABLE assignments (id INT PRIMARY KEY, customer_id INT NULL,
    FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE SET NULL ON UPDATE SET NULL);
  CREATE TABLE tree (id INT PRIMARY KEY, parent_id INT NULL, label VARCHAR(20) NOT NULL,
    FOREIGN KEY (parent_id) REFERENCES tree(id) ON DELETE CASCADE);`;

const CUSTOMERS = 200;
const ORDERS = 400;
const NODES = 300;

const SEED = `
  INSERT INTO customers SELECT seq, CONCAT('c', seq, '@example.com') FROM seq_1_to_${CUSTOMERS};
  INSERT INTO orders (id, customer_id, total) SELECT seq, 1 + (seq - 1) % ${CUSTOMERS}, seq FROM seq_1_to_${ORDERS};
  INSERT INTO order_lines SELECT o.seq, l.seq, o.seq + l.seq FROM seq_1_to_${ORDERS} o, seq_1_to_3 l;
  INSERT INTO line_notes SELECT o.seq * 10 + l.seq, o.seq, l.seq, 'note' FROM seq_1_to_${ORDERS} o, seq_1_to_3 l;
  INSERT INTO assignments SELECT seq, seq FROM seq_1_to_${CUSTOMERS};
  INSERT INTO tree SELECT seq, IF(seq <= 3, NULL, seq DIV 3), CONCAT('n', seq) FROM seq_1_to_${NODES};`;

/** One load transaction: new rows, then parents re-keyed and deleted, so every action fires (ids never collide). */
function loadTransaction(i: number): string {
  const c = 10_000 + i;
  const o = 10_000 + 2 * i;
  return `START TRANSACTION;
    INSERT INTO customers VALUES (${c}, 'new${i}@example.com');
    INSERT INTO orders (id, customer_id) VALUES (${o}, ${c}), (${o + 1}, ${c});
    INSERT INTO order_lines VALUES (${o}, 1, 1), (${o}, 2, 2), (${o + 1}, 1, 3);
    INSERT INTO line_notes VALUES (${100_000 + 3 * i}, ${o}, 1, 'n'), (${100_001 + 3 * i}, ${o}, 2, 'n'), (${100_002 + 3 * i}, ${o + 1}, 1, 'n');
    INSERT INTO assignments VALUES (${10_000 + i}, ${c});
    UPDATE customers SET id = ${500_000 + i} WHERE id = ${1 + ((i * 7) % CUSTOMERS)};
    UPDATE orders SET id = ${500_000 + i} WHERE id = ${1 + ((i * 11) % ORDERS)};
    UPDATE orders SET id = ${700_000 + i} WHERE id = ${o - 6};
    DELETE FROM customers WHERE id = ${1 + ((i * 13) % CUSTOMERS)};
    DELETE FROM customers WHERE id = ${c - 5};
    DELETE FROM order_lines WHERE order_id = ${o - 3} AND line = 1;
    INSERT INTO tree SELECT ${1000 + i}, id, 'new' FROM tree WHERE id = ${1 + ((i * 29) % NODES)};
    DELETE FROM tree WHERE id = ${4 + ((i * 17) % (NODES - 3))};
    COMMIT;`;
}

/** Rows per table at one end, so the test can show the actions did happen (not only that both ends agree). */
async function counts(e: Endpoint<TargetEngine>, schema: string): Promise<Record<string, number>> {
  const tables = ['child', 'customers', 'orders', 'order_lines', 'line_notes', 'assignments', 'tree'];
  const rows = await e.query(`SELECT ${tables.map((t) => `(SELECT count(*) FROM ${tableName(e.engine, schema, t)}) AS ${t}`).join(', ')}`);
  return Object.fromEntries(tables.map((t) => [t, Number(rows[0]![t])]));
}

function referentialActions(route: Route<TargetEngine>): void {
  const name = `refact_${route.target}`;
  let db: RouteDatabases<TargetEngine>;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => db?.close());

  it('follows foreign keys added and dropped mid-stream (ALTER TABLE), without a restart', async () => {
    await db.source.query(`CREATE TABLE p2 (id INT PRIMARY KEY); CREATE TABLE c2 (id INT PRIMARY KEY, p INT);
      INSERT INTO p2 VALUES (1), (2), (3); INSERT INTO c2 VALUES (10, 1), (20, 2), (30, 3)`);
    const pipeline = `${name}_ddl`;
    const config = writeConfig(db.config({ pipeline, tables: { include: [`${db.sourceSchema}.p2`, `${db.sourceSchema}.c2`] } }));
    const t = tableName(route.target, db.targetSchema, 'c2');
    const ferry = startCli(['run', '-c', config]);
    // ferry reads a changed table's foreign keys when it reaches the ALTER: each step waits for it.
    const step = async (sql: string) => {
      await db.source.query(sql);
      await db.waitCaughtUp(60_000, pipeline);
    };
    try {
      await waitFor('the stream to start', async () => (await db.checkpoint(pipeline))?.phase === 'stream' && /streaming from/.test(ferry.output()));
      await step('ALTER TABLE c2 ADD CONSTRAINT c2_p FOREIGN KEY (p) REFERENCES p2(id) ON DELETE CASCADE');
      await step('DELETE FROM p2 WHERE id = 1');
      await step('ALTER TABLE c2 DROP FOREIGN KEY c2_p');
      await step('DELETE FROM p2 WHERE id = 2');
      await step(`SET SESSION foreign_key_checks = 0;
        ALTER TABLE c2 ADD CONSTRAINT c2_p2 FOREIGN KEY (p) REFERENCES p2(id) ON DELETE SET NULL;
        SET SESSION foreign_key_checks = 1;`);
      await step('DELETE FROM p2 WHERE id = 3');
      // Cascaded while the key existed; left alone once it was dropped (as at the source); set NULL by the second key.
      expect(await db.source.query('SELECT id, p FROM c2 ORDER BY id')).toEqual([
        { id: 20, p: 2 },
        { id: 30, p: null },
      ]);
      expect(await db.target.query(`SELECT id, p FROM ${t} ORDER BY id`)).toEqual([
        { id: 20, p: 2 },
        { id: 30, p: null },
      ]);
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
    }
  });

  it('runs ON DELETE/UPDATE CASCADE and SET NULL on the target, chained and self-referencing, under a write load with kill -9 mid-stream; ends equal by checksums', async () => {
    await db.source.query(SCHEMA);
    await db.source.query('INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1), (20, 2);');
    await db.source.query(SEED);
    const config = writeConfig(
      db.config({
        apply: { batchMaxRows: 500, batchMaxMs: 20 },
        tables: {
          include: ['parent', 'child', 'customers', 'orders', 'order_lines', 'line_notes', 'assignments', 'tree'].map((n) => `${db.sourceSchema}.${n}`),
        },
      }),
    );
    const t = (table: string) => tableName(route.target, db.targetSchema, table);

    let ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => (await db.checkpoint())?.phase === 'stream' && /streaming from/.test(ferry.output()));

    // The issue's reproduction: one SET NULL, one ON UPDATE CASCADE.
    await db.source.query('DELETE FROM parent WHERE id = 1; UPDATE parent SET id = 3 WHERE id = 2;');
    await db.waitCaughtUp();
    expect(await db.target.query(`SELECT id, parent_id FROM ${t('child')} ORDER BY id`)).toEqual([
      { id: 10, parent_id: null },
      { id: 20, parent_id: 3 },
    ]);

    let i = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        await db.source.query(loadTransaction(i++));
        await sleep(5);
      }
    })();
    const phases: string[] = [];
    try {
      for (let kill = 0; kill < 3; kill++) {
        await sleep(700 + Math.random() * 1500);
        phases.push((await db.checkpoint())?.phase ?? 'none');
        ferry.child.kill('SIGKILL');
        expect((await ferry.done).signal).toBe('SIGKILL');
        ferry = startCli(['run', '-c', config]);
        await waitFor('the stream to start again', async () => /streaming from/.test(ferry.output()));
      }
      await sleep(1000);
    } finally {
      stop = true;
      await load;
    }
    await db.waitCaughtUp(120_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${ferry.output().slice(-3000)}`);
    });
    const verdict = await verifyWithCli(config);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);

    const source = await counts(db.source, db.sourceSchema);
    const target = await counts(db.target, db.targetSchema);
    // Without the actions the target would keep every seeded child row: these must have gone or moved.
    const orphans = await db.target.query(
      `SELECT count(*) AS n FROM ${t('orders')} o WHERE NOT EXISTS (SELECT 1 FROM ${t('customers')} c WHERE c.id = o.customer_id)`,
    );
    const nulled = await db.target.query(`SELECT count(*) AS n FROM ${t('line_notes')} WHERE order_id IS NULL`);
    console.log(
      `referential actions ${route.label}: ${i} load transactions, kills at ${phases.join(', ')}; rows at the source ${JSON.stringify(source)}, at the target ${JSON.stringify(target)}; notes set NULL: ${Number(nulled[0]!.n)}`,
    );
    expect(phases).toEqual(['stream', 'stream', 'stream']);
    expect(i).toBeGreaterThan(20);
    expect(Number(orphans[0]!.n)).toBe(0);
    expect(Number(nulled[0]!.n)).toBeGreaterThan(0);
    expect(target).toEqual(source);
    if (route.target === 'mysql') {
      // Kept ON UPDATE between MySQL engines; the cascades (which InnoDB runs without it) left it alone: verify compares it.
      const [extra] = await db.target.query(
        `SELECT EXTRA AS extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${db.targetSchema}' AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'updated'`,
      );
      expect(String(extra!.extra).toLowerCase()).toContain('on update current_timestamp');
    }
    expect(verdict.tables.filter((v) => !v.equal)).toEqual([]);
    expect(verdict.equal).toBe(true);
  });
}

describe.each(ROUTES.filter((r) => r.source === 'mysql'))('referential actions of the source, $label', referentialActions);
describeMssqlRoutes(
  'referential actions of the source',
  referentialActions,
  MSSQL_ROUTES.filter((r) => r.source === 'mysql'),
);
