import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/change-event.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import { FerryError } from '../../src/core/errors.js';
import {
  addColumnSql,
  columnArrays,
  copyField,
  copyStageSql,
  createIndexSql,
  createStageSql,
  createTableSql,
  deleteMissesSql,
  deleteRowSql,
  deleteSql,
  patchMissesSql,
  pgType,
  primaryKeySql,
  readRowsSql,
  resetIdentitySql,
  stageTable,
  toPg,
  updateRowSql,
  upsertFromStageSql,
  upsertSql,
} from '../../src/sinks/postgres/postgres-dialect.js';

const int = (bytes: 1 | 2 | 3 | 4 | 8, unsigned = false): ColumnType => ({ kind: 'int', bytes, unsigned });
const text: ColumnType = { kind: 'string', maxLength: null };

function col(name: string, type: ColumnType, options: { nullable?: boolean; autoIncrement?: boolean; backfill?: Column['backfill'] } = {}): Column {
  return {
    name,
    type,
    sourceType: '(test)',
    nullable: options.nullable ?? false,
    autoIncrement: options.autoIncrement ?? false,
    backfill: options.backfill ?? { value: null },
  };
}

function table(columns: Column[], primaryKey: string[], indexes: TableSchema['indexes'] = []): TableSchema {
  return { engine: 'mysql', source: { schema: 'shop', name: 'orders' }, target: { schema: 'public', name: 'orders' }, columns, primaryKey, indexes };
}

describe('pgType', () => {
  it.each<[string, ColumnType, string]>([
    ['tinyint', int(1), 'smallint'],
    ['tinyint unsigned', int(1, true), 'smallint'],
    ['smallint', int(2), 'smallint'],
    ['smallint unsigned', int(2, true), 'integer'],
    ['mediumint', int(3), 'integer'],
    ['mediumint unsigned', int(3, true), 'integer'],
    ['int', int(4), 'integer'],
    ['int unsigned', int(4, true), 'bigint'],
    ['bigint', int(8), 'bigint'],
    ['bigint unsigned', int(8, true), 'numeric(20,0)'],
    ['bool', { kind: 'bool' }, 'boolean'],
    ['decimal(30,10)', { kind: 'decimal', precision: 30, scale: 10 }, 'numeric(30,10)'],
    ['decimal(5,0)', { kind: 'decimal', precision: 5, scale: 0 }, 'numeric(5,0)'],
    ['float', { kind: 'float' }, 'real'],
    ['double', { kind: 'double' }, 'double precision'],
    ['date', { kind: 'date' }, 'date'],
    ['datetime', { kind: 'datetime', fsp: 0 }, 'timestamp(0) without time zone'],
    ['datetime(6)', { kind: 'datetime', fsp: 6 }, 'timestamp(6) without time zone'],
    ['timestamp', { kind: 'timestamp', fsp: 0 }, 'timestamp(0) with time zone'],
    ['timestamp(3)', { kind: 'timestamp', fsp: 3 }, 'timestamp(3) with time zone'],
    ['time(6)', { kind: 'time', fsp: 6 }, 'interval'],
    ['year', { kind: 'year' }, 'smallint'],
    ['varchar(255)', { kind: 'string', maxLength: 255 }, 'character varying(255)'],
    ['text', text, 'text'],
    ['binary(16)', { kind: 'binary', fixedLength: 16 }, 'bytea'],
    ['blob', { kind: 'binary', fixedLength: null }, 'bytea'],
    ['json', { kind: 'json' }, 'jsonb'],
    ['enum', { kind: 'enum', values: ['a', 'b'] }, 'text'],
    ['set', { kind: 'set', values: ['a', 'b'] }, 'text'],
    ['bit(10)', { kind: 'bit', length: 10 }, 'bit(10)'],
    ['uuid', { kind: 'uuid' }, 'uuid'],
  ])('%s becomes %s', (_, type, expected) => {
    expect(pgType(type)).toBe(expected);
  });
});

