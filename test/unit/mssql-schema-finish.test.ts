import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import { FerryError } from '../../src/core/errors.js';
import {
  CATALOG_COLUMNS_SQL,
  CATALOG_CONSTRAINTS_SQL,
  CATALOG_INDEXES_SQL,
  checkProbeSql,
  foreignKeyProbeSql,
  nullCountsSql,
  uniqueProbeSql,
} from '../../src/sinks/mssql/mssql-finalize.js';
import {
  HAS_PRIMARY_KEY_SQL,
  IDENTITY_SQL,
  INDEX_NAMES_SQL,
  MssqlSchemaFinish,
  maxValueSql,
  reseedSql,
  reseedValue,
} from '../../src/sinks/mssql/mssql-schema-finish.js';
import { TABLE_EXISTS_SQL } from '../../src/sinks/mssql/mssql-tables.js';
import { customers, events, FakeSession, fakeDriver, orders } from '../helpers/mssql-ddl.js';
import { parseTsql } from '../helpers/tsql.js';

const log = pino({ level: 'silent' });

/** What a fake target holds of each table, by qualified name. */
interface TargetState {
  primaryKey?: boolean;
  indexes?: { name: string; isUnique: boolean }[];
  columns?: { name: string; nullable: boolean; defaultId: number }[];
  constraints?: { name: string; untrusted: boolean }[];
  identity?: { name: string; lastValue: string | null };
  max?: string | null;
  nulls?: number[];
  violations?: Record<string, unknown>[];
}

function target(state: Record<string, TargetState>): FakeSession {
  const of = (params: readonly unknown[]) => state[String(params[0])] ?? {};
  return new FakeSession((sql, params) => {
    if (sql === TABLE_EXISTS_SQL) return state[String(params[0])] ? [{ present: 1 }] : [];
    if (sql === HAS_PRIMARY_KEY_SQL) return of(params).primaryKey ? [{ present: 1 }] : [];
    if (sql === INDEX_NAMES_SQL || sql === CATALOG_INDEXES_SQL) return of(params).indexes ?? [];
    if (sql === CATALOG_COLUMNS_SQL) return of(params).columns ?? [];
    if (sql === CATALOG_CONSTRAINTS_SQL) return of(params).constraints ?? [];
    if (sql === IDENTITY_SQL) return of(params).identity ? [of(params).identity!] : [];
    const table = /FROM (\[[^\]]+\]\.\[[^\]]+\])/.exec(sql)?.[1] ?? '';
    if (sql.startsWith('SELECT CONVERT(nvarchar(40), MAX(')) return [{ maxValue: state[table]?.max ?? null }];
    if (sql.startsWith('SELECT SUM(CASE')) return [Object.fromEntries((state[table]?.nulls ?? []).map((n, i) => [`n${i}`, n]))];
    if (sql.startsWith('SELECT TOP')) return state[table]?.violations ?? [];
    throw new Error(`unexpected query ${sql}`);
  });
}

describe('finishing the snapshot', () => {
  it('builds each clustered key once over its heap, then the indexes, then records streaming last', async () => {
    const s = target({
      '[shop].[customers]': { primaryKey: false, indexes: [] },
      '[shop].[orders]': { primaryKey: true, indexes: [{ name: 'orders_customer', isUnique: false }] },
    });
    const finish = new MssqlSchemaFinish(fakeDriver(s), log);
    await finish.finishSnapshot([customers, orders], async (c) => c.run('-- streaming'));
    const work = s.statements.filter((x) => x !== 'BEGIN' && x !== 'COMMIT');
    expect(work).toEqual([
      'ALTER TABLE [shop].[customers] ADD CONSTRAINT [customers_pkey_5b5349b3431f] PRIMARY KEY CLUSTERED ([id])',
      // Unique at the cutover only; orders_customer exists already.
      'CREATE INDEX [customers_email] ON [shop].[customers] ([email])',
      'CREATE INDEX [orders_ref] ON [shop].[orders] ([ref])',
      '-- streaming',
    ]);
    // Each key and index in a transaction of its own; streaming in the last one.
    expect(s.statements.slice(-3)).toEqual(['BEGIN', '-- streaming', 'COMMIT']);
    for (const sql of work.slice(0, 3)) parseTsql(sql);
  });
});

