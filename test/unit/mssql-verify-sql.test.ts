import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, TableSchema, TargetEngine } from '../../src/core/schema.js';
import type { VerifySide } from '../../src/core/verify-side.js';
import type { PhysicalColumn } from '../../src/core/verify-sql.js';
import { mssqlVerifySql, typeText } from '../../src/engines/mssql/verify-sql.js';
import { fieldSql, keySql, ownOrderIsByteOrder, rowHashSql } from '../../src/verify/canonical-sql.js';
import { boundarySql, checksumSql, rowsSql, type SideTable } from '../../src/verify/statements.js';
import { type VerifiedSource, verifyTables } from '../../src/verify/verify.js';
import { runSelect, type TsqlRow, type TsqlValue } from '../helpers/tsql-eval.js';
import { parseTsql } from '../helpers/tsql.js';

const MSSQL: TargetEngine = 'mssql';
const sql = mssqlVerifySql;
const phys = (type: string, collation: string | null = null): PhysicalColumn => ({ type, collation, bytewise: /^binary\(/.test(type) });

const column = (name: string, type: ColumnType, sourceType: string): Column => ({
  name,
  type,
  sourceType,
  nullable: true,
  autoIncrement: false,
  backfill: { value: null },
});

/** A MySQL table with a composite key (a number, then a text in a case-insensitive collation) and one column of each common kind. */
const ORDERS: TableSchema = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'orders' },
  target: { schema: 'dbo', name: 'orders' },
  columns: [
    column('tenant', { kind: 'int', bytes: 8, unsigned: true }, 'bigint(20) unsigned'),
    column('code', { kind: 'string', maxLength: 20 }, 'varchar(20)'),
    column('amount', { kind: 'decimal', precision: 12, scale: 2 }, 'decimal(12,2)'),
    column('paid', { kind: 'bool' }, 'tinyint(1)'),
    column('placed', { kind: 'datetime', fsp: 6 }, 'datetime(6)'),
    column('due', { kind: 'date' }, 'date'),
    column('slot', { kind: 'time', fsp: 6 }, 'time(6)'),
    column('note', { kind: 'string', maxLength: null }, 'longtext'),
    column('digest', { kind: 'binary', fixedLength: 16 }, 'binary(16)'),
    column('ref', { kind: 'uuid' }, 'uuid'),
    column('status', { kind: 'enum', values: ['new', 'paid'] }, "enum('new','paid')"),
    column('flags', { kind: 'bit', length: 3 }, 'bit(3)'),
  ],
  primaryKey: ['tenant', 'code'],
  indexes: [],
};

/** The collation ferry creates text columns with (sinks/mssql/mssql-dialect.ts): BIN2, still not byte order (it pads, and orders UTF-16). */
const BIN2 = 'Latin1_General_100_BIN2';

/** sys.columns as ferry creates ORDERS (sinks/mssql/mssql-dialect.ts): name, TYPE_NAME, max_length (bytes), precision, scale, collation. */
const ORDERS_CATALOG: (string | null)[][] = [
  ['tenant', 'decimal', '9', '20', '0', null],
  ['code', 'nvarchar', '80', '0', '0', BIN2],
  ['amount', 'decimal', '9', '12', '2', null],
  ['paid', 'bit', '1', '1', '0', null],
  ['placed', 'datetime2', '8', '26', '6', null],
  ['due', 'date', '3', '10', '0', null],
  ['slot', 'time', '5', '15', '6', null],
  ['note', 'nvarchar', '-1', '0', '0', BIN2],
  ['digest', 'binary', '16', '0', '0', null],
  ['ref', 'uniqueidentifier', '16', '0', '0', null],
  ['status', 'nvarchar', '8', '0', '0', BIN2],
  ['flags', 'nvarchar', '6', '0', '0', BIN2],
];

