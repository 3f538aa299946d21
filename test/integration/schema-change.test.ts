import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import {
  checkpointOf,
  pipelineConfig,
  runCli,
  type RunningCli,
  startCli,
  startStreaming,
  verifyWithCli,
  waitCaughtUp,
  waitFor,
  writeConfig,
} from '../helpers/ferry.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import { describeMssqlRoutes, ROUTES, type Route, routeDatabases, type RouteDatabases, type TargetEngine } from '../helpers/routes.js';

describe('schema changes mid-stream', () => {
  let db: TestDatabases;
  let ferry: RunningCli;
  let config: string;
  beforeAll(async () => {
    db = await testDatabases('ddl');
    await db.my.query(`
      CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);
      CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);
      INSERT INTO products VALUES (1, 'one'), (2, 'two');
      INSERT INTO notes VALUES (1, 'a');`);
    ({ config, ferry } = await startStreaming(db));
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it('an added column reaches the target, with the values written after it', async () => {
    await db.my.query(`
      INSERT INTO products VALUES (3, 'three');
      ALTER TABLE products ADD COLUMN price DECIMAL(8,2) NULL, ADD COLUMN tags JSON;
      INSERT INTO products VALUES (4, 'four', 9.99, '{"new": true}');
      UPDATE products SET price = 1.50 WHERE id = 1;
      TRUNCATE TABLE notes;
      INSERT INTO notes VALUES (2, 'after truncate');`);
    await waitCaughtUp(db.my, db.pg, 'ddl');
    const { rows } = await db.pg.query('SELECT id, name, price::text, tags::text FROM ddl.products ORDER BY id');
    expect(rows).toEqual([
      { id: 1, name: 'one', price: '1.50', tags: null },
      { id: 2, name: 'two', price: null, tags: null },
      { id: 3, name: 'three', price: null, tags: null },
      { id: 4, name: 'four', price: '9.99', tags: '{"new": true}' },
    ]);
    const notes = await db.pg.query('SELECT id, body FROM ddl.notes ORDER BY id');
    expect(notes.rows).toEqual([{ id: 2, body: 'after truncate' }]);
    expect((await verifyWithCli(config)).equal).toBe(true);
  });

  it('a column added NOT NULL with a default, or with the implicit default, arrives with the values the source gave existing rows', async () => {
    await db.my.query(`
      ALTER TABLE products ADD COLUMN stock INT NOT NULL DEFAULT 5, ADD COLUMN sku VARCHAR(10) NOT NULL, ADD COLUMN kind ENUM('x','y') NOT NULL;
      INSERT INTO products (id, name, stock, sku, kind) VALUES (6, 'six', 1, 'S6', 'y');`);
    await waitCaughtUp(db.my, db.pg, 'ddl');
    const { rows } = await db.pg.query('SELECT id, stock, sku, kind FROM ddl.products WHERE id IN (1, 6) ORDER BY id');
    expect(rows).toEqual([
      { id: 1, stock: 5, sku: '', kind: 'x' },
      { id: 6, stock: 1, sku: 'S6', kind: 'y' },
    ]);
    expect((await verifyWithCli(config)).equal).toBe(true);
  });

  it('any other change stops the pipeline with an error naming the table and the change', async () => {
    const [[head]] = (await db.my.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];
    await db.my.query('ALTER TABLE products DROP COLUMN name');
    const [events] = await db.my.query(`SHOW BINLOG EVENTS IN '${head!.File}' FROM ${head!.Position}`);
    const alter = (events as { Info: string; End_log_pos: number }[]).find((e) => /DROP COLUMN name/.test(e.Info))!;
    await db.my.query("INSERT INTO products (id, price, sku) VALUES (5, 5.00, 'S5')");
    const result = await ferry.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/schema change on ddl\.products is not supported: column name was dropped or renamed/);
    expect(result.stderr).toMatch(/ALTER TABLE products DROP COLUMN name/);
    // The checkpoint stops before the change: a restart stops at it again instead of drifting.
    const after = await checkpointOf(db.pg, 'ddl');
    expect(after?.position?.file).toBe(head!.File);
    expect(after!.position!.pos).toBeLessThan(Number(alter.End_log_pos));
    const { rows } = await db.pg.query('SELECT count(*)::int AS n FROM ddl.products WHERE id = 5');
    expect(rows[0].n).toBe(0);
  });
});

/**
 * The same mid-stream changes on every route, SQL Server's included: the statements read alike on
 * MariaDB and Postgres, the target is read through rowsAsText.
 */
function columnAddedMidStream(route: Route<TargetEngine>): void {
  const name = `ddl_mid_${route.source}_${route.target}`;
  let db: RouteDatabases<TargetEngine>;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => db?.close());

  it('an added column (a NOT NULL one with the default existing rows got), a key change after it, and a TRUNCATE reach the target in order', async () => {
    await db.source.query(`CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);
      CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100));
      INSERT INTO products VALUES (1, 'one'), (2, 'two');
      INSERT INTO notes VALUES (1, 'a'), (2, 'b');`);
    const config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    try {
      await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
      await db.source.query(`INSERT INTO products VALUES (3, 'three');
        ALTER TABLE products ADD COLUMN price DECIMAL(8,2) NULL, ADD COLUMN stock INT NOT NULL DEFAULT 5;
        INSERT INTO products VALUES (4, 'four', 9.99, 1);
        UPDATE products SET price = 1.50 WHERE id = 1;
        UPDATE products SET id = 20 WHERE id = 2;
        TRUNCATE TABLE notes;
        INSERT INTO notes VALUES (3, 'after truncate');`);
      await db.waitCaughtUp();
      expect(await rowsAsText(db.target, db.targetSchema, 'products', ['id', 'name', 'price', 'stock'])).toEqual([
        { id: '1', name: 'one', price: '1.50', stock: '5' },
        { id: '3', name: 'three', price: null, stock: '5' },
        { id: '4', name: 'four', price: '9.99', stock: '1' },
        { id: '20', name: 'two', price: null, stock: '5' },
      ]);
      expect(await rowsAsText(db.target, db.targetSchema, 'notes', ['id', 'body'])).toEqual([{ id: '3', body: 'after truncate' }]);
      const verdict = await verifyWithCli(config);
      expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
    }
  });
}