describe('identities past the largest key', () => {
  it.each<[string, { max: bigint | null; lastValue: bigint | null; sourceNext: bigint | null }, bigint | null]>([
    ['rows inserted under IDENTITY_INSERT moved it already', { max: 100n, lastValue: 100n, sourceNext: null }, null],
    ["the source's next value lies beyond (deleted rows)", { max: 100n, lastValue: 100n, sourceNext: 151n }, 150n],
    ['the identity fell behind the rows', { max: 100n, lastValue: 10n, sourceNext: 50n }, 100n],
    ['an empty table never inserted into takes the reseed value itself next', { max: null, lastValue: null, sourceNext: 7n }, 7n],
    ['never back', { max: 5n, lastValue: 200n, sourceNext: 10n }, null],
    ['beyond 2^63 (a BIGINT UNSIGNED key)', { max: 18446744073709551000n, lastValue: 5n, sourceNext: null }, 18446744073709551000n],
  ])('%s', (_, state, expected) => {
    expect(reseedValue(state)).toBe(expected);
  });

  it('reseeds with DBCC CHECKIDENT where the identity would hand out a used key', async () => {
    const s = target({
      '[shop].[orders]': { identity: { name: 'id', lastValue: '100' }, max: '100' },
      '[shop].[customers]': { identity: { name: 'id', lastValue: '9' }, max: '9' },
      '[public].[events]': {},
    });
    const next = new Map([['shop.orders', new Map([['id', 151n]])]]);
    await new MssqlSchemaFinish(fakeDriver(s), log).advanceSequences([orders, customers, events], next);
    expect(s.statements).toEqual(['BEGIN', "DBCC CHECKIDENT (N'[shop].[orders]', RESEED, 150)", 'COMMIT']);
    expect(s.queries.map((q) => q.sql)).toContain(maxValueSql(orders, 'id'));
    for (const sql of [IDENTITY_SQL, maxValueSql(orders, 'id'), reseedSql(orders, 150n)]) parseTsql(sql);
  });
});

