import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, pipelineConfig, runCli, startCli, startStreaming, verifyWithCli, waitCaughtUp, waitFor, writeConfig } from '../helpers/ferry.js';

describe('ferry run: MariaDB → Postgres', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('repl_basic');
  });
  afterAll(async () => db?.close());

  it('copies existing rows, then streams inserts, updates, deletes and primary-key changes; SIGTERM exits 0', async () => {
    await db.my.query(`
      CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL, name VARCHAR(100), UNIQUE KEY uq_email (email));
      CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(12,2) NOT NULL, status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new', created_at DATETIME(6) NOT NULL, KEY ix_customer (customer_id));
      CREATE TABLE line_items (order_id BIGINT NOT NULL, line INT NOT NULL, sku VARCHAR(40) NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line));
    `);
    for (let i = 1; i <= 500; i++) {
      await db.my.query('INSERT INTO customers (email, name) VALUES (?, ?)', [`c${i}@example.com`, `Customer ${i} ☕`]);
    }
    await db.my.query(
      `INSERT INTO orders (customer_id, total, status, created_at) SELECT seq % 500 + 1, seq * 1.25, 'new', '2024-01-02 03:04:05.123456' FROM seq_1_to_3000`,
    );
    await db.my.query(`INSERT INTO line_items SELECT o.id, s.seq, CONCAT('SKU-', s.seq), s.seq FROM orders o JOIN seq_1_to_3 s`);

    const config = writeConfig(pipelineConfig('repl_basic', db.mysqlUrl, db.pgUrl, { snapshot: { chunkRows: 700 } }));
    const ferry = startCli(['run', '-c', config]);
    await waitFor('snapshot to finish', async () => (await checkpointOf(db.pg, 'repl_basic'))?.phase === 'stream');

    await db.my.query(`
      INSERT INTO customers (email, name) VALUES ('new@example.com', 'New');
      UPDATE orders SET status = 'paid', total = total + 0.01 WHERE id % 7 = 0;
      DELETE FROM line_items WHERE order_id % 11 = 0;
      UPDATE line_items SET line = line + 10 WHERE order_id = 5;
      UPDATE customers SET id = 100000 WHERE id = 3;
      START TRANSACTION; INSERT INTO orders (customer_id, total, created_at) VALUES (1, 9.99, NOW(6)); DELETE FROM orders WHERE id = 1; COMMIT;
    `);
    await waitCaughtUp(db.my, db.pg, 'repl_basic');
    const second = await runCli(['run', '-c', config]);
    expect(second.code, 'a second applier of the same pipeline is refused').toBe(1);
    expect(second.stderr).toMatch(/another ferry process is already running pipeline repl_basic/);
    const verdict = await verifyWithCli(config);
    expect(verdict.tables.map((t) => t.table).sort()).toEqual(['repl_basic.customers', 'repl_basic.line_items', 'repl_basic.orders']);
    expect(verdict.equal).toBe(true);

    const { rows } = await db.pg.query('SELECT count(*)::int AS n FROM repl_basic.customers WHERE id = 100000');
    expect(rows[0].n).toBe(1);
    const idx = await db.pg.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'repl_basic' AND tablename = 'orders'");
    expect(idx.rows.map((r) => r.indexname)).toContain('orders_ix_customer');

    ferry.child.kill('SIGTERM');
    const result = await ferry.done;
    expect(result.code, result.stderr).toBe(0);
  });

  it('ferry verify exits 1 and names the table when one target value differs', async () => {
    const config = writeConfig(pipelineConfig('repl_basic', db.mysqlUrl, db.pgUrl));
    await db.pg.query('UPDATE repl_basic.orders SET total = total + 0.01 WHERE id = 2');
    const r = await runCli(['verify', '-c', config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/DIFFER\s+repl_basic\.orders/);
    expect(r.stdout).toMatch(/equal\s+repl_basic\.customers/);
    const counts = await runCli(['verify', '-c', config, '--mode', 'counts']);
    expect(counts.code, 'counts are still equal').toBe(0);
  });

  it('ferry snapshot refuses to copy into non-empty tables unless tablePrep replaces them; status reports the result', async () => {
    const again = writeConfig(pipelineConfig('repl_basic', db.mysqlUrl, db.pgUrl, { pipeline: 'repl_basic_again' }));
    const refused = await runCli(['snapshot', '-c', again]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/target table repl_basic\.\w+ already has rows/);
    expect(await checkpointOf(db.pg, 'repl_basic_again')).toBeNull();

    const replace = writeConfig(pipelineConfig('repl_basic', db.mysqlUrl, db.pgUrl, { pipeline: 'repl_basic_again', snapshot: { tablePrep: 'truncate' } }));
    const copied = await runCli(['snapshot', '-c', replace]);
    expect(copied.code, copied.stderr).toBe(0);
    expect((await verifyWithCli(replace)).equal).toBe(true);
    const status = await runCli(['status', '-c', replace, '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({ pipeline: 'repl_basic_again', phase: 'stream' });
    expect(parsed.appliedPosition).toMatch(/^binlog\.\d+:\d+/);
  });
});

describe('one applier per pipeline', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('takeover');
  });
  afterAll(async () => db?.close());

  it('a process whose pipeline lock was lost cannot write once another took the pipeline over', async () => {
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
    const { ferry: first } = await startStreaming(db);
    // The first process's lock session dies (as with a network partition); a second process starts.
    // With a timeout, pg_terminate_backend returns once the session has exited and let go of the lock.
    await db.pg.query(`SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    const config = writeConfig(pipelineConfig('takeover', db.mysqlUrl, db.pgUrl, { source: { type: 'mysql', url: db.mysqlUrl, serverId: 777 } }));
    const second = startCli(['run', '-c', config]);
    await waitFor('the second process to stream', async () => /streaming from/.test(second.output()));
    await db.my.query('INSERT INTO t VALUES (1, 1), (2, 2)');
    const r = await first.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/another ferry process took over pipeline takeover; this one stops without writing/);
    await waitCaughtUp(db.my, db.pg, 'takeover');
    expect((await verifyWithCli(config)).equal).toBe(true);
    second.child.kill('SIGTERM');
    expect((await second.done).code).toBe(0);
  });
});

describe('a checkpoint table an earlier version created', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('oldlayout');
  });
  afterAll(async () => db?.close());

  it('gains the columns this version needs', async () => {
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)');
    await db.pg.query(`CREATE SCHEMA ferry; CREATE TABLE ferry.ferry_checkpoint (
      pipeline text PRIMARY KEY, phase text NOT NULL, position jsonb, updated_at timestamptz NOT NULL DEFAULT now())`);
    const r = await runCli(['snapshot', '-c', writeConfig(pipelineConfig('oldlayout', db.mysqlUrl, db.pgUrl))]);
    expect(r.code, r.stderr).toBe(0);
    const { rows } = await db.pg.query("SELECT tables, owner IS NOT NULL AS owned FROM ferry.ferry_checkpoint WHERE pipeline = 'oldlayout'");
    expect(rows).toEqual([{ tables: ['oldlayout.t'], owned: true }]);
  });
});
