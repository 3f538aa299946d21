import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { pipelineConfig, startCli, verifyWithCli, waitCaughtUp, waitStreaming, writeConfig } from '../helpers/ferry.js';

/**
 * docs/type-mapping.md's MySQL table, row by row: a MySQL column type, the Postgres type ferry creates, and edge
 * values as SQL literals with the Postgres text they must arrive as (null: SQL NULL). Every value
 * travels both paths: the snapshot (rows present before ferry starts) and the binlog stream.
 */
interface Case {
  readonly mysql: string;
  readonly pg: string;
  readonly values: readonly (readonly [string, string | null])[];
}

const CASES: readonly Case[] = [
  {
    mysql: 'TINYINT',
    pg: 'smallint',
    values: [
      ['-128', '-128'],
      ['127', '127'],
      ['NULL', null],
    ],
  },
  {
    mysql: 'TINYINT UNSIGNED',
    pg: 'smallint',
    values: [
      ['0', '0'],
      ['255', '255'],
    ],
  },
  {
    mysql: 'TINYINT(1)',
    pg: 'smallint',
    values: [
      ['0', '0'],
      ['1', '1'],
      ['-5', '-5'],
    ],
  },
  {
    mysql: 'SMALLINT',
    pg: 'smallint',
    values: [
      ['-32768', '-32768'],
      ['32767', '32767'],
    ],
  },
  { mysql: 'SMALLINT UNSIGNED', pg: 'integer', values: [['65535', '65535']] },
  {
    mysql: 'MEDIUMINT',
    pg: 'integer',
    values: [
      ['-8388608', '-8388608'],
      ['8388607', '8388607'],
    ],
  },
  { mysql: 'MEDIUMINT UNSIGNED', pg: 'integer', values: [['16777215', '16777215']] },
  {
    mysql: 'INT',
    pg: 'integer',
    values: [
      ['-2147483648', '-2147483648'],
      ['2147483647', '2147483647'],
    ],
  },
  { mysql: 'INT UNSIGNED', pg: 'bigint', values: [['4294967295', '4294967295']] },
  {
    mysql: 'BIGINT',
    pg: 'bigint',
    values: [
      ['-9223372036854775808', '-9223372036854775808'],
      ['9223372036854775807', '9223372036854775807'],
      ['9007199254740993', '9007199254740993'],
    ],
  },
  {
    mysql: 'BIGINT UNSIGNED',
    pg: 'numeric(20,0)',
    values: [
      ['18446744073709551615', '18446744073709551615'],
      ['9223372036854775808', '9223372036854775808'],
      ['0', '0'],
    ],
  },
  {
    mysql: 'DECIMAL(30,10)',
    pg: 'numeric(30,10)',
    values: [
      ['-12345678901234567890.0123456789', '-12345678901234567890.0123456789'],
      ['0.0000000001', '0.0000000001'],
      ['0', '0.0000000000'],
    ],
  },
  { mysql: 'DECIMAL(5,2) UNSIGNED', pg: 'numeric(5,2)', values: [['999.99', '999.99']] },
  {
    mysql: 'FLOAT',
    pg: 'real',
    values: [
      ['1.1', '1.1'],
      ['-3.40282e38', '-3.40282e+38'],
      ['1.17549e-38', '1.17549e-38'],
      ['3.1415927', '3.1415927'],
    ],
  },
  {
    mysql: 'DOUBLE',
    pg: 'double precision',
    values: [
      ['0.1', '0.1'],
      ['1.7976931348623157e308', '1.7976931348623157e+308'],
      ['-2.2250738585072014e-308', '-2.2250738585072014e-308'],
    ],
  },
  {
    mysql: 'DATE',
    pg: 'date',
    values: [
      ["'1000-01-01'", '1000-01-01'],
      ["'9999-12-31'", '9999-12-31'],
      ["'2024-02-29'", '2024-02-29'],
      ["'0000-00-00'", null],
    ],
  },
  {
    mysql: 'DATETIME',
    pg: 'timestamp(0) without time zone',
    values: [
      ["'1000-01-01 00:00:00'", '1000-01-01 00:00:00'],
      ["'9999-12-31 23:59:59'", '9999-12-31 23:59:59'],
      ["'0000-00-00 00:00:00'", null],
    ],
  },
  {
    mysql: 'DATETIME(6)',
    pg: 'timestamp(6) without time zone',
    values: [
      ["'2024-01-02 03:04:05.123456'", '2024-01-02 03:04:05.123456'],
      ["'2024-01-02 03:04:05.000001'", '2024-01-02 03:04:05.000001'],
      ["'2024-01-02 03:04:05.100000'", '2024-01-02 03:04:05.1'],
    ],
  },
  {
    mysql: 'TIMESTAMP(6) NULL',
    pg: 'timestamp(6) with time zone',
    values: [
      ["'1970-01-01 00:00:01.000000'", '1970-01-01 00:00:01+00'],
      ["'2038-01-19 03:14:07.999999'", '2038-01-19 03:14:07.999999+00'],
      ["'0000-00-00 00:00:00'", null],
    ],
  },
  {
    mysql: 'TIME(3)',
    pg: 'interval',
    values: [
      ["'-838:59:58.999'", '-838:59:58.999'],
      ["'00:00:00'", '00:00:00'],
      ["'12:34:56.5'", '12:34:56.5'],
    ],
  },
  {
    mysql: 'YEAR',
    pg: 'smallint',
    values: [
      ['1901', '1901'],
      ['2155', '2155'],
      ['0', '0'],
    ],
  },
  {
    mysql: 'CHAR(10)',
    pg: 'character varying(10)',
    values: [
      ["'abc'", 'abc'],
      ["''", ''],
      ["'😀ü'", '😀ü'],
    ],
  },
  {
    mysql: 'VARCHAR(255)',
    pg: 'character varying(255)',
    values: [
      ["'tab\\tnew\\nline\\\\ back'", 'tab\tnew\nline\\ back'],
      ["'😀🚢 emoji'", '😀🚢 emoji'],
      ["''", ''],
      ['NULL', null],
    ],
  },
  {
    mysql: 'TEXT',
    pg: 'text',
    values: [
      ["'ünïcødé 中文 😀'", 'ünïcødé 中文 😀'],
      ["REPEAT('x', 60000)", 'x'.repeat(60000)],
    ],
  },
  { mysql: 'LONGTEXT', pg: 'text', values: [["'\\r\\n'", '\r\n']] },
  {
    mysql: 'BINARY(4)',
    pg: 'bytea',
    values: [
      ["X'00FF'", '\\x00ff0000'],
      ["X'01020304'", '\\x01020304'],
    ],
  },
  {
    mysql: 'VARBINARY(16)',
    pg: 'bytea',
    values: [
      ["X'00FF10'", '\\x00ff10'],
      ["X''", '\\x'],
    ],
  },
  {
    mysql: 'BLOB',
    pg: 'bytea',
    values: [
      ["X'000102FEFF'", '\\x000102feff'],
      ['NULL', null],
    ],
  },
  {
    mysql: 'JSON',
    pg: 'jsonb',
    values: [
      [`'{"a": 1, "big": 12345678901234567890}'`, '{"a": 1, "big": 12345678901234567890}'],
      ["'[]'", '[]'],
      [`'"😀"'`, '"😀"'],
    ],
  },
  {
    mysql: "ENUM('a','b,c','it''s')",
    pg: 'text',
    values: [
      ["'b,c'", 'b,c'],
      ["'it''s'", "it's"],
      ["'a'", 'a'],
    ],
  },
  {
    mysql: "SET('x','y','z')",
    pg: 'text',
    values: [
      ["'x,z'", 'x,z'],
      ["''", ''],
    ],
  },
  {
    mysql: 'BIT(10)',
    pg: 'bit(10)',
    values: [
      ["b'1010101010'", '1010101010'],
      ["b'0'", '0000000000'],
      ["b'1111111111'", '1111111111'],
    ],
  },
  { mysql: 'BIT(1)', pg: 'bit(1)', values: [["b'1'", '1']] },
  { mysql: 'UUID', pg: 'uuid', values: [["'123e4567-e89b-12d3-a456-426614174000'", '123e4567-e89b-12d3-a456-426614174000']] },
];

