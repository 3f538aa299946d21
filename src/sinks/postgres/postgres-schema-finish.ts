import type pg from 'pg';
import type { Logger } from 'pino';
import { tableKey } from '../../core/change-event.js';
import { forEachConcurrently } from '../../core/concurrency.js';
import { coerceError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { violationError } from '../../core/schema-fidelity.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import { DDL_LOCK_SQL } from '../../engines/postgres/ddl-lock.js';
import { qualified } from '../../engines/postgres/quoting.js';
import { OWNED_SEQUENCES_SQL } from '../../engines/postgres/sequences.js';
import type { SchemaFinish } from '../schema-finish.js';
import { inTransaction, type SqlDriver } from '../sql-driver.js';
import { findViolations, finalizeConstraints } from './postgres-constraints.js';
import { createIndexSql, primaryKeySql, resetIdentitySql } from './postgres-dialect.js';

/** Keys, indexes, sequences and constraints on Postgres: indexes several at once, on the pool's `connections`. */
export class PostgresSchemaFinish implements SchemaFinish<pg.PoolClient> {
  readonly #pool: pg.Pool;
  readonly #driver: SqlDriver<pg.PoolClient>;
  readonly #connections: number;
  readonly #log: Logger;

  constructor(pool: pg.Pool, driver: SqlDriver<pg.PoolClient>, connections: number, log: Logger) {
    this.#pool = pool;
    this.#driver = driver;
    this.#connections = connections;
    this.#log = log;
  }

  /**
   * The indexes first, several at once, each committing by itself (IF NOT EXISTS: an interrupted finish
   * starts again where it stopped). Then, in one transaction, the primary keys over their unique
   * indexes, the identities past the max key, and the switch to streaming.
   */
  async finishSnapshot(tables: readonly TableSchema[], streaming: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    try {
      const keyless = new Set<TableSchema>();
      for (const t of tables) if (t.primaryKey.length > 0 && !(await this.#hasPrimaryKey(t))) keyless.add(t);
      const indexes = tables.flatMap((t) => [...(keyless.has(t) ? [primaryKeySql(t).index] : []), ...createIndexSql(t)]);
      await this.#concurrently(indexes);
      await inTransaction(this.#driver, async (client) => {
        for (const t of keyless) await client.query(primaryKeySql(t).constraint);
        for (const t of tables) for (const sql of resetIdentitySql(t)) await client.query(sql);
        await streaming(client);
      });
    } catch (err) {
      throw coerceError(err, 'target snapshot completion');
    }
  }

  async createIndexes(tables: readonly TableSchema[]): Promise<void> {
    await this.#concurrently(tables.flatMap(createIndexSql)).catch((err) => {
      throw coerceError(err, 'target index creation');
    });
  }

  #concurrently(statements: readonly string[]): Promise<void> {
    return forEachConcurrently(statements, this.#connections, (sql) => this.#pool.query(sql).then(() => {}));
  }

  async #hasPrimaryKey(t: TableSchema): Promise<boolean> {
    const { rows } = await this.#pool.query('SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisprimary', [qualified(t.target)]);
    return rows.length > 0;
  }

  /**
   * Every sequence a target column owns (identity or serial, however the table was made) moves to the
   * greatest of: the column's max, the source's next value less one, and where it already is.
   */
  async advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void> {
    await inTransaction(this.#driver, async (client) => {
      for (const t of tables) {
        const { rows } = await client.query(OWNED_SEQUENCES_SQL, [qualified(t.target)]);
        for (const r of rows) {
          const sourceNext = next.get(tableKey(t.source))?.get(r.name as string);
          await client.query(
            `SELECT setval($1, v) FROM (SELECT GREATEST(max(${r.col as string})::bigint, $2::bigint - 1, pg_sequence_last_value($1::regclass)) AS v FROM ${qualified(t.target)}) x WHERE v >= 1`,
            [r.seq, sourceNext === undefined ? null : sourceNext.toString()],
          );
        }
      }
    }).catch((err) => {
      throw coerceError(err, 'target sequences');
    });
  }

  /**
   * The cutover's constraints, in one transaction: all or none. A violation rolls it back, and the
   * rows that break each constraint are looked up to name them.
   */
  async finalizeSchema(tables: readonly TableSchema[]): Promise<void> {
    try {
      await inTransaction(this.#driver, async (client) => {
        await client.query(DDL_LOCK_SQL);
        await finalizeConstraints(client, tables, this.#log);
      });
    } catch (err) {
      const violations = await findViolations(this.#pool, tables).catch(() => []);
      if (violations.length > 0) throw violationError(violations);
      throw coerceError(err, 'target constraints');
    }
  }
}
