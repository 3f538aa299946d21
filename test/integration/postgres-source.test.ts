import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import {
  describeMssqlRoutes,
  ITEMS_DDL,
  MSSQL_ROUTES,
  ROUTES,
  type Route,
  routeDatabases,
  seedItemsSql,
  type RouteDatabases,
  type TargetEngine,
} from '../helpers/routes.js';
import { startWriteLoad } from '../helpers/write-load.js';

/**
 * docs/type-mapping.md's Postgres table, per target: each source column with the type ferry creates.
 * Postgres → Postgres keeps the source's own types; Postgres → MariaDB maps them.
 */
const COLUMNS: readonly { name: string; pg: string; mysql: string }[] = [
  { name: 'i2', pg: 'smallint', mysql: 'smallint(6)' },
  { name: 'i4', pg: 'integer', mysql: 'int(11)' },
  { name: 'i8', pg: 'bigint', mysql: 'bigint(20)' },
  { name: 'n', pg: 'numeric', mysql: 'decimal(65,30)' },
  { name: 'n2', pg: 'numeric(12,2)', mysql: 'decimal(12,2)' },
  { name: 'f4', pg: 'real', mysql: 'float' },
  { name: 'f8', pg: 'double precision', mysql: 'double' },
  { name: 'b', pg: 'boolean', mysql: 'tinyint(1)' },
  { name: 't', pg: 'text', mysql: 'longtext' },
  { name: 'v', pg: 'character varying(20)', mysql: 'varchar(20)' },
  { name: 'c', pg: 'character(5)', mysql: 'varchar(5)' },
  { name: 'bin', pg: 'bytea', mysql: 'longblob' },
  { name: 'd', pg: 'date', mysql: 'date' },
  { name: 'tm', pg: 'time without time zone', mysql: 'time(6)' },
  { name: 'ts', pg: 'timestamp without time zone', mysql: 'datetime(6)' },
  { name: 'tz', pg: 'timestamp with time zone', mysql: 'datetime(6)' },
  { name: 'iv', pg: 'interval', mysql: 'varchar(100)' },
  { name: 'j', pg: 'json', mysql: 'longtext' },
  { name: 'jb', pg: 'jsonb', mysql: 'longtext' },
  { name: 'u', pg: 'uuid', mysql: 'char(36)' },
  { name: 'ai', pg: 'integer[]', mysql: 'longtext' },
  { name: 'at', pg: 'text[]', mysql: 'longtext' },
  { name: 'a8', pg: 'bigint[]', mysql: 'longtext' },
  { name: 'ab', pg: 'boolean[]', mysql: 'longtext' },
  { name: 'am', pg: 'public.mood[]', mysql: 'longtext' },
  { name: 'm', pg: 'public.mood', mysql: "enum('sad','ok','happy','it''s')" },
  { name: 'ip', pg: 'inet', mysql: 'varchar(43)' },
  { name: 'big', pg: 'text', mysql: 'longtext' },
];

const ROW_VALUES = (id: number) => `(${id}, -32768, 2147483647, 9007199254740993, 12345678901234567890.123456789012, 1234567890.12, 1.1, 0.1, true,
  E'tab\\tnew\\nline\\\\ ☕ 😀', 'v${id}', 'ab', '\\x00ff10', '2024-02-29', '23:59:59.999999', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123456+02', '1 year 2 mons 3 days 04:05:06.5', '{"a": 1, "b": [true, null]}', '{"k": "v"}',
  '123e4567-e89b-12d3-a456-426614174000', '{1,2,3}', '{"a b","c\\"d",NULL}', '{9007199254740993,-1}', '{t,f,NULL}', '{ok,sad}', 'it''s', '192.168.0.1/24', repeat('x', 100000))`;

const postgresRoutes = ROUTES.filter((r) => r.source === 'postgres');

