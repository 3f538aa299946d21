import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import { type Engine, ROUTES, type RouteDatabases, routeDatabases } from '../helpers/routes.js';

const SALT = `hash-salt-${process.pid}-c41d09e7`;
const hmac = (v: string | Buffer) => createHmac('sha256', SALT).update(v).digest('hex');

/** One hashed column: its type per source engine, and per value set its SQL literal and the canonical text (or bytes) hashed. */
interface Hashed {
  readonly name: string;
  readonly type: Readonly<Record<Engine, string>>;
  readonly values: readonly { readonly sql: Readonly<Record<Engine, string>> | string; readonly canonical: string | Buffer }[];
}

const same = (sql: string, canonical: string | Buffer = sql.replace(/^'|'$/g, '')) => ({ sql, canonical });

/**
 * Every kind a hash may mask, with values whose text the engines, the snapshot's reads and the
 * stream's decoders could print apart: trailing zeros, fractions, negative times, big integers.
 * Timestamps are written in a +05:30 session and hash as UTC.
 */
const COLUMNS: readonly Hashed[] = [
  {
    name: 'big',
    type: { mysql: 'BIGINT UNSIGNED', postgres: 'numeric(20,0)' },
    values: [same('18446744073709551615'), same('0'), same('9007199254740993')],
  },
  {
    name: 'neg',
    type: { mysql: 'BIGINT', postgres: 'bigint' },
    values: [same('-9223372036854775808'), same('42'), same('-1')],
  },
  {
    name: 'amount',
    type: { mysql: 'DECIMAL(30,10)', postgres: 'numeric(30,10)' },
    values: [same('12.5000000000', '12.5'), same('0.0000', '0'), same('-12345678901234567890.1234500000', '-12345678901234567890.12345')],
  },
  {
    name: 'ratio',
    type: { mysql: 'DECIMAL(10,4)', postgres: 'numeric' },
    values: [same('100.0000', '100'), same('-3.1400', '-3.14'), same('0.0001')],
  },
  {
    name: 'dt0',
    type: { mysql: 'DATETIME', postgres: 'timestamp(0)' },
    values: [same("'2024-02-29 13:14:15'"), same("'1970-01-01 00:00:00'"), same("'2038-01-19 03:14:08'")],
  },
  {
    name: 'dt6',
    type: { mysql: 'DATETIME(6)', postgres: 'timestamp(6)' },
    values: [
      same("'2024-02-29 13:14:15.120000'", '2024-02-29 13:14:15.12'),
      same("'2024-01-01 00:00:00.000000'", '2024-01-01 00:00:00'),
      same("'1999-12-31 23:59:59.999999'"),
    ],
  },
  {
    name: 'ts0',
    type: { mysql: 'TIMESTAMP NULL', postgres: 'timestamptz(0)' },
    values: [
      same("'2024-03-01 05:30:00'", '2024-03-01 00:00:00'),
      same("'2024-07-01 00:00:00'", '2024-06-30 18:30:00'),
      same("'2001-02-03 04:05:06'", '2001-02-02 22:35:06'),
    ],
  },
  {
    name: 'ts3',
    type: { mysql: 'TIMESTAMP(3) NULL', postgres: 'timestamptz(3)' },
    values: [
      same("'2024-03-01 05:30:00.500'", '2024-03-01 00:00:00.5'),
      same("'2024-03-01 05:30:00.000'", '2024-03-01 00:00:00'),
      same("'2024-03-01 05:30:00.123'", '2024-03-01 00:00:00.123'),
    ],
  },
  {
    name: 'day',
    type: { mysql: 'DATE', postgres: 'date' },
    values: [same("'2024-02-29'"), same("'1000-01-01'"), same("'9999-12-31'")],
  },
  {
    name: 'tm0',
    type: { mysql: 'TIME', postgres: 'time(0)' },
    values: [{ sql: { mysql: "'-838:59:59'", postgres: "'23:59:59'" }, canonical: '' }, same("'00:00:00'"), same("'12:34:56'")],
  },
  {
    name: 'tm6',
    type: { mysql: 'TIME(6)', postgres: 'time(6)' },
    values: [
      same("'12:00:00.500000'", '12:00:00.5'),
      { sql: { mysql: "'-00:00:01.500000'", postgres: "'00:00:01.500000'" }, canonical: '' },
      same("'01:02:03.000001'"),
    ],
  },
  {
    name: 'bits',
    type: { mysql: 'BIT(10)', postgres: 'bit(10)' },
    values: [
      { sql: { mysql: "b'0000000101'", postgres: "B'0000000101'" }, canonical: '0000000101' },
      { sql: { mysql: "b'1111111111'", postgres: "B'1111111111'" }, canonical: '1111111111' },
      { sql: { mysql: "b'1000000000'", postgres: "B'1000000000'" }, canonical: '1000000000' },
    ],
  },
  {
    name: 'bytes',
    type: { mysql: 'VARBINARY(16)', postgres: 'bytea' },
    values: [
      { sql: { mysql: "X'00ff10'", postgres: "'\\x00ff10'" }, canonical: Buffer.from('00ff10', 'hex') },
      { sql: { mysql: "X'ff0000'", postgres: "'\\xff0000'" }, canonical: Buffer.from('ff0000', 'hex') },
      { sql: { mysql: "X''", postgres: "'\\x'" }, canonical: Buffer.alloc(0) },
    ],
  },
  {
    name: 'fixed',
    type: { mysql: 'BINARY(4)', postgres: 'bytea' },
    values: [
      { sql: { mysql: "X'01020304'", postgres: "'\\x01020304'" }, canonical: Buffer.from('01020304', 'hex') },
      { sql: { mysql: "X'00000000'", postgres: "'\\x00000000'" }, canonical: Buffer.from('00000000', 'hex') },
      { sql: { mysql: "X'61000000'", postgres: "'\\x61000000'" }, canonical: Buffer.from('61000000', 'hex') },
    ],
  },
  {
    name: 'doc',
    type: { mysql: 'JSON', postgres: 'jsonb' },
    values: [
      { sql: `'{"b": 1, "a": [1, 2.50]}'`, canonical: '{"a":[1,2.50],"b":1}' },
      { sql: `'[]'`, canonical: '[]' },
      // MariaDB's string literal takes \\ for the backslash of JSON's \u escape.
      {
        sql: { mysql: `'{"k": "v\\\\u00e9", "n": null, "t": true}'`, postgres: `'{"k": "v\\u00e9", "n": null, "t": true}'` },
        canonical: '{"k":"vé","n":null,"t":true}',
      },
    ],
  },
  {
    name: 'flag',
    type: { mysql: 'BOOLEAN', postgres: 'boolean' },
    // MariaDB's BOOLEAN is TINYINT(1): an integer unless source.tinyint1 says boolean.
    values: [same('TRUE', ''), same('FALSE', ''), same('TRUE', '')],
  },
  {
    name: 'real4',
    type: { mysql: 'FLOAT', postgres: 'real' },
    values: [same('1.1'), same('-0.5'), same('3.4e38', '3.4e+38')],
  },
  {
    name: 'real8',
    type: { mysql: 'DOUBLE', postgres: 'double precision' },
    values: [same('0.1'), same('1e300', '1e+300'), same('-2.5')],
  },
];

