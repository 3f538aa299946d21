import { Readable } from 'node:stream';
import type { Connection, Pool, PoolConnection } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { Value } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import { STANDARD_SAVEPOINTS, type SqlDriver } from '../sql-driver.js';
import { tabSeparated, valueAt } from '../tab-separated.js';
import { insertSql, loadDataSql, loadField, rowValues, toMysql } from './mysql-dialect.js';
import { assertFiniteRows } from './mysql-non-finite.js';
import { runChecked, statements } from './mysql-rows.js';

/** Errors of a server that forbids LOAD DATA LOCAL (MariaDB: command not allowed; MySQL 8: capability disabled). */
const LOCAL_INFILE_REFUSED = new Set([1148, 3948, 2068]);

/** A MySQL target's pool, and snapshot rows by LOAD DATA LOCAL where the server allows it. */
export class MysqlDriver implements SqlDriver<PoolConnection> {
  readonly #pool: Pool;
  readonly savepoints = STANDARD_SAVEPOINTS;
  readonly #log: Logger;
  #loadData: boolean;

  constructor(pool: Pool, loadData: boolean, log: Logger) {
    this.#pool = pool;
    this.#loadData = loadData;
    this.#log = log;
  }

  checkout(): Promise<PoolConnection> {
    return this.#pool.getConnection();
  }

  async run(conn: Connection, sql: string): Promise<void> {
    await conn.query(sql);
  }

  giveBack(conn: PoolConnection, destroy: boolean): void {
    if (destroy) conn.destroy();
    else conn.release();
  }

  /**
   * LOAD DATA LOCAL, streamed. The server turns LOCAL's data errors into warnings (strict mode does
   * not apply), so any warning fails the chunk. A server that forbids LOCAL gets multi-row INSERTs.
   */
  async loadRows(conn: Connection, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void> {
    assertFiniteRows(table, rows);
    if (this.#loadData) {
      try {
        await runChecked(conn, table, { sql: loadDataSql(table), infileStreamFactory: () => Readable.from(loadPieces(table, rows)) });
        return;
      } catch (err) {
        if (!LOCAL_INFILE_REFUSED.has((err as { errno?: number }).errno ?? 0)) throw err;
        this.#loadData = false;
        this.#log.warn({ err: (err as Error).message }, 'the target refuses LOAD DATA LOCAL; snapshot chunks load with multi-row INSERT instead (slower)');
      }
    }
    const objects = rows.map((values) => Object.fromEntries(table.columns.map((c, j) => [c.name, values[j] ?? null])));
    for (const part of statements(table.columns, objects))
      await runChecked(conn, table, insertSql(table, table.columns), [part.map((r) => rowValues(table, table.columns, r))]);
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => {});
  }
}

/** LOAD DATA text as Buffers (mysql2 takes nothing else); binary and BIT values are Buffers, written as hex for UNHEX. */
function* loadPieces(table: TableSchema, rows: readonly (readonly Value[])[]): Generator<Buffer> {
  const encoders = table.columns.map(
    (c) =>
      (v: Value): string =>
        loadField(toMysql(c.type, v, table.target, c.name)),
  );
  for (const piece of tabSeparated(rows, valueAt, encoders)) yield Buffer.from(piece);
}