describe.each(postgresRoutes)('Postgres source: $label', (route) => {
  const name = `pgsrc_${route.target}`;
  let db: RouteDatabases;
  let ferry: RunningCli;
  let config: string;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it('copies every mapped type exactly, then streams inserts, updates, deletes, key changes, TRUNCATE and ADD COLUMN', async () => {
    await db.source.query(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s');
      CREATE TABLE types (id bigint PRIMARY KEY, ${COLUMNS.map((c) => `${c.name} ${c.pg.replace('public.', '')}`).join(', ')});
      ALTER TABLE types ALTER COLUMN big SET STORAGE EXTERNAL;
      ALTER TABLE types ADD COLUMN doubled integer GENERATED ALWAYS AS (i2 * 2) STORED;
      CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
      CREATE TABLE log (at int, msg text, meta json);
      ALTER TABLE log REPLICA IDENTITY FULL;
      INSERT INTO log VALUES (1, 'dup', '{"a": 1}'), (1, 'dup', '{"a": 1}'), (2, 'x', NULL);
      INSERT INTO types VALUES ${ROW_VALUES(1)}, ${ROW_VALUES(2)};
      INSERT INTO types (id) VALUES (3);
      INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;`);
    config = writeConfig(db.config());
    ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));

    await db.source.query(`
      INSERT INTO types VALUES ${ROW_VALUES(4)};
      UPDATE types SET i4 = i4 - 1, tz = '1999-12-31 23:59:59.999999+00' WHERE id = 1;
      UPDATE types SET id = 40 WHERE id = 4;
      DELETE FROM types WHERE id = 3;
      TRUNCATE notes;
      INSERT INTO notes VALUES (7, 'after truncate');
      ALTER TABLE types ADD COLUMN extra int DEFAULT 42;
      UPDATE types SET extra = 1 WHERE id = 2;
      INSERT INTO log VALUES (1, 'dup', '{"a": 1}'), (3, NULL, NULL);
      UPDATE log SET msg = 'one' WHERE ctid = (SELECT ctid FROM log WHERE at = 1 LIMIT 1);
      DELETE FROM log WHERE ctid = (SELECT ctid FROM log WHERE at = 1 AND msg = 'dup' LIMIT 1);
      DELETE FROM log WHERE at = 3;`);
    await db.waitCaughtUp();
    const verdict = await verifyWithCli(config);
    expect(verdict.tables).toHaveLength(3);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    // Floats, json and arrays print differently in MariaDB: those tables are compared row by row there.
    expect(Object.fromEntries(verdict.tables.map((t) => [t.table, t.method]))).toEqual(
      route.target === 'postgres'
        ? { 'public.types': 'sql', 'public.notes': 'sql', 'public.log': 'sql' }
        : { 'public.types': 'rows', 'public.notes': 'sql', 'public.log': 'rows' },
    );

    const ids = await db.target.query(`SELECT id FROM ${db.targetSchema}.types ORDER BY id`);
    expect(ids.map((r) => Number(r.id))).toEqual([1, 2, 40]);
    const notes = await db.target.query(`SELECT id FROM ${db.targetSchema}.notes`);
    expect(notes.map((r) => Number(r.id))).toEqual([7]);
    // A table without a primary key, keyed by all its columns (REPLICA IDENTITY FULL): duplicates stay duplicates.
    const log = await db.target.query(`SELECT at, msg FROM ${db.targetSchema}.log ORDER BY at, msg`);
    expect(log.map((r) => `${r.at}:${r.msg}`)).toEqual(['1:dup', '1:one', '2:x']);
  });

  it('creates the documented column types', async () => {
    const actual =
      route.target === 'postgres'
        ? await db.target.query(
            `SET search_path = ''; SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'public.types'::regclass AND attnum > 0 AND NOT attisdropped`,
          )
        : await db.target.query(
            `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${db.targetSchema}' AND TABLE_NAME = 'types'`,
          );
    const types = Object.fromEntries(actual.map((r) => [String(r.name), String(r.type)]));
    for (const c of COLUMNS) expect(types[c.name], c.name).toBe(route.target === 'postgres' ? c.pg : c.mysql);
    expect(types, 'generated columns are not replicated (pgoutput does not send them)').not.toHaveProperty('doubled');
    expect(types.extra).toBe(route.target === 'postgres' ? 'integer' : 'int(11)');
  });

  it('arrives with the exact values: big integers, microseconds in UTC, arrays, unchanged TOAST text', async () => {
    const [r] = await db.target.query(
      `SELECT i8, ${route.target === 'postgres' ? 'tz::text AS tz, ai::text AS ai' : 'tz, ai'}, length(big) AS big, extra FROM ${db.targetSchema}.types WHERE id = 1`,
    );
    expect(String(r!.i8)).toBe('9007199254740993');
    expect(String(r!.tz)).toBe(route.target === 'postgres' ? '1999-12-31 23:59:59.999999+00' : '1999-12-31 23:59:59.999999');
    if (route.target === 'postgres') expect(String(r!.ai)).toBe('{1,2,3}');
    else expect(typeof r!.ai === 'string' ? JSON.parse(r!.ai) : r!.ai).toEqual([1, 2, 3]);
    // Row 1 was updated on other columns only: Postgres did not send its 100 kB TOAST value, and the target kept it.
    expect(Number(r!.big)).toBe(100_000);
    expect(Number(r!.extra)).toBe(42);
  });

  it('keeps a 100 kB TOAST text when only another column is updated', async () => {
    await db.source.query(`UPDATE types SET n2 = n2 + 1 WHERE id = 2; UPDATE types SET i2 = 7 WHERE id = 40`);
    await db.waitCaughtUp();
    const rows = await db.target.query(
      `SELECT id, md5(big) AS h, n2, i2 FROM ${db.targetSchema}.types WHERE id IN (2, 40) ORDER BY id`.replace(
        'md5(big)',
        route.target === 'postgres' ? 'md5(big)' : 'MD5(big)',
      ),
    );
    const expected = (await db.source.query("SELECT md5(repeat('x', 100000)) AS h"))[0]!.h;
    expect(rows.map((r) => [Number(r.id), r.h, String(r.n2), Number(r.i2)])).toEqual([
      [2, expected, '1234567891.12', -32768],
      [40, expected, '1234567890.12', 7],
    ]);
  });

  it('ferry status reports the applied LSN, the WAL head and the WAL the slot keeps', async () => {
    const r = await runCli(['status', '-c', config, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.phase).toBe('stream');
    expect(status.appliedPosition).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(status.lagBytes).toBeGreaterThanOrEqual(0);
    expect(status.slotRetainedBytes).toBeGreaterThan(0);
    const text = await runCli(['status', '-c', config]);
    expect(text.stdout).toMatch(/slot WAL kept: +\d+ bytes/);
  });

  it('resumes by itself after the replication connection is terminated mid-stream', async () => {
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 1000)}`);
    // items was created after the snapshot: a fresh pipeline name copies it.
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    const itemsConfig = writeConfig({
      ...db.config(),
      pipeline: `${name}_items`,
      tables: { include: ['public.items'] },
      source: { ...(db.config().source as object), slot: `${name}_items` },
    });
    ferry = startCli(['run', '-c', itemsConfig]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    const load = startWriteLoad(db.source, 'items', { firstId: 100_000, pauseMs: 5, seedRows: 1000 });
    try {
      await sleep(1500);
      const [killed] = await db.source.query(`SELECT pg_terminate_backend(active_pid) AS ok FROM pg_replication_slots WHERE slot_name = '${name}_items'`);
      expect(killed?.ok).toBe(true);
      await waitFor(
        'a new replication connection',
        async () => {
          const [s] = await db.source.query(`SELECT active FROM pg_replication_slots WHERE slot_name = '${name}_items'`);
          return s?.active === true && /stream interrupted .*reconnecting/.test(ferry.output());
        },
        30_000,
      );
      await sleep(1500);
    } finally {
      await load.stop();
    }
    await db.waitCaughtUp(60_000, `${name}_items`);
    const verdict = await verifyWithCli(itemsConfig);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    expect(ferry.child.exitCode, 'ferry kept running').toBeNull();
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
});

/**
 * pgoutput leaves a TOASTed value out of an update that did not change it, also when the update moves
 * the key: each target must keep its own copy, SQL Server's included.
 */
function unchangedToast(route: Route<TargetEngine>): void {
  const name = `pgtoast_${route.target}`;
  let db: RouteDatabases<TargetEngine>;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => db?.close());

  const body = (id: number) => `${String.fromCharCode(96 + id).repeat(100_000)}${id}`;
  const digest = (text: string | null) => (text === null ? null : createHash('sha256').update(text).digest('hex'));

  it('keeps 100 kB TOAST texts that updates left out: on other columns, moving the key, both in one transaction', async () => {
    await db.source.query(`CREATE TABLE docs (id int PRIMARY KEY, rev int NOT NULL, body text NOT NULL);
      ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
      INSERT INTO docs SELECT g, 0, repeat(chr(96 + g), 100000) || g FROM generate_series(1, 3) g;`);
    const config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    try {
      await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
      // One transaction each: none of them carries body.
      await db.source.query('UPDATE docs SET rev = 1 WHERE id = 1');
      await db.source.query('UPDATE docs SET id = 20, rev = 2 WHERE id = 2');
      await db.source.query('BEGIN; UPDATE docs SET rev = 3 WHERE id = 3; UPDATE docs SET id = 30 WHERE id = 3; COMMIT');
      await db.waitCaughtUp();
      const rows = await rowsAsText(db.target, db.targetSchema, 'docs', ['id', 'rev', 'body']);
      expect(rows.map((r) => ({ ...r, body: digest(r.body) }))).toEqual([
        { id: '1', rev: '1', body: digest(body(1)) },
        { id: '20', rev: '2', body: digest(body(2)) },
        { id: '30', rev: '3', body: digest(body(3)) },
      ]);
      const verdict = await verifyWithCli(config);
      expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
    }
  });
}

describe.each(postgresRoutes)('Postgres source, unchanged TOAST: $label', unchangedToast);
describeMssqlRoutes(
  'Postgres source, unchanged TOAST',
  unchangedToast,
  MSSQL_ROUTES.filter((r) => r.source === 'postgres'),
);

describe('Postgres source: stopping', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(postgresRoutes[0]!, 'pgsrc_stop');
  });
  afterAll(async () => db?.close());

  it('stops promptly on SIGTERM at any instant of the stream start (also before the replication connection is up)', async () => {
    await db.source.query('CREATE TABLE stopper (id int PRIMARY KEY)');
    const config = writeConfig(db.config());
    const exits: (number | null)[] = [];
    for (let i = 0; i < 6; i++) {
      const run = startCli(['run', '-c', config]);
      // The instant the stream starts is logged, not polled for: the race lies in the milliseconds after it.
      await new Promise<void>((resolve) => {
        const seen = () => /streaming from/.test(run.output()) && resolve();
        run.child.stdout!.on('data', seen);
        run.child.stderr!.on('data', seen);
      });
      await sleep(i * 3);
      run.child.kill('SIGTERM');
      const result = await Promise.race([run.done, sleep(10_000).then(() => null)]);
      if (!result) run.child.kill('SIGKILL');
      exits.push(result ? result.code : null);
    }
    expect(exits).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('cdc-only (snapshot.mode: never) creates the slot and streams from now, not before', async () => {
    await db.source.query("CREATE TABLE cdc_only (id int PRIMARY KEY, v text); INSERT INTO cdc_only VALUES (1, 'before')");
    const config = writeConfig(db.config({ pipeline: 'pgsrc_cdc', tables: { include: ['public.cdc_only'] }, snapshot: { mode: 'never' } }));
    const run = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(run.output()));
    expect(await db.source.query("SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'ferry_pgsrc_cdc'")).toHaveLength(1);
    await db.source.query("INSERT INTO cdc_only VALUES (2, 'after'); UPDATE cdc_only SET v = 'changed' WHERE id = 1");
    await db.waitCaughtUp(60_000, 'pgsrc_cdc');
    const rows = await db.target.query('SELECT id, v FROM public.cdc_only ORDER BY id');
    // Row 1 was never copied; its update carries the whole new row, which the upsert writes.
    expect(rows.map((r) => `${r.id}:${r.v}`)).toEqual(['1:changed', '2:after']);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });
});
