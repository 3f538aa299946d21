import type pg from 'pg';
import type { Row } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import type { TargetReader } from '../../core/target-reader.js';
import type { VerifySide } from '../../core/verify-side.js';
import { queryText } from '../../engines/postgres/connection.js';
import { qualified } from '../../engines/postgres/quoting.js';
import { readRowsSql } from './postgres-dialect.js';

/** Reads a Postgres target back on the pool, whose sessions print values as the source's do (UTC, ISO). */
export class PostgresReader implements TargetReader {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async countRows(table: TableSchema): Promise<number> {
    const { rows } = await this.#pool.query(`SELECT count(*) AS n FROM ${qualified(table.target)}`);
    return Number(rows[0].n);
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const { rows } = await this.#pool.query({
      text: readRowsSql(table, afterKey !== null, limit),
      values: afterKey ? table.primaryKey.map((c) => afterKey[c] ?? null) : [],
    });
    return rows as Row[];
  }

  /** Statements on the pool; tables by their target names. */
  async verifySide(): Promise<VerifySide> {
    return { engine: 'postgres', tableId: (t) => t.target, query: (sql, params) => queryText(this.#pool, sql, params), close: async () => {} };
  }
}
