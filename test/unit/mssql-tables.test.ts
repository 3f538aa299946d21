import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/core/errors.js';
import {
  COLUMNS_SQL,
  createSchemaSql,
  DDL_LOCK,
  dropForeignKeySql,
  MssqlTables,
  PRIMARY_KEY_SQL,
  REFERENCING_KEYS_SQL,
  TABLE_EXISTS_SQL,
} from '../../src/sinks/mssql/mssql-tables.js';
import { catalogType, mssqlHolds } from '../../src/sinks/mssql/mssql-widening.js';
import { customers, FakeSession, orders } from '../helpers/mssql-ddl.js';
import { parseTsql } from '../helpers/tsql.js';

describe('schemas and catalog reads', () => {
  it('creates a schema only where it is missing, alone in its batch as CREATE SCHEMA must be', () => {
    const sql = createSchemaSql("it's");
    expect(sql).toBe("IF SCHEMA_ID(N'it''s') IS NULL EXEC(N'CREATE SCHEMA [it''s]')");
    const [ast] = parseTsql(sql) as { type: string; if_expr: { stmt: { right: { value: string } } }[] }[];
    expect(ast!.type).toBe('if');
    // The statement EXEC runs (the parser keeps the literal's doubled quote as written).
    expect(ast!.if_expr[0]!.stmt.right.value).toBe("CREATE SCHEMA [it''s]");
  });

  it('reads the catalog with statements SQL Server parses', () => {
    for (const sql of [TABLE_EXISTS_SQL, COLUMNS_SQL, PRIMARY_KEY_SQL, REFERENCING_KEYS_SQL, dropForeignKeySql(orders.target, 'fk]1')])
      expect(parseTsql(sql)).toHaveLength(1);
    expect(dropForeignKeySql(orders.target, 'fk]1')).toBe('ALTER TABLE [shop].[orders] DROP CONSTRAINT [fk]]1]');
  });
});

describe('target columns widened by the operator', () => {
  it('reads catalog types in the spelling ferry creates', () => {
    expect(catalogType({ type: 'nvarchar', maxLength: 510, precision: 0, scale: 0 })).toBe('nvarchar(255)');
    expect(catalogType({ type: 'nvarchar', maxLength: -1, precision: 0, scale: 0 })).toBe('nvarchar(max)');
    expect(catalogType({ type: 'numeric', maxLength: 13, precision: 20, scale: 0 })).toBe('decimal(20,0)');
    expect(catalogType({ type: 'datetime2', maxLength: 8, precision: 26, scale: 6 })).toBe('datetime2(6)');
    expect(catalogType({ type: 'float', maxLength: 4, precision: 24, scale: 0 })).toBe('real');
    expect(catalogType({ type: 'uniqueidentifier', maxLength: 16, precision: 0, scale: 0 })).toBe('uniqueidentifier');
  });

  it.each<[string, string, boolean]>([
    ['bigint', 'bigint', true],
    ['bigint', 'int', true],
    ['int', 'bigint', false],
    ['decimal(20,0)', 'bigint', true],
    ['bigint', 'decimal(20,0)', false],
    ['decimal(38,0)', 'decimal(20,0)', true],
    ['smallint', 'tinyint', true],
    ['tinyint', 'smallint', false],
    ['decimal(14,4)', 'decimal(12,2)', true],
    ['decimal(12,4)', 'decimal(12,2)', false],
    ['float', 'real', true],
    ['real', 'float', false],
    ['nvarchar(max)', 'nvarchar(510)', true],
    ['nvarchar(600)', 'nvarchar(510)', true],
    ['nvarchar(100)', 'nvarchar(510)', false],
    ['varbinary(max)', 'binary(16)', true],
    ['datetime2(7)', 'datetime2(6)', true],
    ['datetime2(3)', 'datetime2(6)', false],
    ['datetime2(6)', 'datetimeoffset(6)', false],
    ['nvarchar(36)', 'uniqueidentifier', false],
  ])('%s holds %s: %s', (actual, wanted, holds) => {
    expect(mssqlHolds(actual, wanted)).toBe(holds);
  });
});

/** A target where `tables` exist with the catalog rows given, and `referencing` keys point at them. */
function target(o: { exists?: boolean; columns?: Record<string, unknown>[]; key?: string[]; referencing?: Record<string, unknown>[] } = {}): FakeSession {
  return new FakeSession((sql) => {
    if (sql === TABLE_EXISTS_SQL) return o.exists ? [{ present: 1 }] : [];
    if (sql === COLUMNS_SQL) return o.columns ?? [];
    if (sql === PRIMARY_KEY_SQL) return (o.key ?? []).map((name) => ({ name }));
    if (sql === REFERENCING_KEYS_SQL) return o.referencing ?? [];
    throw new Error(`unexpected query ${sql}`);
  });
}