/** information_schema.COLUMNS as MySQL has ORDERS. */
const MYSQL_CATALOG: (string | null)[][] = [
  ['tenant', 'bigint(20) unsigned', null],
  ['code', 'varchar(20)', 'utf8mb4_0900_ai_ci'],
  ['amount', 'decimal(12,2)', null],
  ['paid', 'tinyint(1)', null],
  ['placed', 'datetime(6)', null],
  ['due', 'date', null],
  ['slot', 'time(6)', null],
  ['note', 'longtext', 'utf8mb4_0900_ai_ci'],
  ['digest', 'binary(16)', null],
  ['ref', 'uuid', null],
  ['status', "enum('new','paid')", 'utf8mb4_0900_ai_ci'],
  ['flags', 'bit(3)', null],
];

/**
 * One row twice: its canonical texts as MySQL prints them (docs/verify.md's table, MySQL's canonical
 * SQL in src/engines/mysql/verify-sql.ts), and the same values as SQL Server holds them.
 */
interface SampleRow {
  readonly mysql: Readonly<Record<string, string | null>>;
  readonly mssql: TsqlRow;
}

const nv = (v: string): TsqlValue => ({ t: 'text', v });
const UUID = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
const DIGEST = '00112233445566778899aabbccddeeff';

/** The value SQL Server holds for a column whose canonical text is `v` (or `held`, where its own text differs). */
function held(name: string, v: string): TsqlValue {
  switch (name) {
    case 'tenant':
    case 'amount':
      return { t: 'decimal', v };
    case 'paid':
      return { t: 'bit', v: v === '1' ? 1 : 0 };
    case 'placed':
      return { t: 'datetime2', v };
    case 'due':
      return { t: 'date', v };
    case 'slot':
      return { t: 'time', v };
    case 'digest':
      return { t: 'bytes', v: Buffer.from(v, 'hex') };
    case 'ref':
      return { t: 'uniqueidentifier', v: v.toUpperCase() };
    default:
      return nv(v);
  }
}

/** A row from its canonical texts; `[text, held]` where SQL Server's own text of the value differs from the canonical one. */
function sample(tenant: string, code: string, values: Readonly<Record<string, string | readonly [string, string]>> = {}): SampleRow {
  const mysql: Record<string, string | null> = Object.fromEntries(ORDERS.columns.map((c) => [c.name, null]));
  const mssql: Record<string, TsqlValue> = { ...mysql } as Record<string, TsqlValue>;
  for (const [name, value] of Object.entries({ tenant, code, ...values })) {
    const [text, own] = typeof value === 'string' ? [value, value] : value;
    mysql[name] = text;
    mssql[name] = held(name, own);
  }
  return { mysql, mssql };
}

const ROWS: readonly SampleRow[] = [
  sample('1', 'abc', {
    amount: ['12.5', '12.50'],
    paid: '1',
    placed: '2024-01-02 03:04:05.123456',
    due: '2024-01-02',
    slot: ['3723000001', '01:02:03.000001'],
    note: 'a long text 😀 ending in spaces  ',
    digest: DIGEST,
    ref: UUID,
    status: 'paid',
    flags: '101',
  }),
  sample('5', 'm', { amount: ['0', '0.00'], paid: '0', status: 'new', flags: '000' }),
  sample('5', 'm ', { amount: ['-0.5', '-0.50'], note: '' }),
  sample('5', '\uff21', { amount: ['100', '100.00'] }), // FULLWIDTH A: after a surrogate pair in UTF-16, before it in UTF-8
  sample('5', '😀'),
  sample('18446744073709551615', 'z', { amount: '0.05' }),
];

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

/** Postgres's and MySQL's row fingerprint of canonical texts: fields as canonical-sql.ts forms them, joined by '|', the md5's first 60 bits. */
function referenceFields(row: SampleRow['mysql']): string[] {
  return ORDERS.columns.map((c) => {
    const v = row[c.name] ?? null;
    if (v === null) return 'N';
    if (c.name === 'note') return md5(v);
    if (c.name === 'code' || c.name === 'status') return `${[...v].length}:${v}`;
    return v;
  });
}

function referenceHash(row: SampleRow['mysql']): bigint {
  return BigInt(`0x${md5(referenceFields(row).join('|')).slice(0, 15)}`);
}

