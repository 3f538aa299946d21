import sql from 'mssql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import { mssqlVerifySide, textOf } from '../../src/engines/mssql/verify-side.js';

afterEach(() => vi.restoreAllMocks());

describe("verify's side on a SQL Server target", () => {
  it('binds the parameters as nvarchar @p1… in order, asks for rows as arrays and returns them as text', async () => {
    const seen: { statement: string; arrayRowMode: boolean; params: [string, unknown, unknown][] }[] = [];
    vi.spyOn(sql.Request.prototype, 'query').mockImplementation(async function (this: sql.Request, statement: string) {
      const params = Object.values(this.parameters).map(
        (p) =>
          [p.name, `${(p.type as { declaration?: string }).declaration}(${p.length === sql.MAX ? 'max' : p.length})`, p.value] as [string, unknown, unknown],
      );
      seen.push({ statement, arrayRowMode: this.arrayRowMode, params });
      return { recordset: [['5', null, 0.1, Math.fround(0.1)]] } as never;
    });
    const side = mssqlVerifySide({} as sql.ConnectionPool);
    expect(side.engine).toBe('mssql');
    expect(side.tableId({ source: { schema: 'shop', name: 'a' }, target: { schema: 'dbo', name: 'a' } } as TableSchema)).toEqual({ schema: 'dbo', name: 'a' });
    expect(await side.query('SELECT x FROM [dbo].[a] AS t WHERE t.[x] > @p1 AND t.[y] <= @p2', ['1', 'é'])).toEqual([
      ['5', null, '0.1', '0.10000000149011612'],
    ]);
    expect(seen).toEqual([
      {
        statement: 'SELECT x FROM [dbo].[a] AS t WHERE t.[x] > @p1 AND t.[y] <= @p2',
        arrayRowMode: true,
        params: [
          ['p1', 'nvarchar(max)', '1'],
          ['p2', 'nvarchar(max)', 'é'],
        ],
      },
    ]);
  });

  it('prints what the driver reads as text: numbers as their shortest round trip, bytes in hex', () => {
    expect([textOf(null), textOf(undefined), textOf(12n), textOf(1e21), textOf(true), textOf(Buffer.from([0, 255]))]).toEqual([
      null,
      null,
      '12',
      '1e+21',
      '1',
      '00ff',
    ]);
  });
});
