import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Row } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import type { TargetReader } from '../../core/target-reader.js';
import type { VerifySide } from '../../core/verify-side.js';
import { queryText } from '../../engines/mysql/connection.js';
import { qualified } from '../../engines/mysql/quoting.js';
import { readRowsSql, toMysql } from './mysql-dialect.js';

/** Reads a MySQL target back on the pool, whose sessions are in UTC (mysql-sink.ts SESSION_SQL). */
export class MysqlReader implements TargetReader {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async countRows(table: TableSchema): Promise<number> {
    const [rows] = await this.#pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${qualified(table.target)}`);
    return Number(rows[0]?.n ?? 0);
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const values = afterKey
      ? table.primaryKey.map((c) => toMysql(table.columns.find((col) => col.name === c)!.type, afterKey[c] ?? null, table.target, c))
      : [];
    const [rows] = await this.#pool.query<RowDataPacket[]>(readRowsSql(table, afterKey !== null, limit), values);
    return rows as Row[];
  }

  /** Statements on the pool; tables by their target names. */
  async verifySide(): Promise<VerifySide> {
    return { engine: 'mysql', tableId: (t) => t.target, query: (sql, params) => queryText(this.#pool, sql, params), close: async () => {} };
  }
}