/** Key order at the source: the number, then the text's UTF-8 bytes. */
const keyOrder = (a: SampleRow['mysql'], b: SampleRow['mysql']) =>
  BigInt(a.tenant!) !== BigInt(b.tenant!) ? (BigInt(a.tenant!) < BigInt(b.tenant!) ? -1 : 1) : Buffer.compare(Buffer.from(a.code!), Buffer.from(b.code!));

/**
 * A MySQL source answering verify's statements from ROWS by the reference: boundaries by the key
 * order, checksums by referenceHash, rows as their key texts and fields. The bounds of a chunk are read
 * from the expanded key comparison's parameters (a, a, b for each bound).
 */
function mysqlSource(rows: readonly SampleRow[]): VerifySide {
  const sorted = rows.map((r) => r.mysql).sort(keyOrder);
  const after = (sql: string, params: readonly string[]) => {
    const from = / > /.test(sql) ? { tenant: params[1]!, code: params[2]! } : null;
    const to = / <= /.test(sql) ? { tenant: params.at(-2)!, code: params.at(-1)! } : null;
    return sorted.filter((r) => (!from || keyOrder(r, from) > 0) && (!to || keyOrder(r, to) <= 0));
  };
  return {
    engine: 'mysql',
    tableId: (t) => t.source,
    async query(sql, params = []) {
      if (sql.includes('information_schema')) return MYSQL_CATALOG;
      const limit = /LIMIT (\d+), 1$/.exec(sql);
      if (limit) {
        const next = after(sql, params)[Number(limit[1])];
        return next ? [[next.tenant!, next.code!]] : [];
      }
      const chunk = after(sql, params);
      if (sql.startsWith('SELECT COUNT(*)')) return [[String(chunk.length), String(chunk.reduce((n, r) => n + referenceHash(r), 0n))]];
      return chunk.map((r) => [r.tenant!, r.code!, ...referenceFields(r)]);
    },
    close: async () => {},
  };
}

/** SQL Server as the model has it: every statement verify sends is parsed as T-SQL and evaluated over `rows`. */
function mssqlTarget(rows: readonly TsqlRow[]): VerifySide & { statements: { sql: string; params: readonly string[] }[] } {
  const statements: { sql: string; params: readonly string[] }[] = [];
  return {
    engine: MSSQL,
    statements,
    tableId: (t) => t.target,
    async query(statement, params = []) {
      statements.push({ sql: statement, params });
      expect(() => parseTsql(statement)).not.toThrow();
      if (statement.includes('sys.columns')) return params[0] === '[dbo].[orders]' ? ORDERS_CATALOG : [];
      return runSelect(statement, rows, params);
    },
    close: async () => {},
  };
}

function endpoints(source: VerifySide, target: VerifySide) {
  return [
    { verifySide: async () => source, estimateRows: async () => 6, countRows: async () => 6 } as unknown as VerifiedSource,
    { verifySide: async () => target, countRows: async () => 6 },
  ] as const;
}

