import { Readable } from 'node:stream';
import mysql, { type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { coalesce, groupByColumns, type Patch } from '../../core/coalesce.js';
import { tableKey, type ChangeEvent, type Row, type TableId } from '../../core/change-event.js';
import type { Checkpoint, SnapshotProgress } from '../../core/checkpoint.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { Sink, SinkTransaction, TablePrep } from '../../core/sink.js';
import type { CheckProblem } from '../../core/source.js';
import { coerceError, FerryError } from '../../errors.js';
import { MysqlPipelineLock } from '../../checkpoint/mysql-pipeline-lock.js';
import {
  assertMysqlOwner, clearMysqlProgress, ensureMysqlCheckpointTables, readMysqlCheckpoint, readMysqlProgress, writeMysqlCheckpoint, writeMysqlProgress,
} from '../../checkpoint/mysql-checkpoint-table.js';
import { serverFlavor, type Flavor } from '../../sources/mysql/binlog-position.js';
import { connect, connectionOptions } from '../../sources/mysql/mysql-connection.js';
import {
  addColumnSql, columnTypeSql, createTableSql, deleteSql, insertSql, loadDataSql, loadField, loadsAsHex, normalizeColumnType,
  patchSql, qualified, quoteIdent, readRowsSql, rowValues, secondaryIndexes, toMysql,
} from './mysql-dialect.js';

export interface MysqlSinkOptions {
  readonly url: string;
  readonly pipeline: string;
  readonly connections: number;
  readonly log: Logger;
}

/** Rows per multi-row statement, and a byte budget per statement well under the default max_allowed_packet. */
const ROWS_PER_STATEMENT = 1000;
const BYTES_PER_STATEMENT = 4 * 1024 * 1024;
/** LOAD DATA stream pieces: each is one protocol packet, which must stay under max_allowed_packet. */
const LOAD_BYTES_PER_WRITE = 1024 * 1024;

/**
 * Session settings of every apply connection: UTC, no foreign-key checks (the source enforced them,
 * DESIGN §3.4), strict values (a value MySQL would silently change is an error), and an explicit 0
 * in an AUTO_INCREMENT column stays 0.
 */
const SESSION_SQL = "SET time_zone = '+00:00', FOREIGN_KEY_CHECKS = 0, sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/** Errors of a server that forbids LOAD DATA LOCAL (MariaDB: command not allowed; MySQL 8: capability disabled). */
const LOCAL_INFILE_REFUSED = new Set([1148, 3948, 2068]);

export class MysqlSink implements Sink {
  readonly #o: MysqlSinkOptions;
  readonly #pool: Pool;
  readonly #flavor: Flavor;
  readonly #tables = new Map<string, TableSchema>();
  readonly #lock: MysqlPipelineLock;
  #loadData: boolean;

  private constructor(options: MysqlSinkOptions, pool: Pool, flavor: Flavor, loadData: boolean) {
    this.#o = options;
    this.#pool = pool;
    this.#flavor = flavor;
    this.#loadData = loadData;
    this.#lock = new MysqlPipelineLock(options.url, options.pipeline);
  }

  static async open(options: MysqlSinkOptions): Promise<MysqlSink> {
    let flavor: Flavor;
    let loadData: boolean;
    try {
      const probe = await connect(options.url, 'target');
      try {
        await ensureMysqlCheckpointTables(probe);
        flavor = await serverFlavor(probe);
        const [rows] = await probe.query<RowDataPacket[]>('SELECT @@GLOBAL.local_infile AS local');
        loadData = Number(rows[0]?.local) === 1;
      } finally {
        await probe.end().catch(() => {});
      }
    } catch (err) {
      throw new FerryError('retriable', `cannot prepare the target: ${(err as Error).message}`, {
        cause: err, hint: 'check target.url (host, port, user, password), that the server is running, and that the user may create databases',
      });
    }
    if (!loadData) options.log.warn('local_infile is OFF on the target; snapshot chunks load with multi-row INSERT instead of LOAD DATA LOCAL (slower)');
    const pool = mysql.createPool({ ...connectionOptions(options.url, 'target'), connectionLimit: options.connections, waitForConnections: true });
    pool.pool.on('connection', (conn) => {
      conn.on('error', (err: Error) => options.log.debug({ err: err.message }, 'target connection failed'));
      // Queued ahead of the first statement the connection runs; a failure there fails that statement too.
      conn.query(SESSION_SQL, (err: Error | null) => err && options.log.warn({ err: err.message }, 'target session settings failed'));
    });
    return new MysqlSink(options, pool, flavor, loadData);
  }

  /** Preflight of the target: reachable, and whether snapshot loads can use LOAD DATA LOCAL. */
  static async check(url: string): Promise<CheckProblem[]> {
    let conn;
    try {
      conn = await connect(url, 'target');
    } catch (err) {
      return [{ check: 'target', message: `cannot connect to the target: ${(err as Error).message}`, hint: 'check target.url (host, port, user, password) and that the server is running' }];
    }
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.local_infile AS local');
      if (Number(rows[0]?.local) === 1) return [];
      return [{
        check: 'local_infile', warning: true,
        message: 'local_infile is OFF on the target: snapshot loads fall back to multi-row INSERT, about half as fast',
        hint: 'SET GLOBAL local_infile = ON (and local_infile=1 in my.cnf)',
      }];
    } finally {
      await conn.end().catch(() => {});
    }
  }

  claim(): Promise<void> {
    return this.#lock.acquire();
  }

  /** Cross-engine tables compare text byte for byte, trailing spaces included, as Postgres does; MySQL tables keep the target's default. */
  #collation(t: TableSchema): string | null {
    if (t.engine === 'mysql') return null;
    return this.#flavor === 'mariadb' ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
  }

  async #withConnection<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.#pool.getConnection();
    try {
      return await work(conn);
    } finally {
      conn.release();
    }
  }

  async #withTransaction<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    return this.#withConnection(async (conn) => {
      await conn.query('BEGIN');
      try {
        const result = await work(conn);
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw err;
      }
    });
  }

  /** MySQL DDL commits by itself: tables are prepared statement by statement, each idempotent. */
  async prepare(tables: readonly TableSchema[], prep: TablePrep): Promise<void> {
    for (const t of tables) this.#tables.set(tableKey(t.source), t);
    await this.#withConnection(async (conn) => {
      for (const db of new Set(tables.map((t) => t.target.schema))) await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(db)}`);
      for (const t of tables) {
        if (prep === 'none') {
          if (!(await tableExists(conn, t.target))) {
            throw new FerryError('config', `target table ${qualified(t.target)} does not exist and snapshot.tablePrep is none`, { hint: 'create it yourself, or set snapshot.tablePrep: create' });
          }
          await reconcileColumns(conn, t, false);
          continue;
        }
        if (prep === 'drop-and-create') await conn.query(`DROP TABLE IF EXISTS ${qualified(t.target)}`);
        await conn.query(createTableSql(t, this.#collation(t)));
        await reconcileColumns(conn, t, true);
        if (prep === 'truncate') await conn.query(`TRUNCATE TABLE ${qualified(t.target)}`);
      }
    }).catch((err) => {
      throw coerceError(err, 'target table preparation');
    });
  }

  loadCheckpoint(): Promise<Checkpoint | null> {
    return readMysqlCheckpoint(this.#pool, this.#o.pipeline);
  }

  loadSnapshotProgress(): Promise<SnapshotProgress[]> {
    return readMysqlProgress(this.#pool, this.#o.pipeline);
  }

  async beginSnapshot(): Promise<void> {
    await this.#withTransaction(async (conn) => {
      await clearMysqlProgress(conn, this.#o.pipeline);
      await writeMysqlCheckpoint(conn, this.#o.pipeline, this.#lock.owner, { phase: 'snapshot', position: null, tables: [] });
    });
  }

  async loadChunk(table: TableSchema, rows: readonly Row[], progress: SnapshotProgress): Promise<void> {
    await this.#withTransaction(async (conn) => {
      await assertMysqlOwner(conn, this.#o.pipeline, this.#lock.owner);
      if (rows.length > 0) await this.#load(conn, table, rows);
      await writeMysqlProgress(conn, this.#o.pipeline, progress);
    }).catch((err) => {
      throw coerceError(err, `target snapshot load of ${qualified(table.target)}`);
    });
  }

  /**
   * LOAD DATA LOCAL, streamed. The server turns LOCAL's data errors into warnings (strict mode does
   * not apply), so any warning fails the chunk. A server that forbids LOCAL gets multi-row INSERTs.
   */
  async #load(conn: PoolConnection, table: TableSchema, rows: readonly Row[]): Promise<void> {
    if (this.#loadData) {
      try {
        const [result] = await conn.query<ResultSetHeader>({ sql: loadDataSql(table), infileStreamFactory: () => Readable.from(loadLines(table, rows)) });
        if (result.warningStatus > 0) await failOnWarnings(conn, table);
        return;
      } catch (err) {
        if (!LOCAL_INFILE_REFUSED.has((err as { errno?: number }).errno ?? 0)) throw err;
        this.#loadData = false;
        this.#o.log.warn({ err: (err as Error).message }, 'the target refuses LOAD DATA LOCAL; snapshot chunks load with multi-row INSERT instead (slower)');
      }
    }
    for (const part of statements(table.columns, rows)) await conn.query(insertSql(table, table.columns, null), [part.map((r) => rowValues(table, table.columns, r))]);
  }

  async finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    await this.#withConnection(async (conn) => {
      for (const t of tables) {
        for (const index of secondaryIndexes(t)) if (!(await indexExists(conn, t.target, index.name))) await conn.query(index.sql);
      }
    }).catch((err) => {
      throw coerceError(err, 'target index creation');
    });
    // AUTO_INCREMENT counters already follow the largest key InnoDB has seen: nothing to move.
    await this.#withTransaction(async (conn) => {
      await clearMysqlProgress(conn, this.#o.pipeline);
      await writeMysqlCheckpoint(conn, this.#o.pipeline, this.#lock.owner, { ...checkpoint, tables: tables.map((t) => tableKey(t.source)) });
    }).catch((err) => {
      throw coerceError(err, 'target snapshot completion');
    });
  }

  async begin(): Promise<SinkTransaction> {
    const conn = await this.#pool.getConnection().catch((err) => {
      throw coerceError(err, 'target connection');
    });
    try {
      await conn.query('BEGIN');
    } catch (err) {
      conn.destroy();
      throw coerceError(err, 'target BEGIN');
    }
    return new MysqlTransaction(conn, this.#tables, this.#o.pipeline, this.#lock.owner);
  }

  async countRows(table: TableSchema): Promise<number> {
    const [rows] = await this.#pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${qualified(table.target)}`);
    return Number(rows[0]?.n ?? 0);
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const values = afterKey ? table.primaryKey.map((c) => toMysql(table.columns.find((col) => col.name === c)!.type, afterKey[c] ?? null, table.target, c)) : [];
    const [rows] = await this.#pool.query<RowDataPacket[]>(readRowsSql(table, afterKey !== null, limit), values);
    return rows as Row[];
  }

  async close(): Promise<void> {
    await this.#lock.release();
    await this.#pool.end().catch(() => {});
  }
}

