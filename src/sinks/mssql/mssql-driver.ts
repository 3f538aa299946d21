import type sql from 'mssql';
import { tableKey, type Value } from '../../core/change-event.js';
import { FerryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { SqlDriver } from '../sql-driver.js';
import { DESCRIBE_SQL, type DescribedRow, describeParam, type TargetColumn, targetColumns, wireOf, wireType } from './mssql-columns.js';
import { MSSQL_SAVEPOINTS } from './mssql-savepoints.js';
import { MssqlSession } from './mssql-session.js';
import { createStageSql, DROP_STAGE_SQL, fitsValues, type StageColumn, sameNames, stageTable, stageValuesSql } from './mssql-stage.js';
import { insertSql, type Parameterized } from './mssql-statements.js';
import { toWire } from './mssql-values.js';

/**
 * tedious's bulk load options for the stage (a temp table of the session's own, with no constraints
 * and no defaults to apply). mssql hands them to tedious as they are, and tedious calls TABLOCK
 * `lockTable`: the `tableLock` of mssql's typings and README is silently ignored.
 */
export const BULK_OPTIONS = { lockTable: true, checkConstraints: false, keepNulls: true } as sql.IBulkOptions;

/**
 * A SQL Server target's pool (each transaction one MssqlSession), the target tables' column types as
 * the server describes them, and the stage that snapshot chunks and set-based writes go through
 * (mssql-stage.ts): a bulk load, or one INSERT … VALUES for few rows.
 */
export class MssqlDriver implements SqlDriver<MssqlSession> {
  readonly #pool: sql.ConnectionPool;
  readonly savepoints = MSSQL_SAVEPOINTS;
  readonly #bulkTimeoutMs: number;
  /** Target table and its columns (names and ferry types) → their target types: a table that gained a column is described again. */
  readonly #described = new Map<string, TargetColumn[]>();

  /** `bulkTimeoutMs`: a bulk load still running after this long is cancelled (mssql's requestTimeout does not reach bulk loads). */
  constructor(pool: sql.ConnectionPool, bulkTimeoutMs: number) {
    this.#pool = pool;
    this.#bulkTimeoutMs = bulkTimeoutMs;
  }

  async checkout(): Promise<MssqlSession> {
    return new MssqlSession(this.#pool);
  }

  run(c: MssqlSession, statement: string): Promise<void> {
    return c.run(statement);
  }

  /** The pool owns the connection: a transaction still open (a caller that did not end it) is rolled back there. */
  giveBack(c: MssqlSession): void {
    if (c.inTransaction) void c.run('ROLLBACK').catch(() => {});
  }

  /** Snapshot rows through the stage, so identity columns keep the source's values and decimals and temporals every digit. */
  async loadRows(c: MssqlSession, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void> {
    const targets = await this.columns(c, table);
    const wire = rows.map((values) => table.columns.map((col, j) => toWire(wireOf(targets[j]!), col.type, values[j] ?? null, table.target, col.name)));
    const columns = sameNames(targets);
    await this.staged(c, columns, wire, insertSql(table.target, columns));
  }

  /** `table`'s columns as the target has them, in `table.columns` order; described on `c`, which sees its own transaction's DDL. */
  async columns(c: MssqlSession, table: TableSchema): Promise<TargetColumn[]> {
    const key = JSON.stringify([tableKey(table.target), table.columns.map((col) => [col.name, col.type])]);
    let described = this.#described.get(key);
    if (!described) {
      described = targetColumns(table, await c.query<DescribedRow & Record<string, unknown>>(DESCRIBE_SQL, [describeParam(table.target)]));
      this.#described.set(key, described);
    }
    return described;
  }

  /**
   * Fills the stage with `rows` (wire values in `columns` order), runs `statements` on it, and drops
   * it, all on `c`'s connection; returns what the statements answered. Few rows travel in the same
   * request as the statements; more are bulk-loaded first, into a stage created by a batch of its
   * own (a temp table created inside sp_executesql, as parameterized requests run, ends with it).
   */
  async staged(c: MssqlSession, columns: readonly StageColumn[], rows: readonly (readonly unknown[])[], statements: string): Promise<sql.IResult<unknown>> {
    if (fitsValues(rows.length, columns.length)) {
      const request = c.request();
      rows.forEach((row, r) => {
        row.forEach((v, j) => request.input(`p${r * columns.length + j + 1}`, wireType(wireOf(columns[j]!.target)), v));
      });
      const fill = rows.length > 0 ? `${stageValuesSql(columns, rows.length)}; ` : '';
      return request.query(`${createStageSql(columns)}; ${fill}${statements}; ${DROP_STAGE_SQL}`);
    }
    await c.run(createStageSql(columns));
    await this.#bulk(c, stageTable(columns, rows));
    return c.request().query(`${statements}; ${DROP_STAGE_SQL}`);
  }

  /** A parameterized statement on `c`, each parameter (a wire value) as its column's wire type. */
  execute(c: MssqlSession, statement: Parameterized, arrayRows = false): Promise<sql.IResult<unknown>> {
    const request = c.request();
    request.arrayRowMode = arrayRows;
    statement.params.forEach((p, i) => request.input(`p${i + 1}`, wireType(wireOf(p.column)), p.value));
    return request.query(statement.sql);
  }

  async #bulk(c: MssqlSession, table: sql.Table): Promise<void> {
    const request = c.request();
    let cancelled = false;
    const timer = setTimeout(() => {
      cancelled = true;
      request.cancel();
    }, this.#bulkTimeoutMs);
    try {
      await request.bulk(table, BULK_OPTIONS);
    } catch (err) {
      if (!cancelled) throw err;
      throw new FerryError(
        'retriable',
        `a bulk load of ${table.rows.length} rows into the stage did not finish in ${Math.round(this.#bulkTimeoutMs / 1000)} s and was cancelled`,
        {
          cause: err,
          hint: 'the target stopped answering, or is overloaded; ferry retries',
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.#pool.close().catch(() => {});
  }
}
