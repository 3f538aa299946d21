import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases, CROSS_ROUTES } from '../helpers/routes.js';

/**
 * `ferry verify` on a target someone changed behind ferry's back, on the two cross-engine routes: a
 * changed value, a missing row and an extra row each make it exit 1 naming the table, the key range
 * of the chunk and the key; put right, it exits 0 again. Besides `items` (3000 rows, six chunks of
 * 500) the source has a table of many types compared by SQL checksums, a table keyed by text in
 * different collations on the two sides, and (Postgres) a table without a key holding duplicates.
 */
const MARIADB_SOURCE = `
  SET SESSION sql_mode = '', time_zone = '+00:00';
  ${ITEMS_DDL}; ${seedItemsSql('mysql', 3000)};
  CREATE TABLE other (id int PRIMARY KEY, v text); INSERT INTO other VALUES (1, 'x');
  CREATE TABLE typed (id INT PRIMARY KEY, b BIGINT UNSIGNED, d DECIMAL(30,10), dt DATETIME(6), ts TIMESTAMP(6) NULL, da DATE,
    tm TIME(6), y YEAR, c CHAR(10), v VARCHAR(255), tx TEXT, bn BINARY(4), bl BLOB, e ENUM('a','b,c'), st SET('x','y'), bt BIT(10),
    u UUID, flag TINYINT(1), d0 DECIMAL(5,0));
  INSERT INTO typed VALUES
    (1, 18446744073709551615, -12345678901234567890.0123456789, '2024-01-02 03:04:05.123456', '2038-01-19 03:14:07.999999', '2024-02-29',
     '-838:59:58.999999', 2155, 'abc', 'tab\\tnew\\nline ☕|N', REPEAT('x', 10000), X'00FF', X'000102FEFF', 'b,c', 'x,y', b'1010101010',
     '123e4567-e89b-12d3-a456-426614174000', -5, 100),
    (2, 0, 0, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00', '00:00:00', 0, '', '', '', X'', X'', 'a', '', b'0', NULL, 0, 0),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, 1, 0.5, '1000-01-01 00:00:00', '1970-01-01 00:00:01', '1000-01-01', '00:00:00.000001', 1901, 'N', 'N', 'N', X'4E', X'4E', 'a', 'y', b'1', NULL, 1, -7);
  CREATE TABLE words (w VARCHAR(40) PRIMARY KEY, n INT);
  INSERT INTO words VALUES ('apple', 1), ('Banana', 2), ('cherry', 3), ('zebra', 4), ('Zulu', 5), ('éclair', 6), ('😀 smile', 7),
    ('a b', 8), ('a!', 9), ('_under', 10), ('~tilde', 11), ('0zero', 12), ('Mango', 13);`;

const POSTGRES_SOURCE = `
  ${ITEMS_DDL}; ${seedItemsSql('postgres', 3000)};
  CREATE TABLE other (id int PRIMARY KEY, v text); INSERT INTO other VALUES (1, 'x');
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s');
  CREATE TABLE typed (id int PRIMARY KEY, b bigint, d numeric(30,10), n numeric, dt timestamp(6), ts timestamptz, da date, tm time,
    c char(5), v varchar(255), tx text, bn bytea, e mood, bt bit(10), u uuid, flag boolean, iv interval, ip inet, pt point);
  INSERT INTO typed VALUES
    (1, 9007199254740993, -12345678901234567890.0123456789, 1.50, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+02',
     '2024-02-29', '23:59:59.999999', 'ab', E'tab\\tnew\\nline ☕|N', repeat('x', 10000), '\\x00ff10', 'it''s', B'1010101010',
     '123e4567-e89b-12d3-a456-426614174000', true, '1 year 2 mons 3 days 04:05:06.5', '192.168.0.1/24', '(1,2)'),
    (2, 0, 0, 0, '1970-01-01', '1970-01-01 00:00:00+00', '0001-01-01', '00:00:00', '', '', '', '\\x', 'sad', B'0000000000',
     '00000000-0000-0000-0000-000000000000', false, '0', '::1', '(0,0)'),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, -1, 0.5, 100, '2000-01-01 00:00:00.000001', '1999-12-31 23:59:59.5-01', '1999-12-31', '24:00:00', 'N', 'N', 'N', '\\x4e',
     'ok', B'0000000001', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', false, '-1 days +02:03:04', '10.0.0.0/8', '(-1.5,2)');
  CREATE TABLE words (w text COLLATE "und-x-icu" PRIMARY KEY, n int);
  INSERT INTO words VALUES ('a', 1), ('A', 2), ('a ', 3), ('B', 4), ('b', 5), ('é', 6), ('z', 7), ('Z', 8), ('😀', 9), ('~', 10),
    ('0', 11), ('a!', 12), ('ab', 13);
  CREATE TABLE log (at int, msg text);
  ALTER TABLE log REPLICA IDENTITY FULL;
  INSERT INTO log VALUES (1, 'dup'), (1, 'dup'), (2, NULL), (3, '');`;