async function tableExists(conn: PoolConnection, t: TableId): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [t.schema, t.name]);
  return rows.length > 0;
}

async function indexExists(conn: PoolConnection, t: TableId, name: string): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1', [t.schema, t.name, name]);
  return rows.length > 0;
}

async function failOnWarnings(conn: PoolConnection, table: TableSchema): Promise<never> {
  const [warnings] = await conn.query<RowDataPacket[]>('SHOW WARNINGS LIMIT 5');
  const text = warnings.map((w) => `${String(w.Message)}`).join('; ');
  throw new FerryError('fatal', `the target changed values while loading ${qualified(table.target)}: ${text}`, {
    hint: 'the chunk was rolled back; widen the target column or fix the value at the source, then restart',
  });
}

/**
 * Brings an existing target table in line with the source's columns where that is a pure addition
 * (when ferry manages the table), and refuses anything else, as the Postgres sink does.
 */
async function reconcileColumns(conn: PoolConnection, t: TableSchema, addMissing: boolean): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [t.target.schema, t.target.name]);
  const actual = new Map<string, string>(rows.map((r) => [String(r.name), String(r.type)]));
  const problems: string[] = [];
  for (const c of t.columns) {
    const type = actual.get(c.name);
    const wanted = columnTypeSql(t, c);
    if (type === undefined && !addMissing) problems.push(`column ${c.name} is missing in the target (snapshot.tablePrep none: add it yourself)`);
    else if (type === undefined) for (const sql of addColumnSql(t, c)) await conn.query(sql);
    else if (normalizeColumnType(type) !== normalizeColumnType(wanted)) problems.push(`column ${c.name} is ${type} in the target, but the source's ${c.sourceType} maps to ${wanted}`);
  }
  for (const name of actual.keys()) {
    if (!t.columns.some((c) => c.name === name)) problems.push(`column ${name} is in the target but no longer in the source (dropped or renamed)`);
  }
  if (problems.length > 0) {
    throw new FerryError('fatal', `target table ${qualified(t.target)} no longer matches ${tableKey(t.source)}: ${problems.join('; ')}`, {
      hint: 'the source table changed in a way ferry does not replicate; alter the target table to match, or re-snapshot (snapshot.mode: always, snapshot.tablePrep: drop-and-create)',
    });
  }
}