describe('verify into SQL Server, each statement run by a model of SQL Server (test/helpers/tsql-eval.ts)', () => {
  const options = { chunkRows: 4, recheck: 0, recheckDelayMs: 0 };

  it('computes for each chunk the count and the checksum Postgres and MySQL compute for the same rows', async () => {
    const target = mssqlTarget(ROWS.map((r) => r.mssql));
    const [verdict] = await verifyTables(...endpoints(mysqlSource(ROWS), target), [ORDERS], 'checksums', options);
    expect(verdict).toMatchObject({ table: 'shop.orders', equal: true, method: 'sql', rows: 6 });
    const sum = ROWS.reduce((n, r) => n + referenceHash(r.mysql), 0n);
    expect(verdict!.target).toBe(`6:${sum}`);
    // The catalog, then one checksum per chunk: (start, (5, Ａ)] and ((5, Ａ), end].
    expect(target.statements.map((s) => s.sql.slice(0, 30))).toEqual([
      expect.stringContaining('SELECT c.name, TYPE_NAME'),
      expect.stringContaining('SELECT CAST(COUNT_BIG(*)'),
      expect.stringContaining('SELECT CAST(COUNT_BIG(*)'),
    ]);
    expect(target.statements.map((s) => s.params)).toEqual([['[dbo].[orders]'], ['5', '5', '\uff21'], ['5', '5', '\uff21']]);
  });

  it('selects the chunk the source cut: keys by number, then by the UTF-8 bytes of the text, not by UTF-16 or padded comparison', async () => {
    const target = mssqlTarget(ROWS.map((r) => r.mssql));
    await verifyTables(...endpoints(mysqlSource(ROWS), target), [ORDERS], 'checksums', options);
    const [first, second] = target.statements.slice(1);
    // (5, 'm ') is after (5, 'm') and Ａ (U+FF21) before 😀 (U+1F600), as in UTF-8 and unlike nvarchar comparisons.
    expect(
      runSelect(
        first!.sql,
        ROWS.map((r) => r.mssql),
        first!.params,
      ),
    ).toEqual([['4', String(ROWS.slice(0, 4).reduce((n, r) => n + referenceHash(r.mysql), 0n))]]);
    expect(
      runSelect(
        second!.sql,
        ROWS.map((r) => r.mssql),
        second!.params,
      )[0]![0],
    ).toBe('2');
  });

  it('reads a chunk whose checksums differ row by row and names the differing keys', async () => {
    const changed = ROWS.map((r, i) => (i === 1 ? { ...r.mssql, amount: { t: 'decimal', v: '0.01' } as TsqlValue } : r.mssql));
    const target = mssqlTarget(changed.filter((_, i) => i !== 4));
    const [verdict] = await verifyTables(...endpoints(mysqlSource(ROWS), target), [ORDERS], 'checksums', options);
    expect(verdict!.equal).toBe(false);
    expect(verdict!.differingRanges.map((r) => r.keys)).toEqual([[{ key: '(5, m)', difference: 'changed' }], [{ key: '(5, 😀)', difference: 'missing' }]]);
    // Each chunk: its checksum, then its rows (keys' texts and every field, in key order).
    expect(target.statements.slice(1).map((st) => st.sql.startsWith('SELECT CAST(COUNT_BIG(*)'))).toEqual([true, false, true, false]);
  });
});

/** A canonical expression of column `x` evaluated by the model over one value. */
function evaluated(expr: string, x: TsqlValue): string | null {
  return runSelect(`SELECT ${expr} FROM [dbo].[t] AS t`, [{ x }])[0]![0]!;
}

describe('verify from Postgres into SQL Server, a table whose float and array are compared in Node', () => {
  const READINGS: TableSchema = {
    engine: 'postgres',
    source: { schema: 'public', name: 'readings' },
    target: { schema: 'dbo', name: 'readings' },
    columns: [
      column('id', { kind: 'int', bytes: 4, unsigned: false }, 'integer'),
      column('at', { kind: 'timestamp', fsp: 6 }, 'timestamp with time zone'),
      column('score', { kind: 'double' }, 'double precision'),
      column('tags', { kind: 'array', element: { kind: 'int', bytes: 4, unsigned: false } }, 'integer[]'),
    ],
    primaryKey: ['id'],
    indexes: [],
  };
  /** Postgres's rows: the key's text, then its fields and raw texts (Postgres prints the shortest text of a double). */
  const source: VerifySide = {
    engine: 'postgres',
    tableId: (t) => t.source,
    async query(statement) {
      if (statement.includes('to_regclass')) return [['public.readings']];
      if (statement.includes('pg_attribute'))
        return [
          ['id', 'integer', null, 'false'],
          ['at', 'timestamp(6) with time zone', null, 'false'],
          ['score', 'double precision', null, 'false'],
          ['tags', 'integer[]', null, 'false'],
        ];
      if (statement.includes('OFFSET')) return [];
      return [['1', '1', '2024-01-01 23:30:00.000001', '0.1', '{1,2}']];
    },
    close: async () => {},
  };
  const catalog = [
    ['id', 'int', '4', '10', '0', null],
    ['at', 'datetimeoffset', '10', '33', '6', null],
    ['score', 'float', '8', '53', '0', null],
    ['tags', 'nvarchar', '-1', '0', '0', BIN2],
  ];
  const target = (score: number): VerifySide => ({
    engine: MSSQL,
    tableId: (t) => t.target,
    async query(statement, params = []) {
      expect(() => parseTsql(statement)).not.toThrow();
      if (statement.includes('sys.columns')) return catalog;
      const row = {
        id: { t: 'int', v: 1n },
        at: { t: 'datetimeoffset', v: '2024-01-02 01:30:00.000001 +02:00' },
        score: { t: 'float', v: score },
        tags: nv('[1, 2]'),
      } as const;
      return runSelect(statement, [row], params);
    },
    close: async () => {},
  });

  it('reads the float as the number tedious reads and compares it, the array and the UTC timestamp in Node', async () => {
    const [equal] = await verifyTables(...endpoints(source, target(0.1)), [READINGS], 'checksums', { recheck: 0 });
    expect(equal).toMatchObject({ equal: true, method: 'rows', rows: 1 });
    const [differs] = await verifyTables(...endpoints(source, target(0.1 + 2 ** -55)), [READINGS], 'checksums', { recheck: 0 });
    expect(differs!.differingRanges[0]!.keys).toEqual([{ key: '1', difference: 'changed' }]);
  });
});

