import type { Logger } from 'pino';
import { tableKey } from '../../core/change-event.js';
import { coerceError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { violationError } from '../../core/schema-fidelity.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import { qualified, quoteIdent, textLiteral } from '../../engines/mssql/quoting.js';
import type { SchemaFinish } from '../schema-finish.js';
import { inTransaction, type SqlDriver } from '../sql-driver.js';
import { primaryKeySql, secondaryIndexes } from './mssql-dialect.js';
import { findViolations, finalizeConstraints } from './mssql-finalize.js';
import type { MssqlSession } from './mssql-session.js';
import { lockDdl } from './mssql-tables.js';

export const HAS_PRIMARY_KEY_SQL = 'SELECT 1 AS present FROM sys.indexes WHERE object_id = OBJECT_ID(@p1) AND is_primary_key = 1';
export const INDEX_NAMES_SQL = 'SELECT name FROM sys.indexes WHERE object_id = OBJECT_ID(@p1) AND name IS NOT NULL';
/** The table's IDENTITY column and its last value (NULL when no row was inserted since the table was made or truncated). */
export const IDENTITY_SQL = 'SELECT name, CONVERT(nvarchar(40), last_value) AS lastValue FROM sys.identity_columns WHERE object_id = OBJECT_ID(@p1)';

export function maxValueSql(t: TableSchema, column: string): string {
  return `SELECT CONVERT(nvarchar(40), MAX(${quoteIdent(column)})) AS maxValue FROM ${qualified(t.target)}`;
}

/**
 * The RESEED value that makes the next IDENTITY value `next`, or null when the identity already hands
 * out `next` or more. DBCC CHECKIDENT's RESEED n makes the next value n itself on a table no row was
 * inserted into since it was made or truncated (`lastValue` null), and n + 1 on any other.
 */
export function reseedValue(s: { max: bigint | null; lastValue: bigint | null; sourceNext: bigint | null }): bigint | null {
  const next = [1n, s.max === null ? 1n : s.max + 1n, s.sourceNext ?? 1n, s.lastValue === null ? 1n : s.lastValue + 1n].reduce((a, b) => (a > b ? a : b));
  if (s.lastValue === null) return next;
  return next - 1n > s.lastValue ? next - 1n : null;
}

export function reseedSql(t: TableSchema, value: bigint): string {
  return `DBCC CHECKIDENT (${textLiteral(qualified(t.target))}, RESEED, ${value})`;
}

/** Keys, indexes, identities and constraints on SQL Server, whose DDL is transactional. */
export class MssqlSchemaFinish implements SchemaFinish<MssqlSession> {
  readonly #driver: SqlDriver<MssqlSession>;
  readonly #log: Logger;

  constructor(driver: SqlDriver<MssqlSession>, log: Logger) {
    this.#driver = driver;
    this.#log = log;
  }

  /**
   * The clustered primary keys first, each built once over its loaded heap, then the secondary indexes
   * (after the clustered key, which would otherwise rebuild them), each in a transaction of its own so
   * an interrupted finish starts again where it stopped; then the switch to streaming. Identities need
   * no move here: rows inserted under IDENTITY_INSERT carry the identity past the largest key.
   */
  async finishSnapshot(tables: readonly TableSchema[], streaming: (c: MssqlSession) => Promise<void>): Promise<void> {
    try {
      for (const t of tables.filter((x) => x.primaryKey.length > 0)) {
        await inTransaction(this.#driver, async (c) => {
          if ((await c.query(HAS_PRIMARY_KEY_SQL, [qualified(t.target)])).length === 0) await this.#driver.run(c, primaryKeySql(t));
        });
      }
      await this.#createIndexes(tables);
      await inTransaction(this.#driver, streaming);
    } catch (err) {
      throw coerceError(err, 'target snapshot completion');
    }
  }

  async createIndexes(tables: readonly TableSchema[]): Promise<void> {
    await this.#createIndexes(tables).catch((err) => {
      throw coerceError(err, 'target index creation');
    });
  }

  async #createIndexes(tables: readonly TableSchema[]): Promise<void> {
    for (const t of tables) {
      for (const index of secondaryIndexes(t)) {
        await inTransaction(this.#driver, async (c) => {
          const names = new Set((await c.query<{ name: string }>(INDEX_NAMES_SQL, [qualified(t.target)])).map((r) => r.name));
          if (!names.has(index.name)) await this.#driver.run(c, index.sql);
        });
      }
    }
  }

  /**
   * Each table's IDENTITY (however the table was made) moves to hand out next the greatest of: the
   * column's max + 1, the source's next value, and what it would hand out already (never back).
   */
  async advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void> {
    await inTransaction(this.#driver, async (c) => {
      for (const t of tables) {
        const [identity] = await c.query<{ name: string; lastValue: string | null }>(IDENTITY_SQL, [qualified(t.target)]);
        if (!identity) continue;
        const [row] = await c.query<{ maxValue: string | null }>(maxValueSql(t, identity.name));
        const value = reseedValue({
          max: row?.maxValue == null ? null : BigInt(row.maxValue),
          lastValue: identity.lastValue === null ? null : BigInt(identity.lastValue),
          sourceNext: next.get(tableKey(t.source))?.get(identity.name) ?? null,
        });
        if (value !== null) await this.#driver.run(c, reseedSql(t, value));
      }
    }).catch((err) => {
      throw coerceError(err, 'target IDENTITY columns');
    });
  }

  /**
   * The cutover's constraints, in one transaction: all or none. A violation rolls it back, and the
   * rows that break each constraint are looked up to name them.
   */
  async finalizeSchema(tables: readonly TableSchema[]): Promise<void> {
    try {
      await inTransaction(this.#driver, async (c) => {
        await lockDdl(c);
        await finalizeConstraints(c, tables, this.#log);
      });
    } catch (err) {
      const violations = await inTransaction(this.#driver, (c) => findViolations(c, tables)).catch(() => []);
      if (violations.length > 0) throw violationError(violations);
      throw coerceError(err, 'target constraints');
    }
  }
}