/** LOAD DATA text in Buffers (mysql2 takes nothing else) of about LOAD_BYTES_PER_WRITE each. */
function* loadLines(table: TableSchema, rows: readonly Row[]): Generator<Buffer> {
  const columns = table.columns;
  const hex = columns.map((c) => loadsAsHex(table, c));
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let j = 0; j < columns.length; j++) {
      const c = columns[j]!;
      if (j > 0) text += '\t';
      const v = toMysql(c.type, row[c.name] ?? null, table.target, c.name);
      text += hex[j] && typeof v === 'string' ? Buffer.from(v, 'binary').toString('hex') : loadField(v);
    }
    text += '\n';
    if (text.length >= LOAD_BYTES_PER_WRITE) {
      yield Buffer.from(text);
      text = '';
    }
  }
  if (text) yield Buffer.from(text);
}

/** A rough byte size of a row, to keep multi-row statements under max_allowed_packet. */
function rowBytes(columns: readonly Column[], row: Row): number {
  let n = 0;
  for (const c of columns) {
    const v = row[c.name];
    n += v === null || v === undefined ? 4 : Buffer.isBuffer(v) ? v.length * 2 + 3 : String(v).length * 2 + 3;
  }
  return n;
}

/** Rows cut into statements of at most ROWS_PER_STATEMENT rows and BYTES_PER_STATEMENT bytes. */
function statements<T extends Row>(columns: readonly Column[], rows: readonly T[]): T[][] {
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const r of rows) {
    const size = rowBytes(columns, r);
    if (part.length > 0 && (part.length >= ROWS_PER_STATEMENT || bytes + size > BYTES_PER_STATEMENT)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(r);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

class MysqlTransaction implements SinkTransaction {
  readonly #conn: PoolConnection;
  readonly #tables: Map<string, TableSchema>;
  readonly #pipeline: string;
  readonly #owner: string;
  #done = false;

  constructor(conn: PoolConnection, tables: Map<string, TableSchema>, pipeline: string, owner: string) {
    this.#conn = conn;
    this.#tables = tables;
    this.#pipeline = pipeline;
    this.#owner = owner;
  }

  #table(id: TableId): TableSchema {
    const t = this.#tables.get(tableKey(id));
    if (!t) throw new FerryError('fatal', `no target mapping for source table ${tableKey(id)}`);
    return t;
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    for (const w of coalesce(events, (id) => this.#table(id).primaryKey)) {
      const t = this.#table(w.table);
      try {
        // TRUNCATE would commit the open transaction (MySQL DDL): DELETE keeps it atomic with the checkpoint.
        if (w.kind === 'truncate') {
          await this.#conn.query(`DELETE FROM ${qualified(t.target)}`);
          continue;
        }
        const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
        for (const part of statements(keyCols, w.deletes)) {
          const keys = part.map((k) => rowValues(t, keyCols, k));
          await this.#conn.query(deleteSql(t), [keyCols.length === 1 ? keys.map((k) => k[0]) : keys]);
        }
        for (const p of w.patches) await this.#patch(t, keyCols, p);
        for (const [updated, rows] of groupByColumns(t.columns, w.upserts, w.upserts)) {
          // Every column is inserted (a row that predates a column gets its backfill); only present ones are updated.
          for (const part of statements(t.columns, rows)) await this.#conn.query(insertSql(t, t.columns, updated), [part.map((r) => rowValues(t, t.columns, r))]);
        }
      } catch (err) {
        throw new FerryError(coerceError(err).kind, `target rejected a change to ${qualified(t.target)}: ${(err as Error).message}`, {
          cause: err,
          hint: `the checkpoint did not move past this change; ${(err instanceof FerryError && err.hint) || 'fix the target table (or exclude the table)'}, then restart`,
        });
      }
    }
  }

  async #patch(t: TableSchema, keyCols: readonly Column[], p: Patch): Promise<void> {
    const set = t.columns.filter((c) => c.name in p.set);
    await this.#conn.query(patchSql(t, set), [...rowValues(t, set, p.set), ...rowValues(t, keyCols, p.match)]);
  }

  /** MySQL DDL commits the open transaction; the rows before it are idempotent upserts, so a replay converges. */
  async addColumns(table: TableId, columns: readonly Column[]): Promise<void> {
    const known = this.#table(table);
    const updated: TableSchema = { ...known, columns: [...known.columns, ...columns.filter((c) => !known.columns.some((k) => k.name === c.name))] };
    const [existing] = await this.#conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [known.target.schema, known.target.name]);
    const present = new Set(existing.map((r) => String(r.name)));
    for (const c of columns) if (!present.has(c.name)) for (const sql of addColumnSql(updated, c)) await this.#conn.query(sql);
    await this.#conn.query('BEGIN');
    this.#tables.set(tableKey(table), updated);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    try {
      await writeMysqlCheckpoint(this.#conn, this.#pipeline, this.#owner, checkpoint);
      await this.#conn.query('COMMIT');
    } catch (err) {
      await this.rollback();
      throw coerceError(err, 'target commit');
    }
    this.#release();
  }

  async rollback(): Promise<void> {
    if (this.#done) return;
    await this.#conn.query('ROLLBACK').catch(() => {});
    this.#release(true);
  }

  #release(destroy = false): void {
    if (this.#done) return;
    this.#done = true;
    if (destroy) this.#conn.destroy();
    else this.#conn.release();
  }
}
