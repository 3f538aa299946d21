import { Readable } from 'node:stream';
import mysql, { type Connection, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { Write } from '../../core/coalesce.js';
import { tableKey, type ChangeEvent, type Row, type TableId, type Value } from '../../core/change-event.js';
import { tabSeparated, valueAt } from '../tab-separated.js';
import type { Checkpoint } from '../../core/checkpoint.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { CheckProblem } from '../../core/check-problem.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import type { VerifySide } from '../../core/verify-side.js';
import { coerceError, FerryError } from '../../core/errors.js';
import type { CheckpointStore, CheckpointTables, PipelineLock } from '../../core/checkpoint-store.js';
import { SqlSink, SqlTransaction, type Overlap } from '../sql-sink.js';
import { columnDrift, settleDrift } from '../column-drift.js';
import { noEqualRow } from '../row-writes.js';
import { mysqlReferencingRows } from './mysql-referential.js';
import { finalizeConstraints } from './mysql-constraints.js';
import type { ReferencingRows } from '../referential-actions.js';
import { serverFlavor, type Flavor } from '../../engines/mysql/binlog-position.js';
import { autoIncrementColumn, connect, connectionOptions, describeEndpoint, queryText, watchMysqlConnection } from '../../engines/mysql/connection.js';
import { idleInTransactionMs } from '../../core/connection-watchdog.js';
import {
  addColumnSql,
  columnTypeSql,
  createTableSql,
  deleteRowSql,
  insertSql,
  updateRowSql,
  loadDataSql,
  loadField,
  readRowsSql,
  rowValues,
  secondaryIndexes,
  tableCollation,
  toMysql,
} from './mysql-dialect.js';
import { qualified, quoteIdent } from '../../engines/mysql/quoting.js';
import { deleteByKey, insertCreated, patchByKey, runChecked, statements, upsertRows, UPSERT_STRATEGY, type UpsertStrategy } from './mysql-rows.js';
import { assertFiniteRows } from './mysql-non-finite.js';
import { mysqlHolds } from './mysql-widening.js';

export interface MysqlSinkOptions {
  readonly url: string;
  /** ferry's checkpoint tables on a MySQL target (src/checkpoint/, handed in by src/engines/registry.ts). */
  readonly checkpoint: CheckpointTables<Connection, Pool>;
  readonly pipeline: string;
  readonly connections: number;
  /** A statement unanswered this long on a connection the server no longer serves ends it (core/connection-watchdog.ts). */
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
  /** How upserts are written (mysql-rows.ts); the benchmark compares the two, ferry uses UPSERT_STRATEGY. */
  readonly upserts?: UpsertStrategy;
  /** Read-only commands (status, verify): create nothing in the target, not even ferry's own tables (DESIGN §1.1). */
  readonly readOnly?: boolean;
}

/**
 * Session settings of every apply connection: UTC, no foreign-key checks (the source enforced them,
 * DESIGN §3.4), strict values (a value MySQL would silently change is an error), and an explicit 0
 * in an AUTO_INCREMENT column stays 0.
 */
const SESSION_SQL = "SET time_zone = '+00:00', FOREIGN_KEY_CHECKS = 0, sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/** Errors of a server that forbids LOAD DATA LOCAL (MariaDB: command not allowed; MySQL 8: capability disabled). */
const LOCAL_INFILE_REFUSED = new Set([1148, 3948, 2068]);

export class MysqlSink extends SqlSink<PoolConnection> {
  readonly #log: Logger;
  readonly #pool: Pool;
  readonly #flavor: Flavor;
  readonly #upserts: UpsertStrategy;
  protected readonly lock: PipelineLock;
  protected readonly store: CheckpointStore<PoolConnection>;
  #loadData: boolean;

  private constructor(options: MysqlSinkOptions, pool: Pool, flavor: Flavor, loadData: boolean) {
    super();
    this.#log = options.log;
    this.#pool = pool;
    this.#flavor = flavor;
    this.#loadData = loadData;
    this.#upserts = options.upserts ?? UPSERT_STRATEGY;
    this.lock = options.checkpoint.lock(options.url, options.pipeline);
    this.store = options.checkpoint.store(pool, options.pipeline, this.lock.owner);
  }

  static async open(options: MysqlSinkOptions): Promise<MysqlSink> {
    let flavor: Flavor;
    let loadData: boolean;
    try {
      const probe = await connect(options.url, 'target');
      try {
        if (!options.readOnly) await options.checkpoint.ensure(probe);
        flavor = await serverFlavor(probe);
        const [rows] = await probe.query<RowDataPacket[]>('SELECT @@GLOBAL.local_infile AS local');
        loadData = Number(rows[0]?.local) === 1;
      } finally {
        await probe.end().catch(() => {});
      }
    } catch (err) {
      if (err instanceof FerryError && err.kind === 'config') throw err;
      throw new FerryError('retriable', `cannot prepare the target: ${(err as Error).message}`, {
        cause: err,
        hint: 'check target.url (host, port, user, password), that the server is running, and that the user may create databases',
      });
    }
    if (!loadData) options.log.warn('local_infile is OFF on the target; snapshot chunks load with multi-row INSERT instead of LOAD DATA LOCAL (slower)');
    const pool = mysql.createPool({
      ...connectionOptions(options.url, 'target'),
      connectionLimit: options.connections,
      waitForConnections: true,
      // An UPDATE counts the rows it found, also those it left as they were: how ferry tells a row the
      // target lacks from one that already had the values (mysql2's default; asked for all the same).
      flags: ['FOUND_ROWS'],
      // One round trip for a chunk's UPDATEs by key ('update-insert' only; values are escaped all the same).
      multipleStatements: (options.upserts ?? UPSERT_STRATEGY) === 'update-insert',
    });
    const stallMs = options.stallTimeoutSeconds * 1000;
    pool.pool.on('connection', (conn) => {
      conn.on('error', (err: Error) => options.log.debug({ err: err.message }, 'target connection failed'));
      watchMysqlConnection(conn, options.url, { stallMs, name: `target ${describeEndpoint(options.url)}`, log: options.log });
      // MySQL has no per-session TCP keepalive: wait_timeout ends the session of a ferry that vanished
      // (mid-transaction too) so its row locks do not block the ferry that reconnects.
      conn.query(`SET SESSION wait_timeout = ${Math.round(idleInTransactionMs(stallMs) / 1000)}`, () => {});
      // Queued ahead of the first statement the connection runs; a failure there fails that statement too.
      conn.query(SESSION_SQL, (err: Error | null) => err && options.log.warn({ err: err.message }, 'target session settings failed'));
    });
    return new MysqlSink(options, pool, flavor, loadData);
  }

  /** Preflight of the target: reachable, and whether snapshot loads can use LOAD DATA LOCAL. */
  static async check(url: string): Promise<CheckProblem[]> {
    let conn: Connection | undefined;
    try {
      conn = await connect(url, 'target');
    } catch (err) {
      return [
        {
          check: 'target',
          message: `cannot connect to the target: ${(err as Error).message}`,
          hint: (err as FerryError).hint ?? 'check target.url (host, port, user, password) and that the server is running',
        },
      ];
    }
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.local_infile AS local');
      if (Number(rows[0]?.local) === 1) return [];
      return [
        {
          check: 'local_infile',
          warning: true,
          message: 'local_infile is OFF on the target: snapshot loads fall back to multi-row INSERT, about half as fast',
          hint: 'SET GLOBAL local_infile = ON (and local_infile=1 in my.cnf)',
        },
      ];
    } finally {
      await conn.end().catch(() => {});
    }
  }

  /** Cross-engine tables compare text byte for byte, trailing spaces included, as Postgres does; MySQL tables keep the target's default. */
  #collation(t: TableSchema): string | null {
    return tableCollation(t, this.#flavor);
  }

  protected async run(conn: Connection, sql: string): Promise<void> {
    await conn.query(sql);
  }

  protected giveBack(conn: PoolConnection, destroy: boolean): void {
    if (destroy) conn.destroy();
    else conn.release();
  }

  protected createSchemaSql(schema: string): string {
    return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(schema)}`;
  }

  /** MySQL's CREATE … IF NOT EXISTS holds metadata locks and is safe against itself: nothing to add. */
  protected async lockDdl(): Promise<void> {}

  protected async tableExists(conn: Connection, t: TableSchema): Promise<boolean> {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
      t.target.schema,
      t.target.name,
    ]);
    return rows.length > 0;
  }

  /** With its primary key always: InnoDB clusters rows by it, and key-ordered chunks append to it. */
  protected async createTable(conn: Connection, t: TableSchema, replace: boolean): Promise<void> {
    if (replace) await conn.query(`DROP TABLE IF EXISTS ${qualified(t.target)}`);
    await conn.query(createTableSql(t, this.#collation(t)));
  }

  protected truncateSql(t: TableSchema): string {
    return `TRUNCATE TABLE ${qualified(t.target)}`;
  }

  protected async reconcileColumns(conn: Connection, t: TableSchema, addMissing: boolean, keyLater: boolean): Promise<void> {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [t.target.schema, t.target.name],
    );
    const actual = new Map<string, string>(rows.map((r) => [String(r.name), String(r.type)]));
    const [key] = await conn.query<RowDataPacket[]>(
      "SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'",
      [t.target.schema, t.target.name],
    );
    const drift = columnDrift(
      t,
      actual,
      key.map((r) => String(r.name)),
      (c) => columnTypeSql(t, c),
      mysqlHolds,
      keyLater,
    );
    await settleDrift(t, drift, addMissing, async (c) => {
      for (const sql of addColumnSql(t, c)) await conn.query(sql);
    });
  }

  /**
   * LOAD DATA LOCAL, streamed. The server turns LOCAL's data errors into warnings (strict mode does
   * not apply), so any warning fails the chunk. A server that forbids LOCAL gets multi-row INSERTs.
   */
  protected async loadRows(conn: Connection, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void> {
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

  async finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    // CREATE INDEX commits by itself in MySQL: the indexes come first, each created once.
    await this.createIndexes(tables);
    // AUTO_INCREMENT counters already follow the largest key InnoDB has seen: nothing to move.
    await this.transaction((conn) => this.recordStreaming(conn, tables, checkpoint)).catch((err) => {
      throw coerceError(err, 'target snapshot completion');
    });
  }

  async createIndexes(tables: readonly TableSchema[]): Promise<void> {
    await this.transaction(async (conn) => {
      for (const t of tables) {
        for (const index of secondaryIndexes(t)) if (!(await indexExists(conn, t.target, index.name))) await conn.query(index.sql);
      }
    }).catch((err) => {
      throw coerceError(err, 'target index creation');
    });
  }

  /**
   * The cutover's constraints, on a session without foreign-key checks (SESSION_SQL): the rows that
   * would break one are looked for first and fail it before any DDL, which commits by itself here.
   */
  async finalizeSchema(tables: readonly TableSchema[]): Promise<void> {
    const conn = await this.checkout();
    let broken = false;
    try {
      await finalizeConstraints(conn, tables, this.#flavor, this.#log);
    } catch (err) {
      broken = !(err instanceof FerryError);
      throw coerceError(err, 'target constraints');
    } finally {
      this.giveBack(conn, broken);
    }
  }

  /**
   * InnoDB moves an AUTO_INCREMENT counter past every explicit value inserted, which is how ferry
   * writes, and raises one set at or below the column's max to max + 1 by itself; the counter also
   * goes to at least what the source would hand out next, never back.
   */
  async advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void> {
    await this.transaction(async (conn) => {
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

  protected checkout(): Promise<PoolConnection> {
    return this.#pool.getConnection();
  }

  protected openTransaction(conn: PoolConnection): MysqlTransaction {
    return new MysqlTransaction(conn, this.tables, this.store, this.overlap, this.#upserts);
  }

  async countRows(table: TableSchema): Promise<number> {
    const [rows] = await this.#pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${qualified(table.target)}`);
    return Number(rows[0]?.n ?? 0);
  }

  /** Statements on the pool, whose sessions are in UTC (SESSION_SQL); tables by their target names. */
  async verifySide(): Promise<VerifySide> {
    return { engine: 'mysql', tableId: (t) => t.target, query: (sql, params) => queryText(this.#pool, sql, params), close: async () => {} };
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const values = afterKey
      ? table.primaryKey.map((c) => toMysql(table.columns.find((col) => col.name === c)!.type, afterKey[c] ?? null, table.target, c))
      : [];
    const [rows] = await this.#pool.query<RowDataPacket[]>(readRowsSql(table, afterKey !== null, limit), values);
    return rows as Row[];
  }

  protected async closeConnections(): Promise<void> {
    await this.#pool.end().catch(() => {});
  }
}

async function indexExists(conn: Connection, t: TableId, name: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1',
    [t.schema, t.name, name],
  );
  return rows.length > 0;
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

class MysqlTransaction extends SqlTransaction<PoolConnection> {
  readonly #upserts: UpsertStrategy;

  constructor(conn: PoolConnection, tables: Map<string, TableSchema>, store: CheckpointStore<PoolConnection>, overlap: Overlap, upserts: UpsertStrategy) {
    super(conn, tables, store, overlap);
    this.#upserts = upserts;
  }

  protected async execute(sql: string): Promise<void> {
    await this.conn.query(sql);
  }

  /** TRUNCATE would commit the open transaction (MySQL DDL): DELETE keeps it atomic with the checkpoint. */
  protected async truncate(t: TableSchema): Promise<void> {
    await this.conn.query(`DELETE FROM ${qualified(t.target)}`);
  }

  /** Every statement touches only rows with the changes' keys (mysql-rows.ts). */
  protected async applyRows(t: TableSchema, w: Extract<Write, { kind: 'rows' }>, checked: boolean): Promise<void> {
    await deleteByKey(this.conn, t, w.deletes, checked);
    if (w.transients.length > 0) await deleteByKey(this.conn, t, w.transients, false);
    for (const p of w.patches) await patchByKey(this.conn, t, p, checked);
    await upsertRows(this.conn, t, w.upserts, this.#upserts);
    await insertCreated(this.conn, t, w.inserts, this.#upserts);
  }

  protected async applyExact(t: TableSchema, e: ChangeEvent): Promise<void> {
    const values = (row: Row) => rowValues(t, t.columns, row);
    if (e.op === 'c' || e.op === 'r') {
      await runChecked(this.conn, t, insertSql(t, t.columns), [[values(e.after!)]]);
      return;
    }
    // Found rows (the pool's FOUND_ROWS): an update that changes nothing still counts its row.
    const matched =
      e.op === 'd'
        ? await runChecked(this.conn, t, deleteRowSql(t), values(e.before!))
        : await runChecked(this.conn, t, updateRowSql(t), [...values(e.after!), ...values(e.before!)]);
    if (matched !== 1) throw noEqualRow(t);
  }

  /**
   * MySQL DDL commits the open transaction: what it wrote so far commits ahead of the checkpoint, so
   * the checkpoint's overlap is extended over it first (a crash before this transaction's own commit
   * replays those changes, which then converge; a missing row there is no divergence).
   */
  async addColumns(table: TableId, columns: readonly Column[]): Promise<void> {
    const updated = this.withColumns(table, columns);
    const [existing] = await this.conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [updated.target.schema, updated.target.name],
    );
    const present = new Set(existing.map((r) => String(r.name)));
    const missing = columns.filter((c) => !present.has(c.name));
    if (missing.length === 0) return;
    await this.extendOverlapOverWrites();
    for (const c of missing) for (const sql of addColumnSql(updated, c)) await this.conn.query(sql);
    await this.conn.query('BEGIN');
  }

  protected referencingRows(): ReferencingRows {
    return mysqlReferencingRows(this.conn);
  }

  protected release(destroy: boolean): void {
    if (destroy) this.conn.destroy();
    else this.conn.release();
  }
}