describe('copyField', () => {
  it.each<[string, Value, string]>([
    ['NULL', null, '\\N'],
    ['the text NULL', 'NULL', 'NULL'],
    ['the text \\N', '\\N', '\\\\N'],
    ['a backslash', 'a\\b', 'a\\\\b'],
    ['a tab', 'a\tb', 'a\\tb'],
    ['a newline', 'a\nb', 'a\\nb'],
    ['a carriage return', 'a\r\nb', 'a\\r\\nb'],
    ['plain text', 'héllo wörld', 'héllo wörld'],
    ['the empty string', '', ''],
    ['a Buffer', Buffer.from([0x00, 0xff, 0x10]), '\\\\x00ff10'],
    ['an empty Buffer', Buffer.alloc(0), '\\\\x'],
    ['true', true, 't'],
    ['false', false, 'f'],
    ['an integer', 42, '42'],
    ['a negative fraction', -1.5, '-1.5'],
  ])('writes %s', (_, value, expected) => {
    expect(copyField(value)).toBe(expected);
  });
});

describe('toPg', () => {
  const orders = { schema: 'public', name: 'orders' };

  it.each<[string, ColumnType, Value, Value]>([
    ['a timestamp as an explicit UTC instant', { kind: 'timestamp', fsp: 6 }, '2024-01-02 03:04:05.000001', '2024-01-02 03:04:05.000001+00'],
    ['a datetime unchanged', { kind: 'datetime', fsp: 0 }, '2024-01-02 03:04:05', '2024-01-02 03:04:05'],
    ['a NULL timestamp as NULL', { kind: 'timestamp', fsp: 0 }, null, null],
    ['a string unchanged', text, 'abc', 'abc'],
    ['a number unchanged', int(4), 7, 7],
    ['a Buffer unchanged', { kind: 'binary', fixedLength: null }, Buffer.from([0]), Buffer.from([0])],
  ])('passes %s', (_, type, value, expected) => {
    expect(toPg(type, value, orders, 'note')).toEqual(expected);
  });

  it('rejects a NUL character with a fatal FerryError naming where it was found', () => {
    let error: unknown;
    try {
      toPg(text, 'a\u0000b', orders, 'note');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).kind).toBe('fatal');
    expect((error as FerryError).message).toContain('table "public"."orders", column note');
    expect((error as FerryError).message).toContain('NUL');
  });

  it('accepts NUL bytes in binary data', () => {
    expect(toPg({ kind: 'binary', fixedLength: null }, Buffer.from([0, 0]), orders, 'note')).toEqual(Buffer.from([0, 0]));
  });
});

describe('createTableSql', () => {
  it('leaves the primary key for later when asked (a snapshot loads faster without indexes), and primaryKeySql adds it over a unique index', () => {
    const t = table([col('id', int(8), { autoIncrement: true }), col('note', text, { nullable: true })], ['id']);
    expect(createTableSql(t, true)).not.toContain('PRIMARY KEY');
    expect(createTableSql(t, true)).toContain('"id" bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY');
    expect(primaryKeySql(t)).toEqual({
      index: 'CREATE UNIQUE INDEX IF NOT EXISTS "orders_pkey" ON "public"."orders" ("id")',
      constraint: 'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_pkey" PRIMARY KEY USING INDEX "orders_pkey"',
    });
  });

  it('writes columns, identity, nullability and the primary key', () => {
    const sql = createTableSql(
      table(
        [col('id', int(8), { autoIncrement: true }), col('note', text, { nullable: true }), col('total', { kind: 'decimal', precision: 10, scale: 2 })],
        ['id'],
      ),
    );
    expect(sql).toBe(
      [
        'CREATE TABLE IF NOT EXISTS "public"."orders" (',
        '  "id" bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY,',
        '  "note" text,',
        '  "total" numeric(10,2) NOT NULL,',
        '  PRIMARY KEY ("id")',
        ')',
      ].join('\n'),
    );
  });

  /** The one column's definition line in the CREATE TABLE of a table keyed on `id`. */
  const definitionOf = (c: Column, key = ['id']) => {
    const columns = c.name === 'id' ? [c] : [col('id', int(4)), c];
    const lines = createTableSql(table(columns, key)).split('\n');
    return lines[columns.indexOf(c) + 1]!.trim().replace(/,$/, '');
  };

  it.each<[string, Column, string]>([
    ['an auto-increment int key gets an identity', col('id', int(4), { autoIncrement: true }), '"id" integer NOT NULL GENERATED BY DEFAULT AS IDENTITY'],
    [
      'an auto-increment unsigned int key gets an identity',
      col('id', int(4, true), { autoIncrement: true }),
      '"id" bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY',
    ],
    ['an auto-increment bigint unsigned key cannot be an identity', col('id', int(8, true), { autoIncrement: true }), '"id" numeric(20,0) NOT NULL'],
    ['a plain key has no identity', col('id', int(4)), '"id" integer NOT NULL'],
    ['an auto-increment non-key column has no identity', col('seq', int(4), { autoIncrement: true }), '"seq" integer NOT NULL'],
    ['a nullable column', col('note', text, { nullable: true }), '"note" text'],
    ['a NOT NULL column', col('note', text), '"note" text NOT NULL'],
    ['a NOT NULL date stays nullable for zero dates', col('d', { kind: 'date' }), '"d" date'],
    ['a NOT NULL datetime stays nullable for zero dates', col('dt', { kind: 'datetime', fsp: 6 }), '"dt" timestamp(6) without time zone'],
    ['a NOT NULL timestamp stays nullable for zero dates', col('ts', { kind: 'timestamp', fsp: 0 }), '"ts" timestamp(0) with time zone'],
    ['a NOT NULL time is NOT NULL', col('t', { kind: 'time', fsp: 0 }), '"t" interval NOT NULL'],
    ['a quote in a column name is doubled', col('say "hi"', text), '"say ""hi""" text NOT NULL'],
  ])('%s', (_, column, expected) => {
    expect(definitionOf(column)).toBe(expected);
  });

  it('keeps a NOT NULL datetime key column NOT NULL', () => {
    const sql = createTableSql(table([col('at', { kind: 'datetime', fsp: 0 })], ['at']));
    expect(sql).toContain('"at" timestamp(0) without time zone NOT NULL');
  });

  it('writes a composite primary key in key order', () => {
    const sql = createTableSql(table([col('a', int(4)), col('b', text), col('c', int(4))], ['c', 'a']));
    expect(sql).toContain('PRIMARY KEY ("c", "a")');
  });

  it('writes no primary key clause for a table without one', () => {
    expect(createTableSql(table([col('a', int(4))], []))).not.toContain('PRIMARY KEY');
  });
});