describe('canonical texts for sample values, as Postgres and MySQL print the same values', () => {
  const canon = (t: ColumnType, type: string, x: TsqlValue) => evaluated(sql.canonical(t, phys(type), 't.[x]'), x);

  it.each<[string, string]>([
    ['12.50', '12.5'],
    ['2.00', '2'],
    ['0.00', '0'],
    ['-0.50', '-0.5'],
    ['100.00', '100'],
    ['0.05', '0.05'],
    ['10.10', '10.1'],
  ])('decimal(12,2) %s as %s (trim_scale; MySQL trims the zeros and the point)', (held, text) => {
    expect(canon({ kind: 'decimal', precision: 12, scale: 2 }, 'decimal(12,2)', { t: 'decimal', v: held })).toBe(text);
  });

  it('prints whole numbers and bigint unsigned (decimal(20,0)) as digits', () => {
    expect(canon({ kind: 'decimal', precision: 20, scale: 0 }, 'decimal(20,0)', { t: 'decimal', v: '18446744073709551615' })).toBe('18446744073709551615');
    expect(canon({ kind: 'int', bytes: 8, unsigned: true }, 'decimal(20,0)', { t: 'decimal', v: '0' })).toBe('0');
    expect(canon({ kind: 'int', bytes: 4, unsigned: false }, 'int', { t: 'int', v: -42n })).toBe('-42');
  });

  it('prints booleans as 1/0, from bit or from a number', () => {
    expect(canon({ kind: 'bool' }, 'bit', { t: 'bit', v: 1 })).toBe('1');
    expect(canon({ kind: 'bool' }, 'tinyint', { t: 'int', v: 2n })).toBe('1');
    expect(canon({ kind: 'bool' }, 'tinyint', { t: 'int', v: 0n })).toBe('0');
    expect(canon({ kind: 'bool' }, 'tinyint', null)).toBeNull();
  });

  it('prints BIT(n) as its digits: a bit, or the text BIT(n > 1) is held as (MySQL LPAD(BIN(x), n, 0), Postgres bit(n)::text)', () => {
    expect(canon({ kind: 'bit', length: 1 }, 'bit', { t: 'bit', v: 1 })).toBe('1');
    expect(canon({ kind: 'bit', length: 5 }, 'nvarchar(5)', nv('00101'))).toBe('00101');
  });

  it('prints time as microseconds since midnight', () => {
    expect(canon({ kind: 'time', fsp: 6 }, 'time(6)', { t: 'time', v: '23:59:59.999999' })).toBe('86399999999');
    expect(canon({ kind: 'time', fsp: 0 }, 'time(0)', { t: 'time', v: '00:00:00' })).toBe('0');
  });

  it('prints timestamps with six fractional digits, a datetimeoffset in UTC', () => {
    const ts = { kind: 'timestamp', fsp: 6 } as const;
    expect(canon(ts, 'datetimeoffset(6)', { t: 'datetimeoffset', v: '2024-01-02 01:30:00.000001 +02:00' })).toBe('2024-01-01 23:30:00.000001');
    expect(canon({ kind: 'datetime', fsp: 0 }, 'datetime2(0)', { t: 'datetime2', v: '2024-01-02 03:04:05.000000' })).toBe('2024-01-02 03:04:05.000000');
    expect(canon({ kind: 'date' }, 'date', { t: 'date', v: '0099-01-05' })).toBe('0099-01-05');
  });

  it('prints uuids, bytes and hashes in lower case', () => {
    expect(canon({ kind: 'uuid' }, 'uniqueidentifier', { t: 'uniqueidentifier', v: UUID })).toBe(UUID);
    expect(canon({ kind: 'binary', fixedLength: 4 }, 'binary(4)', { t: 'bytes', v: Buffer.from('00ab10ff', 'hex') })).toBe('00ab10ff');
    expect(evaluated(sql.md5('t.[x]', 'bytes'), { t: 'bytes', v: Buffer.from('00ff', 'hex') })).toBe(md5(Buffer.from('00ff', 'hex')));
  });

  it('hashes the UTF-8 bytes of text, as md5() and MD5() do, not its UTF-16', () => {
    for (const s of ['', 'plain', 'é', '😀 and Ａ', 'trailing  ']) expect(evaluated(sql.md5('t.[x]', 'text'), nv(s))).toBe(md5(s));
  });

  it('prefixes free text with its length in code points, trailing spaces counted (length(), CHAR_LENGTH())', () => {
    const field = (s: string | null) => evaluated(fieldSql(MSSQL, { kind: 'string', maxLength: 20 }, phys('nvarchar(20)'), 't.[x]'), s === null ? null : nv(s));
    expect(field('abc')).toBe('3:abc');
    expect(field('a  ')).toBe('3:a  ');
    expect(field('😀x')).toBe('2:😀x');
    expect(field('')).toBe('0:');
    expect(field(null)).toBe('N');
  });

  it('sums the first 60 bits of the md5 of the fields joined by |, however long the row', () => {
    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const text = (i: number) => `${'é'.repeat(240)}${i}`;
    const fields = names.map((n) => fieldSql(MSSQL, { kind: 'string', maxLength: 255 }, phys('nvarchar(255)'), `t.[${n}]`));
    const row = Object.fromEntries(names.map((n, i) => [n, nv(text(i))]));
    const [[count, sum]] = runSelect(`SELECT ${sql.countAndSum(rowHashSql(MSSQL, fields))} FROM [dbo].[t] AS t`, [row, row]);
    const joined = names.map((_, i) => `${[...text(i)].length}:${text(i)}`).join('|');
    expect(joined.length).toBeGreaterThan(4000); // past where + cuts an nvarchar that is not (max)
    expect([count, sum]).toEqual(['2', String(2n * BigInt(`0x${md5(joined).slice(0, 15)}`))]);
  });
});