/** A statement on the target's typed table `T` for each target engine, and the one that puts it right. */
const MICROSECOND_LATER = {
  postgres: ["UPDATE T SET dt = dt + interval '1 microsecond' WHERE id = 1", "UPDATE T SET dt = dt - interval '1 microsecond' WHERE id = 1"],
  mysql: ['UPDATE T SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = 1', 'UPDATE T SET dt = dt - INTERVAL 1 MICROSECOND WHERE id = 1'],
} as const;

describe.each(CROSS_ROUTES)('ferry verify on a tampered target ($label)', (route) => {
  let db: RouteDatabases;
  let config: string;
  const name = `verify_${route.source}_${route.target}`;
  const table = (t: string) => `${db.sourceSchema}.${t}`;
  const onTarget = (sql: string, t: string) => db.target.query(sql.replace(/\bT\b/, `${db.targetSchema}.${t}`));
  const verify = (mode: string, ...extra: string[]) => runCli(['verify', '-c', config, '--mode', mode, '--chunk-rows', '500', '--recheck', '0', ...extra]);

  beforeAll(async () => {
    db = await routeDatabases(route, name);
    await db.source.query(route.source === 'mysql' ? MARIADB_SOURCE : POSTGRES_SOURCE);
    config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
  afterAll(async () => db?.close());

  it('exits 0 on equal tables in both modes, every table compared by SQL checksums', async () => {
    for (const mode of ['counts', 'checksums']) {
      const r = await verify(mode);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/all \d+ tables equal/);
      expect(r.stdout).toMatch(/source rows compared in [\d.]+ s \(\d+ rows\/s\)/);
    }
    const verdict = await verifyWithCli(config, 'checksums', ['--chunk-rows', '500']);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    const items = verdict.tables.find((t) => t.table === table('items'))!;
    expect(items).toMatchObject({ method: 'sql', rows: 3000, differingRanges: [] });
    expect(items.source).toBe(items.target);
    expect(items.source).toMatch(/^3000:\d+$/);
    for (const t of verdict.tables) expect(t.method, t.table).toBe('sql');
  });

  // Statements on the target's items table (`T`), each with the one that puts it right, and what verify must name.
  it.each([
    [
      'a changed value',
      'UPDATE T SET amount = amount + 0.01 WHERE id = 1500',
      'UPDATE T SET amount = amount - 0.01 WHERE id = 1500',
      '(1000, 1500]',
      '1500 (values differ)',
      false,
    ],
    ['a missing row', 'DELETE FROM T WHERE id = 42', "INSERT INTO T VALUES (42, 42 % 17, 'seed42', 42)", '(start, 500]', '42 (missing in the target)', true],
    ['an extra row', "INSERT INTO T VALUES (900000, 1, 'extra', 1)", 'DELETE FROM T WHERE id = 900000', '(3000, end]', '900000 (extra in the target)', true],
  ])('exits 1 naming the table, the key range and the key for %s; 0 again once it is put right', async (_, tamper, repair, range, key, countsSee) => {
    await onTarget(tamper, 'items');
    try {
      const checksums = await verify('checksums');
      expect(checksums.code, checksums.stdout).toBe(1);
      expect(checksums.stdout).toMatch(new RegExp(`DIFFER\\s+${table('items')}\\b`));
      expect(checksums.stdout).toMatch(new RegExp(`equal\\s+${table('other')}\\b`));
      expect(checksums.stdout).toContain(`keys ${range}: `);
      expect(checksums.stdout).toContain(`1 differ: ${key}`);
      // Only the one chunk differs.
      expect(checksums.stdout.match(/^\s+keys /gm)).toHaveLength(1);
      const counts = await verify('counts');
      expect(counts.code, 'counts see rows missing or extra, not changed values').toBe(countsSee ? 1 : 0);
    } finally {
      await onTarget(repair, 'items');
    }
    expect((await verify('checksums')).code).toBe(0);
  });

  it.each([
    ['a timestamp a microsecond later', ...MICROSECOND_LATER[route.target], '1'],
    ["NULL for ''", 'UPDATE T SET v = NULL WHERE id = 2', "UPDATE T SET v = '' WHERE id = 2", '2'],
    ["'' for NULL", "UPDATE T SET c = '' WHERE id = 3", 'UPDATE T SET c = NULL WHERE id = 3', '3'],
    ["the text 'N' for NULL", "UPDATE T SET v = 'N' WHERE id = 3", 'UPDATE T SET v = NULL WHERE id = 3', '3'],
    ['a long text one character longer', "UPDATE T SET tx = CONCAT(tx, 'x') WHERE id = 1", 'UPDATE T SET tx = LEFT(tx, 10000) WHERE id = 1', '1'],
  ])('sees %s in the table of many types', async (_, tamper, repair, key) => {
    await onTarget(tamper, 'typed');
    try {
      const verdict = await verifyWithCli(config, 'checksums', ['--recheck', '0']);
      const typed = verdict.tables.find((t) => t.table === table('typed'))!;
      expect(typed.equal).toBe(false);
      expect(typed.differingRanges).toEqual([{ from: null, to: null, sourceRows: 4, targetRows: 4, keys: [{ key, difference: 'changed' }], differingKeys: 1 }]);
      expect(verdict.tables.filter((t) => !t.equal)).toHaveLength(1);
    } finally {
      await onTarget(repair, 'typed');
    }
    expect((await verify('checksums')).code).toBe(0);
  });

  it('ranges text keys alike on both sides, whatever their collations, three rows a chunk', async () => {
    const words = writeConfig(db.config({ tables: { include: [table('words')] } }));
    const run = (recheck = '0') => verifyWithCli(words, 'checksums', ['--chunk-rows', '3', '--recheck', recheck]);
    const equal = await run();
    expect(equal.equal, JSON.stringify(equal.tables)).toBe(true);
    expect(equal.tables[0]).toMatchObject({ method: 'sql', rows: 13 });
    const gone = route.source === 'mysql' ? 'Zulu' : 'a ';
    await onTarget(`DELETE FROM T WHERE w = '${gone}'`, 'words');
    try {
      const verdict = await run();
      const [ranges] = verdict.tables.map((t) => t.differingRanges);
      expect(ranges).toHaveLength(1);
      expect(ranges![0]!.keys).toEqual([{ key: gone, difference: 'missing' }]);
      expect(ranges![0]!.sourceRows - ranges![0]!.targetRows).toBe(1);
    } finally {
      await onTarget(`INSERT INTO T VALUES ('${gone}', ${route.source === 'mysql' ? 5 : 3})`, 'words');
    }
    expect((await run()).equal).toBe(true);
  });

  // Only a Postgres source has tables without a key (REPLICA IDENTITY FULL): the test exists for that route alone.
  if (route.source === 'postgres')
    it('compares a table without a key as a multiset: one duplicate less differs', async () => {
      await onTarget("DELETE FROM T WHERE msg = 'dup' LIMIT 1", 'log');
      try {
        const verdict = await verifyWithCli(config, 'checksums', ['--recheck', '0']);
        const log = verdict.tables.find((t) => t.table === table('log'))!;
        expect(log.equal).toBe(false);
        expect(log.differingRanges).toMatchObject([{ from: null, to: null, sourceRows: 4, targetRows: 3, keys: [{ difference: 'missing' }] }]);
        expect(log.differingRanges[0]!.keys![0]!.key).toContain('1');
      } finally {
        await onTarget("INSERT INTO T VALUES (1, 'dup')", 'log');
      }
      expect((await verify('checksums')).code).toBe(0);
    });
});

/**
 * Against a live source the target lags behind: a chunk that differs is compared again (--recheck),
 * and a difference that ferry then applies is not reported. With --recheck 0 the same lag is a difference.
 */
describe('ferry verify against a live source (MariaDB → Postgres)', () => {
  let db: RouteDatabases;
  let config: string;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' }, 'verify_live');
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('mysql', 1000)}`);
    config = writeConfig(db.config());
    ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry!.output()));
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it('re-compares a chunk the target has not caught up with, and counts only a lasting difference', async () => {
    // ferry is stopped: the source moves on alone.
    await db.source.query("UPDATE items SET val = 'moved on' WHERE id = 700");
    const once = await runCli(['verify', '-c', config, '--recheck', '0']);
    expect(once.code, once.stdout).toBe(1);
    expect(once.stdout).toContain('700 (values differ)');

    const patient = startCli(['verify', '-c', config, '--recheck', '30']);
    await sleep(1500); // verify finds the chunk differing and waits to compare it again
    ferry = startCli(['run', '-c', config]);
    const r = await patient.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all 1 tables equal/);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
});