describe('upsertSql', () => {
  it('inserts from one array per column and updates the non-key columns on conflict', () => {
    const t = table([col('id', int(8)), col('name', text), col('price', { kind: 'decimal', precision: 10, scale: 2 })], ['id']);
    expect(upsertSql(t, t.columns)).toBe(
      'INSERT INTO "public"."orders" ("id", "name", "price") SELECT u."id", u."name", u."price" FROM unnest($1::bigint[], $2::text[], $3::numeric(10,2)[]) AS u("id", "name", "price") ' +
        'ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "price" = EXCLUDED."price"',
    );
  });

  it('inserts every column but updates only the columns it was given', () => {
    const t = table([col('id', int(4)), col('a', text), col('b', text)], ['id']);
    const sql = upsertSql(t, [t.columns[0]!, t.columns[2]!]);
    expect(sql).toMatch(/^INSERT INTO "public"."orders" \("id", "a", "b"\)/);
    expect(sql).toMatch(/DO UPDATE SET "b" = EXCLUDED\."b"$/);
  });
});

describe('columnArrays', () => {
  const t = table(
    [col('id', int(4)), col('stock', int(4), { backfill: { value: 5 } }), col('seen', text, { backfill: { expression: 'DEFAULT uuid()' } })],
    ['id'],
  );
  it('gives a row that predates a column the value the source gave existing rows', () => {
    expect(columnArrays(t, t.columns.slice(0, 2), [{ id: 1, stock: 2 }, { id: 2 }])).toEqual([
      [1, 2],
      [2, 5],
    ]);
  });
  it('refuses when that value is unknowable', () => {
    expect(() => columnArrays(t, t.columns, [{ id: 1, stock: 1 }])).toThrow(/written before column seen was added/);
  });

  it('does nothing on conflict when every column is a key column', () => {
    const t = table([col('a', int(4)), col('b', int(4))], ['a', 'b']);
    expect(upsertSql(t, t.columns)).toMatch(/ON CONFLICT \("a", "b"\) DO NOTHING$/);
  });
});

