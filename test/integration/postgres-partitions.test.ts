import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startWithAdmin, waitReady } from '../helpers/admin.js';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { ROUTES, routeDatabases, type RouteDatabases } from '../helpers/routes.js';

/**
 * Partitioned tables on a Postgres source: a range-partitioned one (by date, with a default
 * partition) and a list-partitioned one whose first partition is hash-partitioned again.
 */
const SCHEMA = `
  CREATE TABLE events (id int, at date, kind text NOT NULL, amount numeric(10,2), PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  CREATE TABLE events_default PARTITION OF events DEFAULT;
  CREATE INDEX events_kind ON events (kind);
  CREATE TABLE accounts (id int, region text, name text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
  CREATE TABLE accounts_eu PARTITION OF accounts FOR VALUES IN ('eu', 'uk') PARTITION BY HASH (id);
  CREATE TABLE accounts_eu_0 PARTITION OF accounts_eu FOR VALUES WITH (modulus 2, remainder 0);
  CREATE TABLE accounts_eu_1 PARTITION OF accounts_eu FOR VALUES WITH (modulus 2, remainder 1);
  CREATE TABLE accounts_us PARTITION OF accounts FOR VALUES IN ('us');
  -- 900 days from 2023-12-02: rows in the default partition (2023, 2026), in 2024 and in 2025.
  INSERT INTO events SELECT g, date '2023-12-01' + g, 'k' || (g % 3), g * 1.5 FROM generate_series(1, 900) g;
  INSERT INTO accounts SELECT g, (ARRAY['us', 'eu', 'uk'])[g % 3 + 1], 'a' || g FROM generate_series(1, 60) g;`;

/** Inserts into several partitions, rows moving between partitions (their partition key changes), updates in place, deletes. */
const CHANGES = `
  INSERT INTO events VALUES (1001, '2023-05-01', 'late', 1), (1002, '2024-03-01', 'x', 2), (1003, '2025-07-01', 'y', 3), (1004, '2030-01-01', 'z', 4);
  UPDATE events SET at = '2025-02-02' WHERE id = 100;
  UPDATE events SET at = '2031-01-01', kind = 'moved' WHERE id = 400;
  UPDATE events SET at = at + 1 WHERE id = 300;
  UPDATE events SET amount = amount + 1 WHERE id BETWEEN 200 AND 210;
  DELETE FROM events WHERE id IN (5, 600, 1002);
  INSERT INTO accounts VALUES (101, 'uk', 'new'), (102, 'us', 'new');
  UPDATE accounts SET region = 'us' WHERE id = 4;
  UPDATE accounts SET name = 'renamed' WHERE id = 5;
  DELETE FROM accounts WHERE id = 7;`;

const PARTITIONS_SQL = (table: string) => `SELECT c.relname AS name, c.relkind AS kind, coalesce(pg_get_expr(c.relpartbound, c.oid), '') AS bound
  FROM pg_partition_tree('public.${table}') t JOIN pg_class c ON c.oid = t.relid ORDER BY 1`;