describe('MssqlTables', () => {
  const tables = new MssqlTables();

  it('takes the DDL application lock for the transaction, and fails when SQL Server does not grant it', async () => {
    const s = target();
    await tables.lockDdl(s.session);
    expect(s.procedures).toEqual([
      { name: 'sp_getapplock', inputs: { Resource: DDL_LOCK.resource, LockMode: 'Exclusive', LockOwner: 'Transaction', LockTimeout: -1 } },
    ]);
    s.returnValue = -3; // chosen as a deadlock victim
    await expect(tables.lockDdl(s.session)).rejects.toThrow(FerryError);
  });

  it('creates a missing table as a heap when the key comes later', async () => {
    const s = target();
    await tables.create(s.session, customers, false, true);
    expect(s.statements).toHaveLength(1);
    expect(s.statements[0]).toMatch(/^CREATE TABLE \[shop\]\.\[customers\]/);
    expect(s.statements[0]).not.toContain('PRIMARY KEY');
    expect(s.queries[0]!.params).toEqual(['[shop].[customers]']);
  });

  it('keeps a table that exists', async () => {
    const s = target({ exists: true });
    await tables.create(s.session, customers, false, false);
    expect(s.statements).toEqual([]);
  });

  it("drops and creates it on replace, after the keys of other tables that reference it (what Postgres's CASCADE does)", async () => {
    let dropped = false;
    const s = new FakeSession((sql) => {
      if (sql === REFERENCING_KEYS_SQL) return [{ name: 'orders_customer_fk', owner: 'shop', child: 'orders' }];
      if (sql === TABLE_EXISTS_SQL) return dropped ? [] : [{ present: 1 }];
      return [];
    });
    const run = s.run.bind(s);
    s.run = async (sql: string) => {
      if (sql.startsWith('DROP TABLE')) dropped = true;
      await run(sql);
    };
    await tables.create(s.session, customers, true, false);
    expect(s.statements.slice(0, 2)).toEqual(['ALTER TABLE [shop].[orders] DROP CONSTRAINT [orders_customer_fk]', 'DROP TABLE IF EXISTS [shop].[customers]']);
    expect(s.statements[2]).toMatch(/^CREATE TABLE [\s\S]*CONSTRAINT \[customers_pkey_5b5349b3431f\] PRIMARY KEY CLUSTERED \(\[id\]\)/);
    for (const sql of s.statements) parseTsql(sql);
  });

  it('truncates with TRUNCATE TABLE', () => {
    expect(parseTsql(tables.truncateSql(orders))).toMatchObject([{ type: 'truncate', name: [{ db: 'shop', table: 'orders' }] }]);
  });

  const catalogOf = (types: Record<string, [string, number, number?, number?]>) =>
    Object.entries(types).map(([name, [type, maxLength, digits, scale]]) => ({ name, type, maxLength, digits: digits ?? 0, scale: scale ?? 0 }));
  const customersCatalog: Record<string, [string, number]> = { id: ['bigint', 8], email: ['nvarchar', 1020], bio: ['nvarchar', -1] };

  it('adds the columns the target lacks, and accepts widened ones', async () => {
    const s = target({ exists: true, columns: catalogOf({ id: ['bigint', 8], email: ['nvarchar', -1] }), key: ['id'] });
    await tables.reconcileColumns(s.session, customers, true, false);
    expect(s.statements).toEqual(['ALTER TABLE [shop].[customers] ADD [bio] nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL']);
  });

  it('refuses a narrower column, a column the source dropped, or another primary key, naming each', async () => {
    const s = target({ exists: true, columns: catalogOf({ ...customersCatalog, email: ['nvarchar', 200], gone: ['int', 4] }), key: ['email'] });
    const err = await tables.reconcileColumns(s.session, customers, true, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as Error).message).toMatch(/column email is nvarchar\(100\) in the target, but the source's varchar\(255\) maps to nvarchar\(510\)/);
    expect((err as Error).message).toMatch(/column gone is in the target but no longer in the source/);
    expect((err as Error).message).toMatch(/the primary key is \(email\) in the target/);
    expect(s.statements).toEqual([]);
  });

  it('lets a table still loading its snapshot lack its key', async () => {
    const s = target({ exists: true, columns: catalogOf({ id: ['bigint', 8], email: ['nvarchar', 1020], bio: ['nvarchar', -1] }) });
    await expect(tables.reconcileColumns(s.session, customers, false, true)).resolves.toBeUndefined();
    await expect(tables.reconcileColumns(s.session, customers, false, false)).rejects.toThrow(/primary key is \(none\)/);
  });
});