const STREAM_OFFSET = 1000;
const table = (i: number) => `t${String(i).padStart(2, '0')}`;

/** Creates one table per case, inserts the values, runs `ferry run`, inserts them again while it streams; returns the config file. */
async function replicateCases(db: TestDatabases, cases: readonly Case[], extra: Record<string, unknown> = {}): Promise<string> {
  const insertAll = async (offset: number) => {
    for (const [i, c] of cases.entries()) {
      const rows = c.values.map(([literal], j) => `(${offset + j + 1}, ${literal})`).join(', ');
      await db.my.query(`INSERT INTO ${table(i)} (id, v) VALUES ${rows}`);
    }
  };
  // Zero dates need a permissive sql_mode; TIMESTAMP literals are UTC in this session.
  await db.my.query("SET SESSION sql_mode = '', time_zone = '+00:00'");
  for (const [i, c] of cases.entries()) await db.my.query(`CREATE TABLE ${table(i)} (id INT PRIMARY KEY, v ${c.mysql})`);
  await insertAll(0);
  const config = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl, extra));
  const ferry = startCli(['run', '-c', config]);
  try {
    await waitStreaming(db.pg, db.name);
    await insertAll(STREAM_OFFSET);
    await waitCaughtUp(db.my, db.pg, db.name);
  } finally {
    ferry.child.kill('SIGTERM');
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(0);
  }
  return config;
}

