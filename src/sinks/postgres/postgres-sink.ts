import pg from 'pg';
import type { Logger } from 'pino';
import type { CheckProblem } from '../../core/check-problem.js';
import type { CheckpointTables } from '../../core/checkpoint-store.js';
import { idleInTransactionMs } from '../../core/connection-watchdog.js';
import { FerryError } from '../../core/errors.js';
import {
  CONNECT_TIMEOUT_MS,
  connectClient,
  describeEndpoint,
  KEEPALIVE,
  pgConnectionConfig,
  SERVER_KEEPALIVE_OPTIONS,
  watchPgClient,
} from '../../engines/postgres/connection.js';
import type { ErrorPolicy } from '../../core/error-policy.js';
import type { DatabaseSink } from '../../core/sink.js';
import { SqlSink } from '../sql-sink.js';
import { PostgresDriver } from './postgres-driver.js';
import { PostgresReader } from './postgres-reader.js';
import { PostgresSchemaFinish } from './postgres-schema-finish.js';
import { postgresTables } from './postgres-tables.js';
import { postgresWrites } from './postgres-writes.js';

export interface PostgresSinkOptions {
  readonly url: string;
  /** ferry's checkpoint tables on a Postgres target (src/checkpoint/, handed in by src/engines/registry.ts). */
  readonly checkpoint: CheckpointTables<pg.ClientBase, pg.Pool>;
  readonly pipeline: string;
  readonly connections: number;
  /** A statement unanswered this long on a connection the server no longer serves ends it (core/connection-watchdog.ts). */
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
  /** Read-only commands (status, verify): create nothing in the target, not even ferry's own tables (DESIGN §1.1). */
  readonly readOnly?: boolean;
  /** The error policy of each source table (config `errors`). */
  readonly errorPolicy?: (table: string) => ErrorPolicy;
}

/** The SQL sink on a Postgres target: its pool, with the sessions ferry applies in, and the engine's parts. */
export async function openPostgresSink(options: PostgresSinkOptions): Promise<DatabaseSink> {
  let probe: pg.Client | undefined;
  try {
    probe = await connectClient(options.url);
    if (!options.readOnly) await options.checkpoint.ensure(probe);
  } catch (err) {
    if (err instanceof FerryError && err.kind === 'config') throw err;
    throw new FerryError('retriable', `cannot prepare the target: ${(err as Error).message}`, {
      cause: err,
      hint: 'check target.url (host, port, user, password, database), that Postgres is running, and that the user may create schemas',
    });
  } finally {
    await probe?.end().catch(() => {});
  }
  // UTC, so timestamptz text compares with the source's; and, like a native replica, no trigger or
  // foreign-key enforcement where the role may switch it off: the source already did both.
  const replica = await canSetReplicaRole(options.url);
  if (!replica) options.log.warn('the target user cannot set session_replication_role=replica; target triggers and foreign keys stay active');
  const stallMs = options.stallTimeoutSeconds * 1000;
  const pool = new pg.Pool({
    ...pgConnectionConfig(options.url, 'target'),
    max: options.connections,
    ...KEEPALIVE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Text forms as the sources print theirs (verify compares them), whatever the server's defaults.
    // A session of a ferry that vanished mid-transaction is ended by the server after
    // idleInTransactionMs, so its locks do not block the ferry that reconnects.
    options:
      `-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=1 -c bytea_output=hex${replica ? ' -c session_replication_role=replica' : ''}` +
      ` ${SERVER_KEEPALIVE_OPTIONS} -c idle_in_transaction_session_timeout=${idleInTransactionMs(stallMs)}`,
  });
  pool.on('error', (err) => options.log.warn({ err: err.message }, 'idle target connection failed'));
  // A client checked out of the pool reports a dying server as an 'error' event of its own, and an
  // unheard one would end the process. The failure reaches ferry anyway, through the next query.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.log.debug({ err: err.message }, 'target connection failed'));
    watchPgClient(client, options.url, { stallMs, name: `target ${describeEndpoint(options.url)}`, log: options.log });
  });
  const driver = new PostgresDriver(pool);
  const lock = options.checkpoint.lock(options.url, options.pipeline);
  return new SqlSink<pg.PoolClient>({
    driver,
    tables: postgresTables,
    writes: postgresWrites,
    finish: new PostgresSchemaFinish(pool, driver, options.connections, options.log),
    reader: new PostgresReader(pool),
    store: options.checkpoint.store(pool, options.pipeline, lock.owner),
    lock,
    ...(options.errorPolicy ? { errorPolicy: options.errorPolicy } : {}),
  });
}

/** Preflight of the target: reachable, may create schemas, may switch off triggers for apply sessions. */
export async function checkPostgresTarget(url: string): Promise<CheckProblem[]> {
  let client: pg.Client;
  try {
    client = await connectClient(url);
  } catch (err) {
    return [
      {
        check: 'target',
        message: `cannot connect to the target: ${(err as Error).message}`,
        hint: (err as FerryError).hint ?? 'check target.url (host, port, user, password, database) and that Postgres is running',
      },
    ];
  }
  try {
    const { rows } = await client.query(
      `SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS can_create,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    );
    const problems: CheckProblem[] = [];
    if (!rows[0].can_create) {
      problems.push({
        check: 'target grants',
        message: 'the target user may not create schemas in this database',
        hint: 'GRANT CREATE ON DATABASE <db> TO <user>;',
      });
    }
    if (!rows[0].superuser) {
      problems.push({
        check: 'session_replication_role',
        warning: true,
        message: 'the target user cannot set session_replication_role=replica, so target triggers and foreign keys stay active while applying',
        hint: 'use a superuser for the target, or make sure target tables have no triggers or foreign keys that the source did not have',
      });
    }
    return problems;
  } finally {
    await client.end();
  }
}

async function canSetReplicaRole(url: string): Promise<boolean> {
  const client = await connectClient(url);
  try {
    await client.query('SET session_replication_role = replica');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
