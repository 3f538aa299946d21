import type pg from 'pg';
import type { Value } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import { STANDARD_SAVEPOINTS, type SqlDriver, type TextLoad } from '../sql-driver.js';
import { valueAt } from '../tab-separated.js';
import { copyRows, copyText } from './postgres-copy.js';
import { copySql } from './postgres-dialect.js';

/** A Postgres target's pool, and snapshot rows by COPY. */
export class PostgresDriver implements SqlDriver<pg.PoolClient> {
  readonly #pool: pg.Pool;
  readonly savepoints = STANDARD_SAVEPOINTS;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  checkout(): Promise<pg.PoolClient> {
    return this.#pool.connect();
  }

  async run(client: pg.ClientBase, sql: string): Promise<void> {
    await client.query(sql);
  }

  giveBack(client: pg.PoolClient, destroy: boolean): void {
    client.release(destroy);
  }

  async loadRows(client: pg.ClientBase, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void> {
    await copyRows(client, copySql(table), table, rows, valueAt);
  }

  /** Postgres to Postgres, the source's COPY text is already the target's: it is loaded as it comes. */
  readonly textLoad: TextLoad<pg.PoolClient> = {
    accepts: (table) => table.engine === 'postgres' && table.primaryKey.length > 0,
    load: (client, table, text) => copyText(client, copySql(table), text),
  };

  async close(): Promise<void> {
    await this.#pool.end().catch(() => {});
  }
}
