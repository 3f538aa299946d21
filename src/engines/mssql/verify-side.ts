import sql from 'mssql';
import type { VerifySide } from '../../core/verify-side.js';

/**
 * A value as verify reads it: text, NULL kept. Verify's statements select text, but for real and float
 * (compared in Node), which tedious reads exactly into a number: its shortest round-trip text.
 */
export function textOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

/**
 * Runs one statement with its parameters bound as nvarchar `@p1`, `@p2`… in order, and returns its
 * rows as arrays of text in select-list order (VerifySide.query).
 */
export async function queryText(on: sql.ConnectionPool | sql.Transaction, statement: string, params: readonly string[] = []): Promise<(string | null)[][]> {
  const request = on instanceof sql.Transaction ? new sql.Request(on) : new sql.Request(on);
  request.arrayRowMode = true;
  params.forEach((v, i) => request.input(`p${i + 1}`, sql.NVarChar(sql.MAX), v));
  const result = await request.query(statement);
  return ((result.recordset ?? []) as unknown as readonly unknown[][]).map((row) => row.map(textOf));
}

/**
 * Verify's side on a SQL Server target: statements on `pool` (each sees the latest committed rows,
 * READ COMMITTED), tables by their target names. The pool stays its owner's to close.
 */
export function mssqlVerifySide(pool: sql.ConnectionPool): VerifySide {
  return { engine: 'mssql', tableId: (t) => t.target, query: (statement, params) => queryText(pool, statement, params), close: async () => {} };
}
