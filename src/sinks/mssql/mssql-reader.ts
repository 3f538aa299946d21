import type sql from 'mssql';
import type { Row } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import type { TargetReader } from '../../core/target-reader.js';
import type { VerifySide } from '../../core/verify-side.js';
import { qualified, quoteIdent } from '../../engines/mssql/quoting.js';
import { mssqlVerifySide } from '../../engines/mssql/verify-side.js';
import { asColumnType, type TargetColumn, textForm, wireOf, wireType } from './mssql-columns.js';
import type { MssqlDriver } from './mssql-driver.js';
import { MssqlSession } from './mssql-session.js';
import { toWire } from './mssql-values.js';

/**
 * A keyset page of `t` (its `columns` as the target describes them) in primary-key order, every value
 * in its text form (mssql-columns.ts). `after`: only rows past the key in parameters `@p1…` (key order).
 */
export function readRowsSql(t: TableSchema, columns: readonly TargetColumn[], after: boolean, limit: number): string {
  const select = columns.map((c) => `${textForm(c, `t.${quoteIdent(c.name)}`)} AS ${quoteIdent(c.name)}`).join(', ');
  const keys = t.primaryKey.map((name) => columns.find((c) => c.name === name)!);
  // Row-value comparison, which T-SQL lacks, spelled out: (a > x) OR (a = x AND b > y) OR …
  const past = keys
    .map((k, i) =>
      [
        ...keys.slice(0, i).map((e, j) => `t.${quoteIdent(e.name)} = ${asColumnType(e, `@p${j + 1}`)}`),
        `t.${quoteIdent(k.name)} > ${asColumnType(k, `@p${i + 1}`)}`,
      ].join(' AND '),
    )
    .map((term) => `(${term})`)
    .join(' OR ');
  const where = after && keys.length > 0 ? ` WHERE ${past}` : '';
  const order = keys.length > 0 ? ` ORDER BY ${keys.map((k) => `t.${quoteIdent(k.name)}`).join(', ')}` : ''; // a table without a key is read in one page
  return `SELECT TOP (${Math.trunc(limit)}) ${select} FROM ${qualified(t.target)} AS t${where}${order}`;
}

export const countRowsSql = (t: TableSchema) => `SELECT COUNT_BIG(*) AS [n] FROM ${qualified(t.target)}`;

/** Reads a SQL Server target back on the pool, outside any transaction. */
export class MssqlReader implements TargetReader {
  readonly #pool: sql.ConnectionPool;
  readonly #driver: MssqlDriver;

  constructor(pool: sql.ConnectionPool, driver: MssqlDriver) {
    this.#pool = pool;
    this.#driver = driver;
  }

  async countRows(table: TableSchema): Promise<number> {
    const rows = await new MssqlSession(this.#pool).query<{ n: string | number }>(countRowsSql(table));
    return Number(rows[0]?.n ?? 0);
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const session = new MssqlSession(this.#pool);
    const columns = await this.#driver.columns(session, table);
    const request = session.request();
    if (afterKey) {
      table.primaryKey.forEach((name, i) => {
        const c = columns.find((col) => col.name === name)!;
        const type = table.columns.find((col) => col.name === name)!.type;
        request.input(`p${i + 1}`, wireType(wireOf(c)), toWire(wireOf(c), type, afterKey[name] ?? null, table.target, name));
      });
    }
    return (await request.query<Row>(readRowsSql(table, columns, afterKey !== null, limit))).recordset ?? [];
  }

  async verifySide(): Promise<VerifySide> {
    return mssqlVerifySide(this.#pool);
  }
}