describe('deleteSql', () => {
  it('deletes by a single key column', () => {
    const t = table([col('id', int(8)), col('name', text)], ['id']);
    expect(deleteSql(t)).toBe('DELETE FROM "public"."orders" AS t USING unnest($1::bigint[]) AS k("id") WHERE t."id" = k."id"');
  });

  it('deletes by a composite key, matching every key column', () => {
    const t = table([col('org', int(4)), col('name', text), col('user', { kind: 'uuid' })], ['org', 'user']);
    expect(deleteSql(t)).toBe(
      'DELETE FROM "public"."orders" AS t USING unnest($1::integer[], $2::uuid[]) AS k("org", "user") WHERE t."org" = k."org" AND t."user" = k."user"',
    );
  });
});

describe('deleteMissesSql, patchMissesSql', () => {
  it('delete and patch by key as ever, answering how many keys found no row and the first of them', () => {
    const t = table([col('id', int(8)), col('name', text)], ['id']);
    expect(deleteMissesSql(t).replace(/\s+/g, ' ')).toBe(
      'WITH k AS (SELECT * FROM unnest($1::bigint[]) WITH ORDINALITY AS k("id", "ferry ordinal")), ' +
        'hit AS (DELETE FROM "public"."orders" AS t USING k WHERE t."id" = k."id" RETURNING k."ferry ordinal") ' +
        'SELECT count(*)::int AS missing, min("ferry ordinal")::int AS first FROM k WHERE "ferry ordinal" NOT IN (SELECT "ferry ordinal" FROM hit)',
    );
    expect(patchMissesSql(t, [t.columns[1]!]).replace(/\s+/g, ' ')).toBe(
      'WITH u AS (SELECT * FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u("ferry match 0", "name", "ferry ordinal")), ' +
        'hit AS (UPDATE "public"."orders" AS t SET "name" = u."name" FROM u WHERE t."id" = u."ferry match 0" RETURNING u."ferry ordinal") ' +
        'SELECT count(*)::int AS missing, min("ferry ordinal")::int AS first FROM u WHERE "ferry ordinal" NOT IN (SELECT "ferry ordinal" FROM hit)',
    );
  });
});

describe('createIndexSql', () => {
  const columns = [col('id', int(4)), col('email', text), col('tenant', int(4))];

  it('names each index <table>_<index>, keeps column order, and makes every index non-unique (the source enforces uniqueness)', () => {
    const t = table(
      columns,
      ['id'],
      [
        { name: 'by_email', columns: ['email'], unique: true },
        { name: 'by_tenant_email', columns: ['tenant', 'email'], unique: false },
      ],
    );
    expect(createIndexSql(t)).toEqual([
      'CREATE INDEX IF NOT EXISTS "orders_by_email" ON "public"."orders" ("email")',
      'CREATE INDEX IF NOT EXISTS "orders_by_tenant_email" ON "public"."orders" ("tenant", "email")',
    ]);
  });

  it("keeps a long name within Postgres' 63 bytes, unique by a hash of the whole name", () => {
    const nameOf = (index: string) =>
      /INDEX IF NOT EXISTS "([^"]+)"/.exec(createIndexSql(table(columns, ['id'], [{ name: index, columns: ['email'], unique: false }]))[0]!)![1]!;
    const a = nameOf('x'.repeat(80));
    const b = nameOf(`${'x'.repeat(79)}y`);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
    expect(a.startsWith(`orders_${'x'.repeat(40)}`)).toBe(true);
    expect(a).not.toBe(b);
    expect(Buffer.byteLength(nameOf('ü'.repeat(40)))).toBeLessThanOrEqual(63);
  });

  it('returns nothing for a table without secondary indexes', () => {
    expect(createIndexSql(table(columns, ['id']))).toEqual([]);
  });
});

describe('resetIdentitySql', () => {
  it('moves the sequence of each identity key column past its largest value', () => {
    const t = table([col('id', int(4), { autoIncrement: true }), col('name', text)], ['id']);
    expect(resetIdentitySql(t)).toEqual([
      `SELECT setval(pg_get_serial_sequence('"public"."orders"', 'id'), GREATEST(max("id"), 1), max("id") IS NOT NULL) FROM "public"."orders"`,
    ]);
  });

  it.each<[string, Column[], string[]]>([
    ['no auto-increment column', [col('id', int(4))], ['id']],
    ['an auto-increment bigint unsigned key', [col('id', int(8, true), { autoIncrement: true })], ['id']],
    ['an auto-increment column outside the key', [col('id', int(4)), col('seq', int(4), { autoIncrement: true })], ['id']],
  ])('does nothing for a table with %s', (_, cols, key) => {
    expect(resetIdentitySql(table(cols, key))).toEqual([]);
  });

  it('escapes single quotes in the table and column names', () => {
    const t: TableSchema = { ...table([col("o'id", int(4), { autoIncrement: true })], ["o'id"]), target: { schema: 'public', name: "it's" } };
    expect(resetIdentitySql(t)[0]).toContain(`pg_get_serial_sequence('"public"."it''s"', 'o''id')`);
  });
});