describe("the cutover's constraints", () => {
  const catalog = (t: TableSchema, o: Partial<TargetState> = {}): TargetState => ({
    columns: t.columns.map((c) => ({ name: c.name, nullable: c.nullable || c.type.kind.startsWith('date'), defaultId: c.default ? 1 : 0 })),
    indexes: t.indexes.map((i) => ({ name: `${t.target.name}_${i.name}`, isUnique: false })),
    constraints: [],
    nulls: [0],
    ...o,
  });

  it('sets the deferred NOT NULL around the index over it, makes unique keys unique, adds checks and foreign keys, all in one transaction', async () => {
    const withIndex: TableSchema = { ...orders, indexes: [...orders.indexes, { name: 'created', columns: ['created_at'], unique: false }] };
    const s = target({
      '[shop].[customers]': catalog(customers),
      '[shop].[orders]': catalog(withIndex, { constraints: [{ name: 'CK__orders__attrs', untrusted: true }] }),
    });
    await new MssqlSchemaFinish(fakeDriver(s), log).finalizeSchema([customers, withIndex]);
    expect(s.procedures.map((p) => p.name)).toEqual(['sp_getapplock']);
    expect(s.statements).toEqual([
      'BEGIN',
      'DROP INDEX [customers_email] ON [shop].[customers]',
      'CREATE UNIQUE INDEX [customers_email] ON [shop].[customers] ([email])',
      'DROP INDEX [orders_created] ON [shop].[orders]',
      'ALTER TABLE [shop].[orders] ALTER COLUMN [created_at] datetime2(6) NOT NULL',
      'CREATE INDEX [orders_created] ON [shop].[orders] ([created_at])',
      'DROP INDEX [orders_ref] ON [shop].[orders]',
      'CREATE UNIQUE INDEX [orders_ref] ON [shop].[orders] ([ref]) WHERE [ref] IS NOT NULL',
      'ALTER TABLE [shop].[orders] WITH CHECK CHECK CONSTRAINT ALL',
      'ALTER TABLE [shop].[orders] ADD CONSTRAINT [orders_total_positive_19270e1de5d2] CHECK ([total] >= 0)',
      'ALTER TABLE [shop].[orders] ADD CONSTRAINT [orders_orders_customer_fk_2114980f52ba] FOREIGN KEY ([customer_id]) REFERENCES [shop].[customers] ([id]) ON DELETE CASCADE ON UPDATE NO ACTION',
      'COMMIT',
    ]);
    for (const sql of s.statements.slice(1, -1)) parseTsql(sql);
    expect(s.queries.map((q) => q.sql)).toContain(nullCountsSql(withIndex, [withIndex.columns.find((c) => c.name === 'created_at')!]));
  });

  it('keeps what an earlier attempt created, and a column with NULLs nullable', async () => {
    const done = (t: TableSchema): TargetState =>
      catalog(t, {
        indexes: t.indexes.map((i) => ({ name: `${t.target.name}_${i.name}`, isUnique: i.unique })),
        constraints: [
          { name: 'orders_total_positive_19270e1de5d2', untrusted: false },
          { name: 'orders_orders_customer_fk_2114980f52ba', untrusted: false },
        ],
        nulls: [3],
      });
    const s = target({ '[shop].[customers]': done(customers), '[shop].[orders]': done(orders) });
    await new MssqlSchemaFinish(fakeDriver(s), log).finalizeSchema([customers, orders]);
    expect(s.statements).toEqual(['BEGIN', 'COMMIT']);
  });

  it('names the rows that break a constraint when the transaction fails', async () => {
    const s = target({ '[shop].[customers]': catalog(customers), '[shop].[orders]': catalog(orders, { violations: [{ id: 901, customer_id: 999 }] }) });
    const run = s.run.bind(s);
    s.run = async (sql: string) => {
      if (sql.includes('FOREIGN KEY')) throw Object.assign(new Error('The ALTER TABLE statement conflicted with the FOREIGN KEY constraint'), { number: 547 });
      await run(sql);
    };
    const err = await new MssqlSchemaFinish(fakeDriver(s), log).finalizeSchema([customers, orders]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as Error).message).toMatch(/foreign key orders_customer_fk on shop\.orders: \(id=901, customer_id=999\)/);
    expect(s.statements).toContain('ROLLBACK');
  });

  it('probes with statements SQL Server parses: duplicates of a unique key, rows a check refuses, orphans', () => {
    const unique = uniqueProbeSql(orders, orders.indexes[1]!);
    expect(unique).toBe(
      'SELECT TOP (5) t.[id], t.[ref] FROM [shop].[orders] AS t JOIN (SELECT [ref] FROM [shop].[orders] WHERE [ref] IS NOT NULL GROUP BY [ref] HAVING COUNT(*) > 1) AS d ON d.[ref] = t.[ref] ORDER BY t.[ref], t.[id]',
    );
    const check = checkProbeSql(orders, 'CHECK ([total] >= 0)');
    expect(check).toBe('SELECT TOP (5) t.[id] FROM [shop].[orders] AS t WHERE NOT ([total] >= 0)');
    const orphans = foreignKeyProbeSql(orders, ['customer_id'], customers, ['id']);
    expect(orphans).toBe(
      'SELECT TOP (5) t.[id], t.[customer_id] FROM [shop].[orders] AS t WHERE t.[customer_id] IS NOT NULL AND NOT EXISTS (SELECT 1 FROM [shop].[customers] AS p WHERE p.[id] = t.[customer_id])',
    );
    for (const sql of [unique, check, orphans, CATALOG_COLUMNS_SQL, CATALOG_INDEXES_SQL, CATALOG_CONSTRAINTS_SQL]) {
      const [ast] = parseTsql(sql) as { type: string }[];
      expect(ast!.type).toBe('select');
    }
  });
});