/**
 * `ferry verify` over the replicated cases, two rows a chunk: every table equal, compared by SQL
 * checksums (the canonical text both engines compute) except the kinds they print differently.
 */
async function expectVerified(db: TestDatabases, config: string, cases: readonly Case[]): Promise<void> {
  const verdict = await verifyWithCli(config, 'checksums', ['--chunk-rows', '2']);
  const byTable = new Map(verdict.tables.map((t) => [t.table, t]));
  for (const [i, c] of cases.entries()) {
    const v = byTable.get(`${db.name}.${table(i)}`);
    expect(v?.equal, `${c.mysql}: ${JSON.stringify(v)}`).toBe(true);
    expect(v?.method, c.mysql).toBe(/^(FLOAT|DOUBLE|JSON)$/.test(c.mysql) ? 'rows' : 'sql');
    expect(v?.rows, c.mysql).toBe(c.values.length * 2);
  }
}

async function expectCase(db: TestDatabases, c: Case, i: number): Promise<void> {
  const {
    rows: [col],
  } = await db.pg.query(
    `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = '${db.name}.${table(i)}'::regclass AND attname = 'v'`,
  );
  expect(col.type).toBe(c.pg);
  const { rows } = await db.pg.query(`SELECT id, v::text AS v FROM ${db.name}.${table(i)} ORDER BY id`);
  const expected = c.values.map(([, text]) => text);
  expect(
    rows.filter((r) => r.id < STREAM_OFFSET).map((r) => r.v),
    'snapshot path',
  ).toEqual(expected);
  expect(
    rows.filter((r) => r.id > STREAM_OFFSET).map((r) => r.v),
    'binlog path',
  ).toEqual(expected);
}

describe('type mapping MySQL/MariaDB → Postgres (snapshot and stream)', () => {
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    db = await testDatabases('types');
    config = await replicateCases(db, CASES);
  });
  afterAll(async () => db?.close());

  it.each(CASES.map((c, i) => [c.mysql, c, i] as const))('%s', (_, c, i) => expectCase(db, c, i));

  it('ferry verify: every table equal, by SQL checksums except FLOAT, DOUBLE and JSON (row by row)', () => expectVerified(db, config, CASES));
});

describe('types.tinyint1: boolean', () => {
  const BOOL: Case = {
    mysql: 'TINYINT(1)',
    pg: 'boolean',
    values: [
      ['1', 'true'],
      ['0', 'false'],
      ['NULL', null],
    ],
  };
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    db = await testDatabases('types_bool');
    config = await replicateCases(db, [BOOL], { types: { tinyint1: 'boolean' } });
  });
  afterAll(async () => db?.close());

  it('TINYINT(1) becomes boolean', () => expectCase(db, BOOL, 0));

  it('ferry verify compares TINYINT(1) with boolean by SQL checksums', () => expectVerified(db, config, [BOOL]));
});