/** Canonical texts that differ by engine: a TIME's range, a boolean's type. */
function canonicalOf(engine: Engine, c: Hashed, set: number): string | Buffer {
  const v = c.values[set]!;
  if (v.canonical !== '') return v.canonical;
  const sql = typeof v.sql === 'string' ? v.sql : v.sql[engine];
  if (c.name === 'flag') return engine === 'mysql' ? String(Number(sql === 'TRUE')) : String(sql === 'TRUE');
  const text = sql.replace(/^'|'$/g, '');
  return text.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

const sqlOf = (engine: Engine, c: Hashed, set: number) => {
  const v = c.values[set]!.sql;
  return typeof v === 'string' ? v : v[engine];
};

/** The key is a decimal with trailing zeros, hashed too: its stream and snapshot hashes must meet, or an update would split a row in two. */
const keyOf = (k: number) => `${k}.${k % 2 === 0 ? '5000' : '0000'}`;
const keyCanonical = (k: number) => (k % 2 === 0 ? `${k}.5` : String(k));
const SETS = 3;

function rowSql(engine: Engine, k: number, set: number): string {
  return `(${keyOf(k)}, ${set}, ${COLUMNS.map((c) => sqlOf(engine, c, set)).join(', ')})`;
}

describe.each(ROUTES.filter((r) => r.target === 'postgres'))('hashes are the same by the snapshot and the stream, $label', (route) => {
  const name = `xhash_${route.source}`;
  let db: RouteDatabases;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it('hashes every maskable type to HMAC(salt, its canonical text), for snapshot rows, streamed inserts and updates of snapshot rows', async () => {
    const e = route.source;
    const key = e === 'mysql' ? 'DECIMAL(12,4)' : 'numeric(12,4)';
    // The writers' session is not in UTC: timestamps must still hash as their UTC text.
    await db.source.query(e === 'mysql' ? "SET time_zone = '+05:30'" : "SET TIME ZONE 'Asia/Kolkata'");
    if (e === 'postgres') await db.source.query(`ALTER DATABASE ${db.name} SET timezone = 'America/New_York'`);
    await db.source.query(`CREATE TABLE typed (k ${key} PRIMARY KEY, n INT NOT NULL, ${COLUMNS.map((c) => `${c.name} ${c.type[e]}`).join(', ')})`);
    const snapshotKeys = Array.from({ length: 12 }, (_, i) => i + 1);
    await db.source.query(`INSERT INTO typed VALUES ${snapshotKeys.map((k) => rowSql(e, k, k % SETS)).join(', ')}`);
    const config = writeConfig(
      db.config({
        transforms: {
          salt: SALT,
          rules: [{ match: `${db.sourceSchema}.typed`, mask: Object.fromEntries(['k', ...COLUMNS.map((c) => c.name)].map((n) => [n, 'hash'])) }],
        },
      }),
    );
    ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => (await db.checkpoint())?.phase === 'stream' && /streaming from/.test(ferry!.output()), 120_000);
    // By the stream: new rows with every value set, and each snapshot row updated to the next set (its key unchanged).
    const streamKeys = Array.from({ length: 6 }, (_, i) => 101 + i);
    await db.source.query(`INSERT INTO typed VALUES ${streamKeys.map((k) => rowSql(e, k, k % SETS)).join(', ')}`);
    const updated = snapshotKeys.filter((k) => k % 2 === 0);
    for (const k of updated) {
      const set = (k + 1) % SETS;
      await db.source.query(`UPDATE typed SET n = ${set}, ${COLUMNS.map((c) => `${c.name} = ${sqlOf(e, c, set)}`).join(', ')} WHERE k = ${keyOf(k)}`);
    }
    await db.waitCaughtUp(60_000);

    const setOf = new Map([
      ...snapshotKeys.map((k) => [k, updated.includes(k) ? (k + 1) % SETS : k % SETS] as const),
      ...streamKeys.map((k) => [k, k % SETS] as const),
    ]);
    // Each hash read back as the canonical text it is the HMAC of (unknown ones as themselves): a failure names the text that differs.
    const texts = new Map<string, string>();
    const known = (v: string | Buffer) => texts.set(hmac(v), Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : v).get(hmac(v))!;
    const expected = [...setOf].map(([k, set]) => ({
      k: known(keyCanonical(k)),
      n: String(set),
      ...Object.fromEntries(COLUMNS.map((c) => [c.name, known(canonicalOf(e, c, set))])),
    }));
    const rows = await rowsAsText(db.target, db.targetSchema, 'typed', ['k', 'n', ...COLUMNS.map((c) => c.name)]);
    const target = rows.map((r) => Object.fromEntries(Object.entries(r).map(([c, v]) => [c, c === 'n' || v === null ? v : (texts.get(v) ?? v)])));
    const byKey = (a: Record<string, string | null>, b: Record<string, string | null>) => Number(a.n) - Number(b.n) || String(a.k).localeCompare(String(b.k));
    // One target row per source row: an update found its snapshot row under the same hashed key.
    expect(target.length).toBe(setOf.size);
    expect(target.sort(byKey)).toEqual(expected.sort(byKey));

    const verdict = await verifyWithCli(config, 'checksums', ['--recheck', '0']);
    const typed = verdict.tables.find((t) => t.table.endsWith('.typed'))!;
    expect(typed, JSON.stringify(verdict.tables)).toMatchObject({ equal: true, method: 'transforms', rows: setOf.size });
    console.log(
      `hash stability ${route.label}: ${COLUMNS.length + 1} hashed columns (${COLUMNS.map((c) => c.type[e]).join(', ')}); ${snapshotKeys.length} rows by the snapshot (${updated.length} updated by the stream), ${streamKeys.length} inserted by the stream: ${target.length * (COLUMNS.length + 1)} hashes equal to HMAC(salt, canonical text); verify through the rule equal over ${typed.rows} rows`,
    );
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
});