describe.each(ROUTES)('a column added mid-stream: $label', columnAddedMidStream);
describeMssqlRoutes('a column added mid-stream', columnAddedMidStream);

describe('schema changes ferry cannot follow stop it', () => {
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    db = await testDatabases('ddl_stop');
    config = writeConfig(pipelineConfig('ddl_stop', db.mysqlUrl, db.pgUrl));
  });
  afterAll(async () => db?.close());

  async function runUntilStopped(change: string): Promise<string> {
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    await db.my.query(change);
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(1);
    return r.stderr;
  }

  it('a column added with an expression default (existing rows got values ferry cannot see)', async () => {
    await db.my.query('CREATE TABLE events (id INT PRIMARY KEY, v INT); INSERT INTO events VALUES (1, 1)');
    const out = await runUntilStopped('ALTER TABLE events ADD COLUMN seen DATETIME DEFAULT CURRENT_TIMESTAMP');
    expect(out).toMatch(/schema change on ddl_stop\.events is not supported: column seen was added as DEFAULT current_timestamp\(\)/);
  });

  it('a column changed while ferry was stopped is caught at the next start', async () => {
    // The stream position is before the ALTER and ferry refuses it when replayed; so does the start-up check.
    await db.pg.query("UPDATE ferry.ferry_checkpoint SET phase = 'stream' WHERE pipeline = 'ddl_stop'");
    await db.my.query('ALTER TABLE events DROP COLUMN seen, MODIFY v BIGINT');
    const r = await runCli(['run', '-c', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no longer matches ddl_stop\.events: column v is integer in the target, but the source's bigint\(20\) maps to bigint/);
  });
});

describe('a table created while ferry is stopped', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('ddl_late');
  });
  afterAll(async () => db?.close());

  it('is named in the log and not replicated half-copied; the snapshotted tables go on streaming, with a column added meanwhile', async () => {
    await db.my.query('CREATE TABLE early (id INT PRIMARY KEY); INSERT INTO early VALUES (1)');
    const { config, ferry: first } = await startStreaming(db);
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);

    await db.my.query('CREATE TABLE late (id INT PRIMARY KEY); INSERT INTO late VALUES (1), (2)');
    // Row 3's binlog image predates the column: replayed after the start-up check added it, it must get 7 too.
    await db.my.query('INSERT INTO early VALUES (3); ALTER TABLE early ADD COLUMN flag INT NOT NULL DEFAULT 7');
    const second = startCli(['run', '-c', config]);
    await waitFor('the warning', async () => /not replicating ddl_late\.late: created after the snapshot/.test(second.output()), 30_000);
    await db.my.query('INSERT INTO late VALUES (3); INSERT INTO early (id) VALUES (2)');
    await waitCaughtUp(db.my, db.pg, 'ddl_late');
    second.child.kill('SIGTERM');
    expect((await second.done).code).toBe(0);
    const { rows } = await db.pg.query("SELECT to_regclass('ddl_late.late') IS NULL AS absent, (SELECT count(*)::int FROM ddl_late.early) AS early");
    expect(rows[0]).toEqual({ absent: true, early: 3 });
    // A column added while ferry was stopped is added at start, with the value the source gave existing rows.
    const flags = await db.pg.query('SELECT id, flag FROM ddl_late.early ORDER BY id');
    expect(flags.rows).toEqual([
      { id: 1, flag: 7 },
      { id: 2, flag: 7 },
      { id: 3, flag: 7 },
    ]);
  });
});