describe('the statements for a SQL Server side', () => {
  const catalog = new Map(
    ORDERS_CATALOG.map(([name, type, len, precision, scale, collation]) => [
      name!,
      phys(typeText(type!, Number(len), Number(precision), Number(scale)), collation),
    ]),
  );
  const side: SideTable = {
    engine: MSSQL,
    ref: sql.qualified({ schema: 'dbo', name: 'orders' }),
    key: ['tenant', 'code'].map((name) => {
      const c = ORDERS.columns.find((col) => col.name === name)!;
      const p = catalog.get(name)!;
      return keySql(MSSQL, c.type, p, `t.${sql.quoteIdent(name)}`, c.type.kind === 'int');
    }),
    values: ORDERS.columns.map((c) => fieldSql(MSSQL, c.type, catalog.get(c.name)!, `t.${sql.quoteIdent(c.name)}`)),
    hash: rowHashSql(
      MSSQL,
      ORDERS.columns.map((c) => fieldSql(MSSQL, c.type, catalog.get(c.name)!, `t.${sql.quoteIdent(c.name)}`)),
    ),
  };
  const held = ROWS.map((r) => r.mssql);

  it('reads the catalog into T-SQL type names, with the key text compared by its UTF-8 bytes and the number by itself', () => {
    expect([...catalog.values()].map((p) => p.type)).toEqual([
      'decimal(20,0)',
      'nvarchar(40)',
      'decimal(12,2)',
      'bit',
      'datetime2(6)',
      'date',
      'time(6)',
      'nvarchar(max)',
      'binary(16)',
      'uniqueidentifier',
      'nvarchar(4)',
      'nvarchar(3)',
    ]);
    expect(side.key.map((k) => [k.expr, k.param('@p1')])).toEqual([
      ['t.[tenant]', 'CAST(@p1 AS decimal(20,0))'],
      [
        'CAST(CAST((t.[code]) COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) AS varbinary(max))',
        'CAST(CAST((@p1) COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) AS varbinary(max))',
      ],
    ]);
  });

  it('finds the next boundary `rows` keys on, in the source key order, with OFFSET … FETCH after its ORDER BY', () => {
    const first = boundarySql(side, null, 3);
    expect(first.sql).toMatch(/ ORDER BY t\.\[tenant\], CAST\(CAST\(\(t\.\[code\]\) .* OFFSET 2 ROWS FETCH NEXT 1 ROWS ONLY$/);
    expect(parseTsql(first.sql)).toHaveLength(1);
    expect(runSelect(first.sql, held, first.params)).toEqual([['5', 'm ']]);
    const next = boundarySql(side, ['5', 'm '], 2);
    expect(next.params).toEqual(['5', '5', 'm ']);
    expect(runSelect(next.sql, held, next.params)).toEqual([['5', '😀']]);
    expect(runSelect(boundarySql(side, ['5', '😀'], 2).sql, held, ['5', '5', '😀'])).toEqual([]);
  });

  it('reads a chunk row by row in key order: key texts, then each field', () => {
    const s = rowsSql(side, { from: ['1', 'abc'], to: ['5', '😀'] });
    const ast = parseTsql(s.sql)[0] as { columns: unknown[]; from: unknown[]; orderby: unknown[] };
    expect([ast.columns.length, ast.orderby.length]).toEqual([2 + ORDERS.columns.length, 2]);
    expect(ast.from).toEqual([expect.objectContaining({ db: 'dbo', table: 'orders', as: 't' })]);
    expect(runSelect(s.sql, held, s.params)).toEqual(ROWS.slice(1, 5).map((r) => [r.mysql.tenant, r.mysql.code, ...referenceFields(r.mysql)]));
  });

  it('checksums a chunk: count and sum as decimal text, 0 for an empty chunk', () => {
    const s = checksumSql(side, { from: ['18446744073709551615', 'z'], to: null });
    expect(s.sql).toMatch(
      /^SELECT CAST\(COUNT_BIG\(\*\) AS varchar\(20\)\), CAST\(COALESCE\(SUM\(CAST\(.* AS decimal\(38,0\)\)\), 0\) AS varchar\(40\)\) FROM \[dbo\]\.\[orders\] AS t WHERE/,
    );
    expect(runSelect(s.sql, held, s.params)).toEqual([['0', '0']]);
  });
});

describe("SQL Server's pieces", () => {
  it('names parameters @p1…, keeps one row with OFFSET … FETCH and has no row-value comparison', () => {
    expect([sql.placeholder(1), sql.placeholder(12)]).toEqual(['@p1', '@p12']);
    expect(sql.rowAt(99)).toBe('OFFSET 99 ROWS FETCH NEXT 1 ROWS ONLY');
    expect(sql.rowValueRanges).toBe(false);
    expect(sql.qualified({ schema: 'dbo', name: 'a]b' })).toBe('[dbo].[a]]b]');
  });

  it('compares only fixed-length binary by its own order: text compares padded with spaces, varbinary with zero bytes', () => {
    const bytea = { kind: 'binary', fixedLength: null } as const;
    const binary16 = { kind: 'binary', fixedLength: 16 } as const;
    const text = { kind: 'string', maxLength: 20 } as const;
    expect(sql.textOrderIsByteOrder(phys('binary(16)'), binary16)).toBe(true);
    expect(sql.textOrderIsByteOrder(phys('varbinary(16)'), binary16)).toBe(true); // a MySQL BINARY(16) key: every value 16 bytes
    expect(sql.textOrderIsByteOrder(phys('varbinary(900)'), bytea)).toBe(false);
    expect(sql.textOrderIsByteOrder(phys('nvarchar(20)', 'Latin1_General_100_BIN2'), text)).toBe(false);
    expect(sql.textOrderIsByteOrder(phys('varchar(20)', 'Latin1_General_100_BIN2_UTF8'), text)).toBe(false);
    expect(sql.textOrderIsByteOrder(phys('uniqueidentifier'), { kind: 'uuid' })).toBe(false);
    expect(sql.ownOrder({ kind: 'binary', fixedLength: 16 }, phys('binary(16)'), 'x').param('@p1')).toBe('CONVERT(binary(16), CAST(@p1 AS varchar(max)), 2)');
    expect(sql.ownOrder({ kind: 'timestamp', fsp: 6 }, phys('datetimeoffset(6)'), 'x').param('@p1')).toBe('CAST(@p1 AS datetimeoffset(6))');
  });

  it('ranges a MySQL BINARY(16) key, held as varbinary(16), by itself, so its index serves the range', () => {
    const binary16 = { kind: 'binary', fixedLength: 16 } as const;
    const p = phys('varbinary(16)');
    const key = keySql(MSSQL, binary16, p, 't.[id]', ownOrderIsByteOrder(MSSQL, binary16, p));
    expect([key.expr, key.param('@p1')]).toEqual(['t.[id]', 'CONVERT(varbinary(16), CAST(@p1 AS varchar(max)), 2)']);
    const ids = [`${'00'.repeat(15)}01`, `01${'00'.repeat(15)}`, 'ff'.repeat(16), '00'.repeat(16)];
    const rows = ids.map((id) => ({ id: { t: 'bytes', v: Buffer.from(id, 'hex') } }) as const);
    const statement = `SELECT ${key.match} FROM [dbo].[t] AS t WHERE ${key.expr} > ${key.param('@p1')} ORDER BY ${key.expr}`;
    expect(runSelect(statement, rows, [ids[0]!])).toEqual([[ids[1]], [ids[2]]]);
  });

  it('reads a side’s columns from sys.columns, nothing for a table that does not exist', async () => {
    const asked: (readonly string[])[] = [];
    const side = {
      query: async (_: string, params: readonly string[] = []) => {
        asked.push(params);
        return params[0] === '[dbo].[orders]' ? ORDERS_CATALOG : [];
      },
    } as unknown as VerifySide;
    const columns = await sql.physicalColumns(side, { schema: 'dbo', name: 'orders' });
    expect(columns.get('code')).toEqual({ type: 'nvarchar(40)', collation: BIN2, bytewise: false });
    expect(columns.get('digest')).toEqual({ type: 'binary(16)', collation: null, bytewise: true });
    expect((await sql.physicalColumns(side, { schema: 'dbo', name: 'gone' })).size).toBe(0);
    expect(asked).toEqual([['[dbo].[orders]'], ['[dbo].[gone]']]);
  });

  it('spells sys.columns types as T-SQL does', () => {
    expect(typeText('nvarchar', -1, 0, 0)).toBe('nvarchar(max)');
    expect(typeText('nchar', 10, 0, 0)).toBe('nchar(5)');
    expect(typeText('varbinary', 900, 0, 0)).toBe('varbinary(900)');
    expect(typeText('numeric', 9, 10, 3)).toBe('numeric(10,3)');
    expect(typeText('datetimeoffset', 10, 34, 6)).toBe('datetimeoffset(6)');
    expect(typeText('real', 4, 24, 0)).toBe('real');
  });
});
