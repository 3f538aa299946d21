import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import {
  addColumnSql,
  CLUSTERED_KEY_BYTES,
  columnDefinition,
  columnType,
  createTableSql,
  defaultSql,
  identityColumn,
  keyBytesOf,
  literalSql,
  mssqlType,
  primaryKeySql,
  secondaryIndexes,
  TEXT_COLLATION,
} from '../../src/sinks/mssql/mssql-dialect.js';
import { alteredColumn, col, createdTable, customers, events, int, orders } from '../helpers/mssql-ddl.js';
import { parseTsql } from '../helpers/tsql.js';

const text = (maxLength: number | null): ColumnType => ({ kind: 'string', maxLength });

describe('mssqlType (MySQL and Postgres → SQL Server)', () => {
  it.each<[string, ColumnType, string]>([
    ['tinyint (signed; SQL Server tinyint is 0…255)', int(1), 'smallint'],
    ['tinyint unsigned', int(1, true), 'tinyint'],
    ['smallint unsigned', int(2, true), 'int'],
    ['mediumint unsigned', int(3, true), 'int'],
    ['int', int(4), 'int'],
    ['int unsigned', int(4, true), 'bigint'],
    ['bigint', int(8), 'bigint'],
    ['bigint unsigned', int(8, true), 'decimal(20,0)'],
    ['bool', { kind: 'bool' }, 'bit'],
    ['decimal(38,10)', { kind: 'decimal', precision: 38, scale: 10 }, 'decimal(38,10)'],
    ['decimal(65,30), wider than 38 digits', { kind: 'decimal', precision: 65, scale: 30 }, 'decimal(38,30)'],
    ['unconstrained numeric', { kind: 'decimal', precision: null, scale: null }, 'decimal(38,10)'],
    ['numeric(5,-2) (Postgres rounds to hundreds)', { kind: 'decimal', precision: 5, scale: -2 }, 'decimal(7,0)'],
    ['numeric(3,5)', { kind: 'decimal', precision: 3, scale: 5 }, 'decimal(5,5)'],
    ['float', { kind: 'float' }, 'real'],
    ['double', { kind: 'double' }, 'float'],
    ['datetime(6)', { kind: 'datetime', fsp: 6 }, 'datetime2(6)'],
    ['datetime', { kind: 'datetime', fsp: 0 }, 'datetime2(0)'],
    ['timestamptz(6) / TIMESTAMP(6)', { kind: 'timestamp', fsp: 6 }, 'datetimeoffset(6)'],
    ['time(3)', { kind: 'time', fsp: 3 }, 'time(3)'],
    ['year', { kind: 'year' }, 'smallint'],
    ['date', { kind: 'date' }, 'date'],
    ['varchar(255): two UTF-16 units a character, for characters beyond the BMP', text(255), 'nvarchar(510)'],
    ['varchar(2000)', text(2000), 'nvarchar(4000)'],
    ['varchar(2001)', text(2001), 'nvarchar(max)'],
    ['text', text(null), 'nvarchar(max)'],
    ['binary(16)', { kind: 'binary', fixedLength: 16 }, 'binary(16)'],
    ['blob / bytea', { kind: 'binary', fixedLength: null }, 'varbinary(max)'],
    ['json', { kind: 'json' }, 'nvarchar(max)'],
    ['int[]', { kind: 'array', element: int(4) }, 'nvarchar(max)'],
    ['enum: its longest label', { kind: 'enum', values: ['new', 'shipped'] }, 'nvarchar(7)'],
    ['set: every label and the commas', { kind: 'set', values: ['a', 'bc'] }, 'nvarchar(5)'],
    ['bit(1)', { kind: 'bit', length: 1 }, 'bit'],
    ['bit(10): its 0/1 text', { kind: 'bit', length: 10 }, 'nvarchar(10)'],
    ['uuid', { kind: 'uuid' }, 'uniqueidentifier'],
    ['interval', { kind: 'interval' }, 'nvarchar(100)'],
    ['inet', { kind: 'inet' }, 'nvarchar(43)'],
    ['other (point, money, …)', { kind: 'other' }, 'nvarchar(max)'],
  ])('%s → %s', (_, type, expected) => {
    expect(mssqlType(type)).toBe(expected);
  });

  it('knows how many key bytes each type takes', () => {
    expect(keyBytesOf('nvarchar(450)')).toBe(900);
    expect(keyBytesOf('decimal(20,0)')).toBe(13);
    expect(keyBytesOf('datetime2(6)')).toBe(8);
    expect(keyBytesOf('datetimeoffset(2)')).toBe(8);
    expect(keyBytesOf('uniqueidentifier')).toBe(16);
    expect(keyBytesOf('nvarchar(max)')).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('primary keys within the 900-byte clustered key', () => {
  const keyed = (columns: Column[], primaryKey = columns.map((c) => c.name)): TableSchema => ({ ...events, columns, primaryKey, indexes: [] });

  it('narrows one text key column to the whole key', () => {
    const t = keyed([col('k', text(null), 'text')]);
    expect(columnType(t.columns[0]!, t)).toBe('nvarchar(450)');
  });

  it('leaves fixed-size columns and short text as they are, and gives the rest of the room to the long text', () => {
    const t = keyed([
      col('a', int(8), 'bigint'),
      col('b', text(10), 'varchar(10)'),
      col('c', text(null), 'text'),
      col('d', { kind: 'binary', fixedLength: null }, 'bytea'),
    ]);
    const types = t.columns.map((c) => columnType(c, t));
    expect(types.slice(0, 2)).toEqual(['bigint', 'nvarchar(20)']);
    // 900 - 8 (bigint) - 40 (nvarchar(20)) = 852, shared by the text and the bytea.
    expect(types.slice(2)).toEqual(['nvarchar(213)', 'varbinary(426)']);
    expect(types.reduce((n, type) => n + keyBytesOf(type), 0)).toBeLessThanOrEqual(CLUSTERED_KEY_BYTES);
  });

  it('keeps a text column outside the key unbounded', () => {
    expect(columnType(events.columns[6]!, events)).toBe('nvarchar(40)');
    expect(columnType(col('k', text(null), 'text'), events)).toBe('nvarchar(max)');
  });
});

describe('CREATE TABLE', () => {
  it('creates a MySQL table: IDENTITY on the unsigned key, ENUM and JSON checks, named defaults, text in a binary collation', () => {
    const sql = createTableSql(orders);
    const { table, columns, primaryKey } = createdTable(parseTsql(sql));
    expect(table).toBe('shop.orders');
    expect(primaryKey).toEqual(['id']);
    expect(Object.fromEntries([...columns].map(([name, c]) => [name, c.type]))).toEqual({
      id: 'decimal(20,0)',
      customer_id: 'bigint',
      status: 'nvarchar(7)',
      total: 'decimal(12,2)',
      note: 'nvarchar(max)',
      attrs: 'nvarchar(max)',
      created_at: 'datetime2(6)',
      paid_at: 'datetimeoffset(0)',
      flags: 'nvarchar(3)',
      ref: 'nvarchar(128)',
    });
    expect(columns.get('id')).toMatchObject({ identity: true, nullable: false, hasDefault: false });
    expect(columns.get('customer_id')).toMatchObject({ identity: false, nullable: false });
    expect(columns.get('note')).toMatchObject({ collate: TEXT_COLLATION, nullable: true });
    expect(columns.get('status')).toMatchObject({ hasDefault: true, hasCheck: true, collate: TEXT_COLLATION });
    expect(columns.get('attrs')!.hasCheck).toBe(true);
    // ferry's zero-date policy: a MySQL DATETIME NOT NULL column waits for the cutover to be NOT NULL.
    expect(columns.get('created_at')).toMatchObject({ nullable: true, hasDefault: true });
    expect(sql).toContain(
      "[status] nvarchar(7) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT [orders_status_df_cd021dc18b39] DEFAULT N'new' CHECK ([status] IN (N'', N'new', N'paid', N'shipped'))",
    );
    expect(sql).toContain("[attrs] nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL CHECK (ISJSON(N'[' + [attrs] + N']') = 1)");
    expect(sql).toContain('CONSTRAINT [orders_created_at_df_54381964802b] DEFAULT SYSUTCDATETIME()');
    expect(sql).toContain('CONSTRAINT [orders_pkey_65432682b5a9] PRIMARY KEY CLUSTERED ([id])');
  });

  it('creates a Postgres table: identity, datetimeoffset, uniqueidentifier, decimal(38,10) for numeric, arrays and jsonb as JSON text', () => {
    const sql = createTableSql(events);
    const { columns } = createdTable(parseTsql(sql));
    expect(columns.get('id')).toMatchObject({ type: 'bigint', identity: true });
    expect(columns.get('uid')).toMatchObject({ type: 'uniqueidentifier', hasDefault: false }); // gen_random_uuid() is Postgres's
    expect(columns.get('at')).toMatchObject({ type: 'datetimeoffset(6)', nullable: false, hasDefault: true });
    expect(columns.get('amount')!.type).toBe('decimal(38,10)');
    expect(columns.get('tags')).toMatchObject({ type: 'nvarchar(max)', hasCheck: false });
    expect(columns.get('payload')).toMatchObject({ type: 'nvarchar(max)', hasCheck: true });
    expect(columns.get('active')).toMatchObject({ type: 'bit', hasDefault: true });
    expect(sql).toContain('DEFAULT SYSDATETIMEOFFSET()');
    expect(sql).toContain('[active] bit NOT NULL CONSTRAINT [events_active_df_b924c683ad01] DEFAULT 1');
    // A Postgres enum holds its labels only.
    const mood = col('mood', { kind: 'enum', values: ['sad', 'ok'] }, 'public.mood');
    expect(columnDefinition(mood)).toBe("[mood] nvarchar(3) COLLATE Latin1_General_100_BIN2 NOT NULL CHECK ([mood] IN (N'sad', N'ok'))");
  });

  it('leaves the clustered key for after the load when asked, and adds it then', () => {
    const { primaryKey, columns } = createdTable(parseTsql(createTableSql(customers, true)));
    expect(primaryKey).toBeNull();
    expect(columns.get('id')).toMatchObject({ type: 'bigint', identity: true, nullable: false });
    const sql = primaryKeySql({ ...customers, primaryKey: ['id', 'email'] });
    const [ast] = parseTsql(sql) as { expr: { create_definitions: { constraint_type: string; constraint: string; definition: { column: string }[] } }[] }[];
    const pk = ast!.expr[0]!.create_definitions;
    expect(pk).toMatchObject({ constraint_type: 'primary key', constraint: 'customers_pkey_5b5349b3431f' });
    expect(pk.definition.map((c) => c.column)).toEqual(['id', 'email']);
    expect(sql).toContain('PRIMARY KEY CLUSTERED');
  });

  it('gives one IDENTITY per table, to an auto-increment key column only', () => {
    const t: TableSchema = {
      ...events,
      columns: [col('id', int(4), 'integer', { autoIncrement: true }), col('seq', int(4), 'integer', { autoIncrement: true })],
      primaryKey: ['id'],
    };
    expect(identityColumn(t)?.name).toBe('id');
    expect(createdTable(parseTsql(createTableSql(t))).columns.get('seq')!.identity).toBe(false);
    expect(identityColumn({ ...t, primaryKey: [] })).toBeUndefined();
  });
});

describe('defaults and literals', () => {
  const t = orders;
  it.each<[string, ColumnType, Column['default'], string]>([
    ['a decimal', { kind: 'decimal', precision: 5, scale: 2 }, { kind: 'literal', value: '-1.50', text: '-1.50' }, '-1.50'],
    ['a boolean', { kind: 'bool' }, { kind: 'literal', value: false, text: 'false' }, '0'],
    ['a string', text(10), { kind: 'literal', value: "it's", text: "'it''s'" }, "N'it''s'"],
    ['a binary', { kind: 'binary', fixedLength: 2 }, { kind: 'literal', value: Buffer.from([1, 255]), text: "'\\x01ff'" }, '0x01ff'],
    ['a date', { kind: 'date' }, { kind: 'literal', value: '2024-02-29', text: "'2024-02-29'" }, "N'2024-02-29'"],
    [
      'a datetime, with the T separator DATEFORMAT never reads otherwise',
      { kind: 'datetime', fsp: 6 },
      { kind: 'literal', value: '2024-02-29 10:11:12.5', text: '' },
      "N'2024-02-29T10:11:12.5'",
    ],
    [
      'a timestamp, an instant in UTC',
      { kind: 'timestamp', fsp: 0 },
      { kind: 'literal', value: '2024-02-29 10:11:12', text: '' },
      "N'2024-02-29T10:11:12+00:00'",
    ],
    ['bit(1)', { kind: 'bit', length: 1 }, { kind: 'literal', value: '1', text: "b'1'" }, '1'],
    ['bit(4)', { kind: 'bit', length: 4 }, { kind: 'literal', value: '0101', text: "b'0101'" }, "N'0101'"],
    ['the current time on a datetime', { kind: 'datetime', fsp: 3 }, { kind: 'now', text: 'CURRENT_TIMESTAMP(3)' }, 'SYSUTCDATETIME()'],
    ['the current time on a timestamp', { kind: 'timestamp', fsp: 3 }, { kind: 'now', text: 'now()' }, 'SYSDATETIMEOFFSET()'],
  ])('%s', (_, type, def, expected) => {
    const c = col('c', type, '(test)', { default: def });
    expect(defaultSql(t, c)).toEqual({ sql: expected });
    expect(() => parseTsql(`ALTER TABLE [s].[t] ADD CONSTRAINT [df] DEFAULT ${expected} FOR [c]`)).not.toThrow();
  });

  it('does not carry zero dates, expressions, the current time on other types, or values SQL Server lacks', () => {
    const reason = (type: ColumnType, def: Column['default']) => defaultSql(t, col('c', type, '(test)', { default: def }));
    expect(reason({ kind: 'date' }, { kind: 'literal', value: null, text: "'0000-00-00'" })).toEqual({ reason: expect.stringMatching(/zero date/) });
    expect(reason(text(36), { kind: 'expression', text: 'uuid()' })).toEqual({ reason: expect.stringMatching(/uuid\(\) is an expression in MySQL's SQL/) });
    expect(reason({ kind: 'date' }, { kind: 'now', text: 'now()' })).toEqual({ reason: expect.stringMatching(/current time/) });
    expect(reason({ kind: 'date' }, { kind: 'literal', value: 'infinity', text: "'infinity'" })).toEqual({
      reason: expect.stringMatching(/no SQL Server date/),
    });
    expect(reason({ kind: 'double' }, { kind: 'literal', value: 'NaN', text: "'NaN'" })).toEqual({ reason: expect.stringMatching(/no SQL Server number/) });
    expect(() => literalSql({ kind: 'time', fsp: 0 }, '838:59:59')).toThrow(/outside SQL Server time/);
  });
});

describe('ADD COLUMN mid-stream', () => {
  const added = (o: Partial<Column>) => col('qty', int(4), 'int', { nullable: true, ...o });
  const statements = (c: Column) => {
    const sqls = addColumnSql(orders, c);
    for (const sql of sqls) parseTsql(sql);
    return sqls;
  };

  it('adds a nullable column plainly, and its default after (new rows only)', () => {
    const sqls = statements(added({ default: { kind: 'literal', value: 1, text: '1' } }));
    expect(sqls).toEqual([
      'ALTER TABLE [shop].[orders] ADD [qty] int NULL',
      'ALTER TABLE [shop].[orders] ADD CONSTRAINT [orders_qty_df_2f92c8438cc6] DEFAULT 1 FOR [qty]',
    ]);
    expect(alteredColumn(parseTsql(sqls[0]!))).toMatchObject({ action: 'add', name: 'qty', column: { type: 'int', nullable: true, hasDefault: false } });
  });

  it("fills the rows already there with the source's default WITH VALUES, NOT NULL as at the source", () => {
    const sqls = statements(added({ nullable: false, backfill: { value: 0 }, default: { kind: 'literal', value: 0, text: '0' } }));
    expect(sqls).toEqual(['ALTER TABLE [shop].[orders] ADD [qty] int NOT NULL CONSTRAINT [orders_qty_df_2f92c8438cc6] DEFAULT 0 WITH VALUES']);
  });

  it('fills them with a value other than the default through a DEFAULT of its own, dropped after', () => {
    const sqls = statements(added({ backfill: { value: 5 }, default: { kind: 'literal', value: 7, text: '7' } }));
    expect(sqls).toEqual([
      'ALTER TABLE [shop].[orders] ADD [qty] int NULL CONSTRAINT [orders_qty_fill_d23d17eec201] DEFAULT 5 WITH VALUES',
      'ALTER TABLE [shop].[orders] DROP CONSTRAINT [orders_qty_fill_d23d17eec201]',
      'ALTER TABLE [shop].[orders] ADD CONSTRAINT [orders_qty_df_2f92c8438cc6] DEFAULT 7 FOR [qty]',
    ]);
  });

  it("puts WITH VALUES right after the DEFAULT, before an ENUM or JSON column's CHECK", () => {
    const status = col('state', { kind: 'enum', values: ['a', 'b'] }, "enum('a','b')", { backfill: { value: 'a' } });
    const [add] = statements(status);
    expect(add).toBe(
      "ALTER TABLE [shop].[orders] ADD [state] nvarchar(1) COLLATE Latin1_General_100_BIN2 NOT NULL CONSTRAINT [orders_state_fill_c9dea4c800f9] DEFAULT N'a' WITH VALUES CHECK ([state] IN (N'', N'a', N'b'))",
    );
    const doc = col('doc', { kind: 'json' }, 'json', { nullable: true, backfill: { value: '{}' } });
    expect(statements(doc)[0]).toMatch(/DEFAULT N'\{\}' WITH VALUES CHECK \(ISJSON\(/);
  });

  it('refuses a column whose existing rows got values ferry cannot see', () => {
    expect(() => addColumnSql(orders, added({ backfill: { expression: 'uuid()' } }))).toThrow(/cannot see/);
  });

  it('gives the column definition alone, as the source declares it, without the table', () => {
    expect(columnDefinition(col('n', text(5), 'varchar(5)'))).toBe('[n] nvarchar(10) COLLATE Latin1_General_100_BIN2 NOT NULL');
    expect(columnDefinition(orders.columns[0]!, orders)).toBe('[id] decimal(20,0) NOT NULL IDENTITY(1,1)');
  });
});

describe('secondary indexes', () => {
  it('creates the indexes SQL Server can hold, non-unique, and leaves out those over (max) or wider than 1700 bytes', () => {
    const t: TableSchema = {
      ...orders,
      indexes: [...orders.indexes, { name: 'note', columns: ['note'], unique: false }, { name: 'wide', columns: ['ref', 'ref2'], unique: false }],
      columns: [...orders.columns, col('ref2', text(800), 'varchar(800)')],
    };
    const made = secondaryIndexes(t);
    expect(made.map((i) => i.name)).toEqual(['orders_customer', 'orders_ref']);
    for (const i of made) {
      const [ast] = parseTsql(i.sql) as { index_type: string | null; index: string }[];
      expect(ast).toMatchObject({ index_type: null, index: i.name });
    }
  });
});
