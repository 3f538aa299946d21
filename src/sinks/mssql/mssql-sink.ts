import sql from 'mssql';
import type { Logger } from 'pino';
import type { CheckpointTables } from '../../core/checkpoint-store.js';
import { FerryError } from '../../core/errors.js';
import type { DatabaseSink } from '../../core/sink.js';
import { describeEndpoint, poolConfig } from '../../engines/mssql/connection.js';
import { mssqlConnectError } from '../../engines/mssql/errors.js';
import { SqlSink } from '../sql-sink.js';
import { MssqlDriver } from './mssql-driver.js';
import { MssqlReader } from './mssql-reader.js';
import { MssqlSchemaFinish } from './mssql-schema-finish.js';
import { MssqlSession } from './mssql-session.js';
import { MssqlTables } from './mssql-tables.js';
import { MssqlWrites } from './mssql-writes.js';

export interface MssqlSinkOptions {
  readonly url: string;
  /** ferry's checkpoint tables on a SQL Server target (src/checkpoint/, handed in by src/engines/registry.ts). */
  readonly checkpoint: CheckpointTables<MssqlSession, sql.ConnectionPool>;
  readonly pipeline: string;
  readonly connections: number;
  /** A bulk load still running after ten times this long is cancelled (mssql-driver.ts). */
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
  /** Read-only commands (status, verify): create nothing in the target, not even ferry's own tables (DESIGN §1.1). */
  readonly readOnly?: boolean;
}

/**
 * The sink's pool: poolConfig's sessions (UTC, ARITHABORT ON) with what tedious sets at each login:
 * XACT_ABORT ON, so an error rolls the whole transaction back (nothing of a batch half-applied, and
 * the checkpoint never without its rows; a write under a savepoint turns it OFF until it is undone or
 * kept, mssql-savepoints.ts), and DATEFORMAT ymd, so date text reads year first whatever
 * the login's language. ANSI_WARNINGS stays ON (tedious's default): a value too long for its column
 * is an error, not a silent truncation.
 */
export function sinkPoolConfig(url: string, connections: number): sql.config {
  const config = poolConfig(url, 'target', connections);
  return { ...config, options: { ...config.options, abortTransactionOnError: true, dateFormat: 'ymd' } };
}

/** A bulk load is cancelled only well past the stall timeout: it is a guard against a server that stopped answering, not a limit. */
const BULK_TIMEOUTS = 10;

/** The SQL sink on a SQL Server (or Azure SQL) target: its pool and the engine's parts. */
export async function openMssqlSink(options: MssqlSinkOptions): Promise<DatabaseSink> {
  const where = `target ${describeEndpoint(options.url)}`;
  const pool = new sql.ConnectionPool(sinkPoolConfig(options.url, options.connections));
  // A connection dying while idle is an 'error' event, which unheard would end the process; the next request meets it anyway.
  pool.on('error', (err: Error) => options.log.debug({ err: err.message }, 'idle target connection failed'));
  try {
    await pool.connect().catch((err) => {
      throw mssqlConnectError(err, where, 'target.url');
    });
    if (!options.readOnly) await options.checkpoint.ensure(new MssqlSession(pool));
  } catch (err) {
    await pool.close().catch(() => {});
    if (err instanceof FerryError) throw err;
    throw new FerryError('retriable', `cannot prepare ${where}: ${(err as Error).message}`, {
      cause: err,
      hint: 'check that the target user may create a schema and tables in the database target.url names',
    });
  }
  const driver = new MssqlDriver(pool, options.stallTimeoutSeconds * 1000 * BULK_TIMEOUTS);
  const lock = options.checkpoint.lock(options.url, options.pipeline);
  return new SqlSink<MssqlSession>({
    driver,
    tables: new MssqlTables(),
    writes: new MssqlWrites(driver),
    finish: new MssqlSchemaFinish(driver, options.log),
    reader: new MssqlReader(pool, driver),
    store: options.checkpoint.store(pool, options.pipeline, lock.owner),
    lock,
  });
}