describe('addColumnSql', () => {
  const t = table([col('id', int(4))], ['id']);
  it('adds a nullable column when existing rows hold NULL', () => {
    expect(addColumnSql(t, col('note', text))).toEqual(['ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "note" text']);
  });
  it('fills existing rows with the value the source gave them, then drops the default the source does not have', () => {
    expect(addColumnSql(t, col('label', text, { nullable: true, backfill: { value: "it's" } }))).toEqual([
      'ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "label" text DEFAULT \'it\'\'s\'',
      'ALTER TABLE "public"."orders" ALTER COLUMN "label" DROP DEFAULT',
    ]);
    expect(addColumnSql(t, col('stock', int(4), { nullable: true, backfill: { value: 5 } }))[0]).toMatch(/"stock" integer DEFAULT 5$/);
    expect(addColumnSql(t, col('at', { kind: 'timestamp', fsp: 0 }, { backfill: { value: '2024-01-01 00:00:00' } }))[0]).toMatch(
      /"at" timestamp\(0\) with time zone DEFAULT '2024-01-01 00:00:00\+00'$/,
    );
  });
  it('refuses a column whose existing values ferry cannot know', () => {
    expect(() => addColumnSql(t, col('seen', text, { backfill: { expression: 'DEFAULT uuid()' } }))).toThrow(/added to "public"."orders" as DEFAULT uuid\(\)/);
  });
});

describe('tables without a primary key', () => {
  const t = table([col('at', int(4)), col('meta', { kind: 'json' })], []);
  it('matches one equal row by every column, as text (json has no equality), NULL-safe', () => {
    expect(deleteRowSql(t)).toBe(
      'DELETE FROM "public"."orders" WHERE ctid = (SELECT ctid FROM "public"."orders" WHERE "at"::text IS NOT DISTINCT FROM ($1::integer)::text AND "meta"::text IS NOT DISTINCT FROM ($2::jsonb)::text LIMIT 1)',
    );
    expect(updateRowSql(t)).toBe(
      'UPDATE "public"."orders" SET "at" = $1::integer, "meta" = $2::jsonb WHERE ctid = (SELECT ctid FROM "public"."orders" WHERE "at"::text IS NOT DISTINCT FROM ($3::integer)::text AND "meta"::text IS NOT DISTINCT FROM ($4::jsonb)::text LIMIT 1)',
    );
  });
  it('is created without a primary key and read in one page', () => {
    expect(createTableSql(t)).not.toMatch(/PRIMARY KEY/);
    expect(readRowsSql(t, false, 10)).not.toMatch(/ORDER BY/);
  });
});

describe('staged upserts', () => {
  const t = table([col('id', int(8)), col('qty', int(4)), col('note', text, { nullable: true })], ['id']);

  it('stage through a temporary table shaped like the target, emptied at commit and after each use', () => {
    const stage = stageTable(t);
    expect(createStageSql(t)).toBe(`CREATE TEMP TABLE IF NOT EXISTS ${stage} (LIKE "public"."orders") ON COMMIT DELETE ROWS`);
    expect(copyStageSql(t)).toBe(`COPY ${stage} ("id", "qty", "note") FROM STDIN`);
    expect(upsertFromStageSql(t)).toBe(
      `INSERT INTO "public"."orders" ("id", "qty", "note") SELECT "id", "qty", "note" FROM ${stage} ` +
        `ON CONFLICT ("id") DO UPDATE SET "qty" = EXCLUDED."qty", "note" = EXCLUDED."note"; TRUNCATE ${stage}`,
    );
  });

  it('give a table that gained a column a stage of its own', () => {
    const wider = { ...t, columns: [...t.columns, col('added', text, { nullable: true })] };
    expect(stageTable(wider)).not.toBe(stageTable(t));
    expect(stageTable({ ...t })).toBe(stageTable(t));
  });
});
