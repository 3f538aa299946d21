import mysql, { type Connection, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { CheckProblem } from '../../core/check-problem.js';
import type { CheckpointTables } from '../../core/checkpoint-store.js';
import { idleInTransactionMs } from '../../core/connection-watchdog.js';
import { FerryError } from '../../core/errors.js';
import { serverFlavor, type Flavor } from '../../engines/mysql/binlog-position.js';
import { connect, connectionOptions, describeEndpoint, watchMysqlConnection } from '../../engines/mysql/connection.js';
import type { ErrorPolicy } from '../../core/error-policy.js';
import type { DatabaseSink } from '../../core/sink.js';
import { SqlSink } from '../sql-sink.js';
import { MysqlDriver } from './mysql-driver.js';
import { MysqlReader } from './mysql-reader.js';
import { UPSERT_STRATEGY, type UpsertStrategy } from './mysql-rows.js';
import { MysqlSchemaFinish } from './mysql-schema-finish.js';
import { MysqlTables } from './mysql-tables.js';
import { MysqlWrites } from './mysql-writes.js';

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
  /** The error policy of each source table (config `errors`). */
  readonly errorPolicy?: (table: string) => ErrorPolicy;
}

/**
 * Session settings of every apply connection: UTC, no foreign-key checks (the source enforced them,
 * DESIGN §3.4), strict values (a value MySQL would silently change is an error), and an explicit 0
 * in an AUTO_INCREMENT column stays 0.
 */
const SESSION_SQL = "SET time_zone = '+00:00', FOREIGN_KEY_CHECKS = 0, sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/** The SQL sink on a MySQL or MariaDB target: its pool, with the sessions ferry applies in, and the engine's parts. */
export async function openMysqlSink(options: MysqlSinkOptions): Promise<DatabaseSink> {
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
  const driver = new MysqlDriver(pool, loadData, options.log);
  const lock = options.checkpoint.lock(options.url, options.pipeline);
  return new SqlSink<PoolConnection>({
    driver,
    tables: new MysqlTables(flavor),
    writes: new MysqlWrites(options.upserts ?? UPSERT_STRATEGY),
    finish: new MysqlSchemaFinish(driver, flavor, options.log),
    reader: new MysqlReader(pool),
    store: options.checkpoint.store(pool, options.pipeline, lock.owner),
    lock,
    ...(options.errorPolicy ? { errorPolicy: options.errorPolicy } : {}),
  });
}

/** Preflight of the target: reachable, and whether snapshot loads can use LOAD DATA LOCAL. */
export async function checkMysqlTarget(url: string): Promise<CheckProblem[]> {
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
