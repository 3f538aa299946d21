import type { Connection, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { tableKey, type TableId } from '../../core/change-event.js';
import { coerceError, FerryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import type { Flavor } from '../../engines/mysql/binlog-position.js';
import { autoIncrementColumn } from '../../engines/mysql/connection.js';
import { qualified } from '../../engines/mysql/quoting.js';
import type { SchemaFinish } from '../schema-finish.js';
import { inTransaction, type SqlDriver } from '../sql-driver.js';
import { finalizeConstraints } from './mysql-constraints.js';
import { secondaryIndexes } from './mysql-dialect.js';

/** Indexes, AUTO_INCREMENT counters and constraints on MySQL or MariaDB, whose DDL commits by itself. */
export class MysqlSchemaFinish implements SchemaFinish<PoolConnection> {
  readonly #driver: SqlDriver<PoolConnection>;
  readonly #flavor: Flavor;
  readonly #log: Logger;

  constructor(driver: SqlDriver<PoolConnection>, flavor: Flavor, log: Logger) {
    this.#driver = driver;
    this.#flavor = flavor;
    this.#log = log;
  }

  async finishSnapshot(tables: readonly TableSchema[], streaming: (conn: PoolConnection) => Promise<void>): Promise<void> {
    // CREATE INDEX commits by itself in MySQL: the indexes come first, each created once.
    await this.createIndexes(tables);
    // AUTO_INCREMENT counters already follow the largest key InnoDB has seen: nothing to move.
    await inTransaction(this.#driver, streaming).catch((err) => {
      throw coerceError(err, 'target snapshot completion');
    });
  }

  async createIndexes(tables: readonly TableSchema[]): Promise<void> {
    await inTransaction(this.#driver, async (conn) => {
      for (const t of tables) {
        for (const index of secondaryIndexes(t)) if (!(await indexExists(conn, t.target, index.name))) await conn.query(index.sql);
      }
    }).catch((err) => {
      throw coerceError(err, 'target index creation');
    });
  }

  /**
   * The cutover's constraints, on a session without foreign-key checks (mysql-sink.ts SESSION_SQL): the rows that
   * would break one are looked for first and fail it before any DDL, which commits by itself here.
   */
  async finalizeSchema(tables: readonly TableSchema[]): Promise<void> {
    const conn = await this.#driver.checkout();
    let broken = false;
    try {
      await finalizeConstraints(conn, tables, this.#flavor, this.#log);
    } catch (err) {
      broken = !(err instanceof FerryError);
      throw coerceError(err, 'target constraints');
    } finally {
      this.#driver.giveBack(conn, broken);
    }
  }

  /**
   * InnoDB moves an AUTO_INCREMENT counter past every explicit value inserted, which is how ferry
   * writes, and raises one set at or below the column's max to max + 1 by itself; the counter also
   * goes to at least what the source would hand out next, never back.
   */
  async advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void> {
    await inTransaction(this.#driver, async (conn) => {
      for (const t of tables) {
        const col = await autoIncrementColumn(conn, t.target);
        if (!col) continue;
        const counter = [1n, col.next ?? 0n, next.get(tableKey(t.source))?.get(col.name) ?? 0n].reduce((a, b) => (a > b ? a : b));
        await conn.query(`ALTER TABLE ${qualified(t.target)} AUTO_INCREMENT = ${counter}`);
      }
    }).catch((err) => {
      throw coerceError(err, 'target AUTO_INCREMENT counters');
    });
  }
}

async function indexExists(conn: Connection, t: TableId, name: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1',
    [t.schema, t.name, name],
  );
  return rows.length > 0;
}