describe('a replicated table dropped while ferry is stopped', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('ddl_gone');
  });
  afterAll(async () => db?.close());

  it('stops the next start with an error naming it, until it is excluded', async () => {
    await db.my.query('CREATE TABLE keep (id INT PRIMARY KEY); CREATE TABLE gone (id INT PRIMARY KEY)');
    const { config, ferry } = await startStreaming(db);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    await db.my.query('DROP TABLE gone');
    const r = await runCli(['run', '-c', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/replicated table ddl_gone\.gone no longer exists at the source/);

    const excluded = writeConfig(pipelineConfig('ddl_gone', db.mysqlUrl, db.pgUrl, { tables: { include: ['ddl_gone.*'], exclude: ['ddl_gone.gone'] } }));
    const again = startCli(['run', '-c', excluded]);
    await db.my.query('INSERT INTO keep VALUES (1)');
    await waitCaughtUp(db.my, db.pg, 'ddl_gone');
    again.child.kill('SIGTERM');
    expect((await again.done).code).toBe(0);
  });
});

describe('a column of a type ferry cannot carry, added mid-stream (MariaDB source)', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('ddl_type');
  });
  afterAll(async () => db?.close());

  it('stops naming the table, the column, its type, the statement and the fix; excluding the table lets the rest go on', async () => {
    await db.my.query(
      "CREATE TABLE address (id INT PRIMARY KEY, street VARCHAR(50)); CREATE TABLE city (id INT PRIMARY KEY); INSERT INTO address VALUES (1, 'Main')",
    );
    const { ferry } = await startStreaming(db);
    const [[head]] = (await db.my.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];
    await db.my.query("ALTER TABLE address ADD COLUMN location POINT; INSERT INTO address VALUES (2, 'Side', POINT(1, 2)); INSERT INTO city VALUES (1)");
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /schema change on ddl_type\.address is not supported: column location has type point, which ferry cannot replicate \(statement: ALTER TABLE address ADD COLUMN location POINT\)/,
    );
    expect(r.stderr).toMatch(
      /fix: the checkpoint is before this statement; exclude the table \(tables\.exclude\), or drop or change the column at the source, then re-snapshot/,
    );
    // Before the ALTER itself (a heartbeat may have committed between reading the head and the ALTER).
    const [events] = (await db.my.query(`SHOW BINLOG EVENTS IN '${head!.File}'`)) as unknown as [{ Pos: number; Info: string }[]];
    const alter = events.find((e) => /ADD COLUMN location POINT/.test(e.Info))!;
    const stopped = await checkpointOf(db.pg, 'ddl_type');
    expect(stopped?.position).toEqual(expect.objectContaining({ file: head!.File }));
    expect(stopped!.position!.pos).toBeLessThanOrEqual(Number(alter.Pos));

    const excluded = writeConfig(pipelineConfig('ddl_type', db.mysqlUrl, db.pgUrl, { tables: { include: ['ddl_type.*'], exclude: ['ddl_type.address'] } }));
    const again = startCli(['run', '-c', excluded]);
    await waitCaughtUp(db.my, db.pg, 'ddl_type');
    again.child.kill('SIGTERM');
    expect((await again.done).code).toBe(0);
    const { rows } = await db.pg.query('SELECT count(*)::int AS n FROM ddl_type.city');
    expect(rows[0].n).toBe(1);
  });
});

describe('a column type changed mid-stream (Postgres source: no statement text in the WAL)', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(ROUTES.find((r) => r.source === 'postgres' && r.target === 'postgres')!, 'ddl_pg_retype');
  });
  afterAll(async () => db?.close());

  it('stops naming the table, the column and both types; altering the target to match lets it go on', async () => {
    await db.source.query('CREATE TABLE stock (id int PRIMARY KEY, qty int); INSERT INTO stock VALUES (1, 5)');
    const config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    await db.source.query('ALTER TABLE stock ALTER COLUMN qty TYPE bigint; INSERT INTO stock VALUES (2, 9007199254740993)');
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /table public\.stock changed at the source in a way ferry does not replicate \(a new column list in the WAL; no statement text is logged there\): column qty changed its type from integer to bigint/,
    );
    expect(r.stderr).toMatch(/fix: ferry replicates added columns only; alter the target table to match and restart/);

    await db.target.query('ALTER TABLE public.stock ALTER COLUMN qty TYPE bigint');
    const again = startCli(['run', '-c', config]);
    await db.waitCaughtUp();
    again.child.kill('SIGTERM');
    expect((await again.done).code).toBe(0);
    const rows = await db.target.query('SELECT id, qty::text AS qty FROM public.stock ORDER BY id');
    expect(rows).toEqual([
      { id: 1, qty: '5' },
      { id: 2, qty: '9007199254740993' },
    ]);
  });
});
