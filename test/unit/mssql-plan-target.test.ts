import { describe, expect, it } from 'vitest';
import type { TargetFacts } from '../../src/core/plan-target.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import type { Verdict } from '../../src/core/verdict.js';
import { mssqlPlanTarget } from '../../src/sinks/mssql/mssql-plan-target.js';
import { col, customers, events, int, orders } from '../helpers/mssql-ddl.js';
import { parseTsql } from '../helpers/tsql.js';

const facts: TargetFacts = { engine: 'mssql', existingTables: new Set(), missingTypes: new Set(), missingEnums: new Set(), collation: 'Latin1_General_CI_AS' };

/** The verdict `ferry plan` gives column `c` of a one-column-keyed table from `engine`. */
function verdictOf(engine: TableSchema['engine'], c: Column, key = false): { verdict: Verdict; note?: string } {
  const t: TableSchema = {
    ...(engine === 'mysql' ? orders : events),
    columns: [col('id', int(4), 'int'), c],
    primaryKey: key ? [c.name] : ['id'],
    indexes: [],
  };
  return mssqlPlanTarget.assess(t, c, mssqlPlanTarget.columnType(t, c));
}

describe('column verdicts into SQL Server', () => {
  it.each<[string, ColumnType, Verdict]>([
    ['int unsigned', int(4, true), 'exact'],
    ['bigint unsigned', int(8, true), 'documented'],
    ['tinyint(1) as boolean', { kind: 'bool' }, 'documented'],
    ['decimal(12,2)', { kind: 'decimal', precision: 12, scale: 2 }, 'exact'],
    ['decimal(65,30)', { kind: 'decimal', precision: 65, scale: 30 }, 'lossy'],
    ['datetime(6)', { kind: 'datetime', fsp: 6 }, 'exact'],
    ['timestamp', { kind: 'timestamp', fsp: 0 }, 'documented'],
    ['time: ±838:59:59 does not fit a time of day', { kind: 'time', fsp: 0 }, 'lossy'],
    ['varchar(255)', { kind: 'string', maxLength: 255 }, 'exact'],
    ['json', { kind: 'json' }, 'documented'],
    ['enum', { kind: 'enum', values: ['a'] }, 'documented'],
    ['set', { kind: 'set', values: ['a'] }, 'documented'],
    ['bit(3)', { kind: 'bit', length: 3 }, 'documented'],
  ])('MySQL %s: %s', (_, type, verdict) => {
    expect(verdictOf('mysql', col('c', type, '(test)')).verdict).toBe(verdict);
  });

  it.each<[string, ColumnType, Verdict]>([
    ['bigint', int(8), 'exact'],
    ['numeric (unconstrained)', { kind: 'decimal', precision: null, scale: null }, 'lossy'],
    ['numeric(10,2): NaN', { kind: 'decimal', precision: 10, scale: 2 }, 'lossy'],
    ['double precision: NaN, ±Infinity', { kind: 'double' }, 'lossy'],
    ['timestamptz', { kind: 'timestamp', fsp: 6 }, 'lossy'],
    ['time: 24:00:00', { kind: 'time', fsp: 6 }, 'lossy'],
    ['uuid', { kind: 'uuid' }, 'documented'],
    ['text[]', { kind: 'array', element: { kind: 'string', maxLength: null } }, 'documented'],
    ['interval', { kind: 'interval' }, 'documented'],
    ['varchar(20)', { kind: 'string', maxLength: 20 }, 'exact'],
    ['point', { kind: 'other' }, 'documented'],
  ])('Postgres %s: %s', (_, type, verdict) => {
    expect(verdictOf('postgres', col('c', type, '(test)')).verdict).toBe(verdict);
  });

  it('marks a text key narrowed to the clustered key lossy, and a text key from Postgres for its trailing spaces', () => {
    expect(verdictOf('postgres', col('k', { kind: 'string', maxLength: null }, 'text'), true)).toEqual({
      verdict: 'lossy',
      note: expect.stringMatching(/narrowed to nvarchar\(450\).*900-byte/),
    });
    expect(verdictOf('postgres', col('k', { kind: 'string', maxLength: 20 }, 'varchar(20)'), true)).toEqual({
      verdict: 'lossy',
      note: expect.stringMatching(/trailing spaces/),
    });
    // MySQL's PAD SPACE collations ignore trailing spaces too; its NO PAD ones do not.
    expect(verdictOf('mysql', col('k', { kind: 'string', maxLength: 20 }, 'varchar(20)', { collation: 'utf8mb4_general_ci' }), true).verdict).toBe('exact');
    expect(verdictOf('mysql', col('k', { kind: 'string', maxLength: 20 }, 'varchar(20)', { collation: 'utf8mb4_0900_ai_ci' }), true).verdict).toBe('lossy');
  });
});

describe('what the plan shows of a table', () => {
  it('the DDL the sink runs, parsed as T-SQL: the table, then its indexes', () => {
    const ddl = mssqlPlanTarget.tableDdl(orders, facts);
    expect(ddl[0]).toMatch(/^CREATE TABLE \[shop\]\.\[orders\]/);
    expect(ddl.slice(1)).toEqual(['CREATE INDEX [orders_customer] ON [shop].[orders] ([customer_id])', 'CREATE INDEX [orders_ref] ON [shop].[orders] ([ref])']);
    for (const sql of [...ddl, mssqlPlanTarget.createSchemaSql('shop')]) parseTsql(sql);
  });

  it('the indexes left out, the column types, and the names compared by the catalog collation', () => {
    const t = { ...customers, indexes: [...customers.indexes, { name: 'bio', columns: ['bio'], unique: false }] };
    expect(mssqlPlanTarget.indexesLeftOut(t).map((i) => i.name)).toEqual(['bio']);
    expect(mssqlPlanTarget.columnType(orders, orders.columns[0]!)).toBe('decimal(20,0)');
    expect(mssqlPlanTarget.naming(facts)).toEqual({ engine: 'mssql', collation: 'Latin1_General_CI_AS' });
    expect(mssqlPlanTarget.naming({ ...facts, collation: undefined })).toEqual({ engine: 'mssql', collation: 'SQL_Latin1_General_CP1_CI_AS' });
  });

  it("what it carries of a Postgres table's schema", () => {
    const items = mssqlPlanTarget.carriedSchema(events, [events], facts);
    expect(items.find((i) => i.kind === 'default' && i.name === 'uid')).toMatchObject({ when: 'never', note: expect.stringMatching(/gen_random_uuid/) });
    expect(items.find((i) => i.kind === 'default' && i.name === 'at')).toMatchObject({ when: 'create', sql: 'SYSDATETIMEOFFSET()' });
    expect(items.find((i) => i.kind === 'check')).toMatchObject({ when: 'finalize', sql: 'CHECK ([amount] >= 0)' });
  });
});