describe.each(ROUTES.filter((r) => r.source === 'postgres'))('Postgres partitioned tables: $label', (route) => {
  const name = `pgpart_${route.target}`;
  const flat = route.target !== 'postgres';
  let db: RouteDatabases;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
    await db.source.query(SCHEMA);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it('check refuses a partition selected without its root', async () => {
    const check = await runCli(['check', '-c', writeConfig(db.config({ tables: { include: ['public.events_2024', 'public.events_2025'] } }))]);
    expect(check.code, check.stdout + check.stderr).toBe(2);
    expect(check.stdout).toMatch(/tables\.include selects public\.events_2024, public\.events_2025, partitions of public\.events, which is not selected/);
    expect(check.stdout).toMatch(/fix: include public\.events \(its partitions come with it\), or exclude the partitions too/);
  });

  it('check says what becomes of each partitioned table, and that ferry publishes through the root', async () => {
    // A publication made beforehand without publish_via_partition_root: ferry switches it on.
    await db.source.query(`CREATE PUBLICATION ferry_${name} FOR TABLE events, accounts`);
    const check = await runCli(['check', '-c', writeConfig(db.config())]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const becomes = flat ? "the target gets one plain table holding every partition's rows" : 'the Postgres target gets the same partitions';
    expect(check.stdout).toContain(
      `[warning: partitioned table] public.events is partitioned (RANGE (at), 3 partitions): replicated as one table through its root; ${becomes}`,
    );
    expect(check.stdout).toContain(
      `[warning: partitioned table] public.accounts is partitioned (LIST (region), 4 partitions): replicated as one table through its root; ${becomes}`,
    );
    expect(check.stdout).toMatch(/\[warning: publication\] publication ferry_pgpart_\w+ publishes partitions as tables of their own .*ferry switches it on/);
    expect(check.stdout).toMatch(/ALTER PUBLICATION ferry_pgpart_\w+ SET \(publish_via_partition_root = true\)/);
  });

  it('replicates each partitioned table as one: snapshot, then inserts into several partitions, rows moving between partitions, deletes', async () => {
    const started = await startWithAdmin(db.config());
    ferry = started.ferry;
    await waitReady(started.admin);
    const [pub] = await db.source.query(`SELECT pubviaroot FROM pg_publication WHERE pubname = 'ferry_${name}'`);
    expect(pub?.pubviaroot).toBe(true);

    await db.source.query(CHANGES);
    await db.waitCaughtUp().catch((err: Error) => {
      throw new Error(`${err.message}; ferry's output:\n${ferry!.output()}`);
    });
    const verdict = await verifyWithCli(started.configFile);
    expect(verdict.tables.map((t) => t.table).sort()).toEqual(['public.accounts', 'public.events']);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);

    const rows = async (side: 'source' | 'target', table: string) =>
      (await db[side].query(`SELECT count(*) AS n FROM ${side === 'source' ? 'public' : db.targetSchema}.${table}`))[0]!.n;
    expect(Number(await rows('target', 'events'))).toBe(900 + 4 - 3);
    expect(Number(await rows('target', 'accounts'))).toBe(60 + 2 - 1);
    const moved = await db.target.query(
      `SELECT id, ${flat ? 'CAST(at AS CHAR)' : 'at::text'} AS at, kind FROM ${db.targetSchema}.events WHERE id IN (100, 300, 400) ORDER BY id`,
    );
    expect(moved.map((r) => `${r.id} ${r.at} ${r.kind}`)).toEqual(['100 2025-02-02 k1', '300 2024-09-27 k0', '400 2031-01-01 moved']);

    if (flat) {
      // One plain table per partitioned table; no partition arrives as a table of its own.
      const tables = await db.target.query(`SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db.targetSchema}' ORDER BY 1`);
      expect(tables.map((t) => t.name)).toEqual(['accounts', 'events']);
    } else {
      // The same partitions, each row in the partition it is in at the source.
      for (const table of ['events', 'accounts']) expect(await db.target.query(PARTITIONS_SQL(table))).toEqual(await db.source.query(PARTITIONS_SQL(table)));
      const where = 'SELECT id, tableoid::regclass::text AS part FROM events WHERE id IN (100, 400, 1001) ORDER BY id';
      expect(await db.target.query(where.replace('FROM events', `FROM ${db.targetSchema}.events`))).toEqual(await db.source.query(where));
      expect(await db.target.query(where)).toEqual([
        { id: 100, part: 'events_2025' },
        { id: 400, part: 'events_default' },
        { id: 1001, part: 'events_default' },
      ]);
    }
  });

  it('takes a partition the source added later (the Postgres target creates it when ferry starts again) and a column added to the partitioned table', async () => {
    ferry!.child.kill('SIGTERM');
    expect((await ferry!.done).code).toBe(0);
    await db.source.query("CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')");
    const started = await startWithAdmin(db.config());
    ferry = started.ferry;
    await waitReady(started.admin);
    // The rows already there hold the default: Postgres keeps it in each partition, not in the partitioned table.
    await db.source.query("ALTER TABLE events ADD COLUMN note text DEFAULT 'old'; INSERT INTO events VALUES (3001, '2027-03-03', 'new partition', 1, 'new')");
    await db.waitCaughtUp().catch((err: Error) => {
      throw new Error(`${err.message}; ferry's output:\n${ferry!.output()}`);
    });
    const [row] = await db.target.query(`SELECT kind, note${flat ? '' : ', tableoid::regclass::text AS part'} FROM ${db.targetSchema}.events WHERE id = 3001`);
    expect(row).toEqual(flat ? { kind: 'new partition', note: 'new' } : { kind: 'new partition', note: 'new', part: 'events_2027' });
    const [old] = await db.target.query(`SELECT count(*) AS n FROM ${db.targetSchema}.events WHERE note = 'old'`);
    expect(Number(old!.n)).toBe(900 + 4 - 3);
  });

  it('after a cutover the partitioned parent on the target holds every row and takes new ones', async () => {
    const configFile = writeConfig(db.config());
    const admin = /admin API on (http:\/\/[\d.:]+)/.exec(ferry!.output())![1]!;
    const cutover = await runCli(['cutover', '--admin', admin, '--token', ADMIN_TOKEN, '--verify', 'checksums', '--max-lag', '10', '--timeout', '120']);
    expect(cutover.code, cutover.stdout + cutover.stderr).toBe(0);
    const verify = await runCli(['verify', '-c', configFile, '--mode', 'checksums']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    const events = `${db.targetSchema}.events`;
    const [all] = await db.target.query(`SELECT count(*) AS n, sum(amount) AS total FROM ${events}`);
    const [source] = await db.source.query('SELECT count(*) AS n, sum(amount) AS total FROM events');
    expect([Number(all!.n), Number(all!.total)]).toEqual([Number(source!.n), Number(source!.total)]);
    await db.target.query(`INSERT INTO ${events} (id, at, kind, amount) VALUES (5000, '2024-06-01', 'after cutover', 1)`);
    const [added] = await db.target.query(`SELECT count(*) AS n FROM ${events} WHERE at >= '2024-01-01' AND at < '2025-01-01'`);
    const [source2024] = await db.source.query("SELECT count(*) AS n FROM events WHERE at >= '2024-01-01' AND at < '2025-01-01'");
    expect(Number(added!.n)).toBe(Number(source2024!.n) + 1);
    if (!flat) {
      const [part] = await db.target.query(`SELECT tableoid::regclass::text AS part FROM ${events} WHERE id = 5000`);
      expect(part!.part).toBe('events_2024');
    }
    ferry!.child.kill('SIGTERM');
    expect((await ferry!.done).code).toBe(0);
  });
});

describe('Postgres partitioned tables: a publication that stops publishing through the root', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(ROUTES.find((r) => r.source === 'postgres' && r.target === 'postgres')!, 'pgpart_leaves');
    await db.source.query(SCHEMA);
  });
  afterAll(async () => db?.close());

  it('stops the stream at the first change that names a partition, and refuses to stream again until it is fixed', async () => {
    const config = writeConfig(db.config({ tables: { include: ['public.events'] } }));
    const run = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(run.output()));
    // A change applied first: the stream is past its start, whose own publication check would otherwise catch the switch.
    await db.source.query("INSERT INTO events VALUES (2000, '2024-04-03', 'root', 1)");
    await waitFor(
      'the first change on the target',
      async () => Number((await db.target.query('SELECT count(*) AS n FROM public.events WHERE id = 2000'))[0]!.n) === 1,
    );
    await db.source.query(
      "ALTER PUBLICATION ferry_pgpart_leaves SET (publish_via_partition_root = false); INSERT INTO events VALUES (2001, '2024-04-04', 'leaf', 1)",
    );
    const end = await run.done;
    expect(end.code, run.output()).not.toBe(0);
    expect(run.output()).toMatch(/changes to public\.events_2024, a partition of public\.events, arrive as changes of the partition itself/);
    expect(run.output()).toMatch(/ALTER PUBLICATION ferry_pgpart_leaves SET \(publish_via_partition_root = true\)/);
    const [target] = await db.target.query('SELECT count(*) AS n FROM public.events WHERE id = 2001');
    expect(Number(target!.n), "nothing past the partition's change was applied").toBe(0);

    const again = await runCli(['run', '-c', config]);
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/publication ferry_pgpart_leaves publishes the partitions of public\.events as tables of their own/);
  });
});
