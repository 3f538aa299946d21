import { describe, expect, it } from 'vitest';
import type { ColumnType, TableSchema } from '../../src/core/schema.js';
import type { TargetColumn } from '../../src/sinks/mssql/mssql-columns.js';
import { countRowsSql, readRowsSql } from '../../src/sinks/mssql/mssql-reader.js';
import { parseTsql } from '../helpers/tsql.js';

const INT: ColumnType = { kind: 'int', bytes: 4, unsigned: false };
const col = (name: string) => ({ name, type: INT, sourceType: '', nullable: false, autoIncrement: false, backfill: { value: null } });
const table = (primaryKey: string[]): TableSchema => ({
  engine: 'mysql',
  source: { schema: 'app', name: 'items' },
  target: { schema: 'app', name: 'items' },
  columns: ['a', 'b', 'at'].map(col),
  primaryKey,
  indexes: [],
});
const columns: TargetColumn[] = [
  { name: 'a', type: 'int', identity: false },
  { name: 'b', type: 'decimal(20,0)', identity: false },
  { name: 'at', type: 'datetime2(6)', identity: false },
];

describe('reading a SQL Server target back', () => {
  it('pages by the primary key, spelling the row-value comparison T-SQL lacks, every value in its text form', () => {
    const statement = readRowsSql(table(['a', 'b']), columns, true, 100);
    expect(statement).toBe(
      'SELECT TOP (100) t.[a] AS [a], CONVERT(nvarchar(60), t.[b]) AS [b], CONVERT(nvarchar(40), t.[at], 121) AS [at] FROM [app].[items] AS t ' +
        'WHERE (t.[a] > @p1) OR (t.[a] = @p1 AND t.[b] > CAST(@p2 AS decimal(20,0))) ORDER BY t.[a], t.[b]',
    );
    expect(() => parseTsql(statement)).not.toThrow();
    expect(readRowsSql(table(['a', 'b']), columns, false, 10)).not.toMatch(/WHERE/);
  });

  it('reads a table without a key in one page, and counts rows as a bigint', () => {
    const statement = readRowsSql(table([]), columns, false, 10_000);
    expect(statement).toMatch(/FROM \[app\]\.\[items\] AS t$/);
    for (const s of [statement, countRowsSql(table([]))]) expect(() => parseTsql(s)).not.toThrow();
  });
});
