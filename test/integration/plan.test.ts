import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../helpers/ferry.js';
import { routeDatabases, type RouteDatabases } from '../helpers/routes.js';

const MARIADB_TO_PG = { source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' } as const;
const PG_TO_MARIADB = { source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' } as const;

interface Report {
  tables: { source: { name: string }; columns: { name: string; targetType: string | null; verdict: string }[]; ddl: string[] }[];
  notCarried: { kind: string; name: string; action: string }[];
  summary: { columns: Record<string, number>; problems: number };
}

async function plan(config: Record<string, unknown>, json = false): Promise<{ code: number | null; stdout: string; stderr: string; report?: Report }> {
  const r = await runCli(['plan', '-c', writeConfig(config), ...(json ? ['--json'] : [])]);
  return { ...r, ...(json && r.code !== 2 ? { report: JSON.parse(r.stdout) as Report } : {}) };
}

/** Binlog events since `from` that name any of `names` (statements, table maps): a write ferry made there. */
async function binlogMentions(db: RouteDatabases, endpoint: 'source' | 'target', from: Record<string, unknown>, names: string[]): Promise<string[]> {
  const events = await db[endpoint].query(`SHOW BINLOG EVENTS IN '${String(from.File)}' FROM ${Number(from.Position)}`);
  return events.map((e) => String(e.Info)).filter((info) => names.some((n) => info.includes(n)));
}

describe('ferry plan: the assessment before a migration, reading both databases and writing nothing', () => {
  it('MariaDB → Postgres: names the trigger, view, routine, event, generated column and ON UPDATE with their actions, refuses the POINT column, exit 1; 0 once it is excluded', async () => {
    const db = await routeDatabases(MARIADB_TO_PG, 'plan_my');
    try {
      await db.source.query(`
        CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
        CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, qty INT NOT NULL, price DECIMAL(10,2) NOT NULL, total DECIMAL(12,2) AS (qty * price) STORED,
          FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE);
        CREATE TABLE places (id INT PRIMARY KEY, location POINT NOT NULL);
        CREATE TRIGGER orders_audit BEFORE INSERT ON orders FOR EACH ROW SET NEW.qty = GREATEST(NEW.qty, 1);
        CREATE VIEW big_orders AS SELECT * FROM orders WHERE qty > 10;
        CREATE PROCEDURE purge_orders() DELETE FROM orders WHERE qty = 0;
        CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM orders WHERE qty = 0;
        INSERT INTO customers (id, email) VALUES (1, 'a@example.com');`);
      const [before] = await db.source.query('SHOW MASTER STATUS');

      const text = await plan(db.config());
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).toMatch(/table plan_my\.places → plan_my\.places: REFUSED/);
      expect(text.stdout).toMatch(/location\s+point\s+—\s+unsupported\s+a column has type point|location\s+point\s+—\s+unsupported\s+.*point/);
      expect(text.stdout).toMatch(
        /trigger plan_my\.orders_audit \(table plan_my\.orders\)\n.*BEFORE INSERT.*\n\s+action: create it on the target at the cutover, once ferry has stopped, translated to Postgres SQL/,
      );
      expect(text.stdout).toMatch(/view plan_my\.big_orders\n.*\n\s+action: create it on the target, translated to Postgres SQL/);
      expect(text.stdout).toMatch(/routine plan_my\.purge_orders\n.*procedure.*\n\s+action: create it on the target/);
      expect(text.stdout).toMatch(/event plan_my\.nightly\n.*\n\s+action: after the cutover, schedule its work on the target/);
      expect(text.stdout).toMatch(/generated column plan_my\.orders\.total\n.*STORED.*\n\s+action: after the cutover, replace it with a generated column/);
      expect(text.stdout).toMatch(/on update plan_my\.customers\.updated_at\n.*\n\s+action: after the cutover, add a BEFORE UPDATE trigger/);
      expect(text.stdout).toMatch(/CREATE TABLE IF NOT EXISTS "plan_my"\."orders" \(/);
      expect(text.stdout).toMatch(
        /at the cutover \(finalizing\):\n\s+foreign-key orders_ibfk_1: FOREIGN KEY \("customer_id"\) REFERENCES "plan_my"\."customers" \("id"\) ON DELETE CASCADE/,
      );

      const json = await plan(db.config(), true);
      expect(json.code).toBe(1);
      const places = json.report!.tables.find((t) => t.source.name === 'places')!;
      expect(places.columns.find((c) => c.name === 'location')).toEqual(expect.objectContaining({ targetType: null, verdict: 'unsupported' }));
      expect(places.ddl).toEqual([]);
      const orders = json.report!.tables.find((t) => t.source.name === 'orders')!;
      expect(orders.columns.map((c) => [c.name, c.targetType, c.verdict])).toEqual([
        ['id', 'integer', 'exact'],
        ['customer_id', 'integer', 'exact'],
        ['qty', 'integer', 'exact'],
        ['price', 'numeric(10,2)', 'exact'],
        ['total', 'numeric(12,2)', 'exact'],
      ]);
      const kinds = json.report!.notCarried.map((n) => `${n.kind} ${n.name}`);
      for (const k of [
        'trigger plan_my.orders_audit',
        'view plan_my.big_orders',
        'routine plan_my.purge_orders',
        'event plan_my.nightly',
        'generated column plan_my.orders.total',
        'on update plan_my.customers.updated_at',
      ]) {
        expect(kinds).toContain(k);
      }
      expect(json.report!.summary.columns.unsupported).toBe(1);

      // ferry check runs the same analysis: the unsupported column is a problem, the rest warnings.
      const check = await runCli(['check', '-c', writeConfig(db.config())]);
      expect(check.code).toBe(2);
      expect(check.stdout).toMatch(/table plan_my\.places: .*point/);
      expect(check.stdout).toMatch(/\[warning: not carried: trigger\] plan_my\.orders_audit/);

      const without = db.config({ tables: { include: ['plan_my.*'], exclude: ['plan_my.places'] } });
      const ok = await plan(without, true);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.report!.summary.problems).toBe(0);
      expect((await runCli(['check', '-c', writeConfig(without)])).code).toBe(0);

      // A child whose cascading key's parent is not replicated: InnoDB's cascades would be lost.
      const severed = await plan(db.config({ tables: { include: ['plan_my.*'], exclude: ['plan_my.places', 'plan_my.customers'] } }));
      expect(severed.code).toBe(1);
      expect(severed.stdout).toMatch(
        /PROBLEM foreign key plan_my\.orders\.orders_ibfk_1\n.*ON DELETE CASCADE.*\n\s+action: include plan_my\.customers \(tables\.include\), or exclude plan_my\.orders/,
      );

      // Nothing written on either side: no event in the source's binlog names the database or the
      // pipeline's heartbeat, and the target has neither ferry's schema nor the tables.
      // (by name: other tests' pipelines beat into the shared server's ferry.ferry_heartbeat meanwhile; a heartbeat of this one would name plan_my)
      expect(await binlogMentions(db, 'source', before!, ['plan_my'])).toEqual([]);
      expect(await db.target.query("SELECT to_regnamespace('ferry') AS ferry, to_regnamespace('plan_my') AS tables")).toEqual([{ ferry: null, tables: null }]);
    } finally {
      await db.close();
    }
  });

  it('Postgres → MariaDB: names the trigger, view, function and generated column, carries point as text, refuses bit(80), exit 1; 0 without it', async () => {
    const db = await routeDatabases(PG_TO_MARIADB, 'plan_pg');
    try {
      await db.source.query(`
        CREATE TABLE items (id int PRIMARY KEY, price numeric(10,2) NOT NULL, qty int NOT NULL,
          total numeric GENERATED ALWAYS AS (price * qty) STORED, spot point, flags bit(80));
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
        CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
        CREATE VIEW cheap_items AS SELECT id FROM items WHERE price < 1;
        INSERT INTO items (id, price, qty) VALUES (1, 2.50, 3);`);
      const [before] = await db.target.query('SHOW MASTER STATUS');

      const text = await plan(db.config());
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).toMatch(/flags\s+bit\(80\)\s+bit\(80\)\s+unsupported\s+MySQL BIT holds at most 64 bits/);
      expect(text.stdout).toMatch(/spot\s+point\s+longtext\s+documented\s+longtext: the Postgres text form of point/);
      expect(text.stdout).toMatch(/total\s+numeric\s+—\s+lossy\s+a generated column/);
      expect(text.stdout).toMatch(
        /trigger public\.items\.items_touch\n.*BEFORE UPDATE.*\n\s+action: create it on the target at the cutover, once ferry has stopped, translated to MySQL SQL/,
      );
      expect(text.stdout).toMatch(/view public\.cheap_items\n.*\n\s+action: create it on the target, translated to MySQL SQL/);
      expect(text.stdout).toMatch(/routine public\.touch\(\)\n.*function.*\n\s+action: create it on the target/);
      expect(text.stdout).toMatch(
        /generated column public\.items\.total\n.*logical decoding does not send generated columns.*\n\s+action: after the cutover .*ALTER TABLE plan_pg_t\.items ADD COLUMN total/,
      );

      const check = await runCli(['check', '-c', writeConfig(db.config())]);
      expect(check.code).toBe(2);
      expect(check.stdout).toMatch(/\[column types\] table public\.items, column flags \(bit\(80\)\): MySQL BIT holds at most 64 bits/);

      await db.source.query('ALTER TABLE items DROP COLUMN flags');
      const ok = await plan(db.config(), true);
      expect(ok.code, ok.stderr).toBe(0);
      const items = ok.report!.tables.find((t) => t.source.name === 'items')!;
      expect(items.ddl.some((sql) => /^CREATE TABLE IF NOT EXISTS `plan_pg_t`\.`items`/.test(sql))).toBe(true);

      // Nothing written: no publication, slot or ferry schema at the source; no table, checkpoint or
      // binlog event for the pipeline in the target.
      expect(
        await db.source.query(`SELECT (SELECT count(*) FROM pg_publication)::int AS publications,
        (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())::int AS slots, to_regnamespace('ferry') AS ferry`),
      ).toEqual([{ publications: 0, slots: 0, ferry: null }]);
      expect(await db.target.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'plan_pg_t'")).toEqual([{ n: '0' }]);
      const checkpoints = await db.target.query("SELECT COUNT(*) AS n FROM ferry.ferry_checkpoint WHERE pipeline = 'plan_pg'").catch(() => [{ n: 0 }]);
      expect(Number(checkpoints[0]!.n)).toBe(0);
      expect(await binlogMentions(db, 'target', before!, ['plan_pg'])).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('a bad config or an unreachable database exits 2', async () => {
    const db = await routeDatabases(MARIADB_TO_PG, 'plan_bad');
    try {
      const missing = await plan({ ...db.config(), pipeline: undefined });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/pipeline/);
      const source = new URL(db.source.url);
      source.port = '1';
      const unreachable = await plan(db.config({ source: { type: 'mysql', url: source.toString() } }));
      expect(unreachable.code).toBe(2);
      expect(unreachable.stderr).toMatch(/unreachable|ECONNREFUSED/);
      const target = new URL(db.target.url);
      target.port = '1';
      const noTarget = await plan(db.config({ target: { type: 'postgres', url: target.toString() } }));
      expect(noTarget.code).toBe(2);
    } finally {
      await db.close();
    }
  });
});
