import { sqlServerErrorNumbers } from './error-numbers.js';
import { resourceExhaustion } from './resource-exhaustion.js';

/**
 * The one error type. `kind` decides what happens next:
 * - retriable: back off and try again (dropped connection, deadlock, server restarting);
 * - fatal: stop and tell the operator what to do (purged binlog, schema change, rejected row);
 * - config: the operator's input is wrong; exit 2 before touching anything.
 */
export const ERROR_KINDS = ['retriable', 'fatal', 'config'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class FerryError extends Error {
  readonly kind: ErrorKind;
  /** What the operator should do about it, when ferry knows. */
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = 'FerryError';
    this.kind = kind;
    this.hint = options.hint;
  }

  /** Message plus the fix, as printed to the operator. */
  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

/** The code of the error core/connection-watchdog.ts ends a connection with that stopped answering. */
export const CONNECTION_SILENT = 'FERRY_CONNECTION_SILENT';

/** Network and server-side codes after which the same work may succeed. */
const RETRIABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  CONNECTION_SILENT,
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  // Postgres SQLSTATEs: serialization failure, deadlock, admin shutdown, cannot connect now, connection failures
  '40001',
  '40P01',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  // tedious/mssql: the socket failed or closed, a connect timed out, a request met a closed connection
  'ESOCKET',
  'ETIMEOUT',
  'ECONNCLOSED',
  'ECLOSE',
]);

/**
 * SQL Server error numbers after which the same work may succeed: the baseline transient errors of
 * Microsoft's SqlClient (SqlConfigurableRetryFactory.BaselineTransientErrors) that can reach a
 * connected session, which include tedious's list (src/transient-error-lookup.ts).
 */
const RETRIABLE_SQL_SERVER_NUMBERS = new Set([
  1204, // the instance cannot obtain a LOCK resource at this time
  1205, // chosen as the deadlock victim: rerun the transaction
  1222, // lock request time out period exceeded
  10928, // Azure SQL: the database's resource limit (workers, sessions) has been reached
  10929, // Azure SQL: the server is too busy to grant the database its minimum
  40143, // Azure SQL: the service has encountered an error processing the request
  40197, // Azure SQL: the service has encountered an error processing the request (failover, upgrade)
  40501, // Azure SQL: the service is currently busy
  40540, // Azure SQL: the service has encountered an error processing the request
  40613, // Azure SQL: the database is not currently available (reconfiguration, failover)
  49918, // Azure SQL: not enough resources to process the request
  49919, // Azure SQL: too many create or update operations in progress
  49920, // Azure SQL: too many operations in progress
]);

/** Classifies anything thrown by a driver into a FerryError, keeping the original as `cause`. */
export function coerceError(err: unknown, context?: string): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as { code?: string; message?: string } | undefined;
  const message = e?.message ?? String(err);
  const code = e?.code;
  const text = context ? `${context}: ${message}` : message;
  const resource = resourceExhaustion(err);
  if (resource) return new FerryError('retriable', `${context ? `${context}: ` : ''}${resource.problem} (${message})`, { cause: err, hint: resource.hint });
  // pg's connect timeout says "timeout expired" (or, from a pool, "timeout exceeded when trying to
  // connect"); a query on a client or connection that has died says it is closed.
  const isConnectionEnd =
    /Connection terminated|connection is closed|Client has encountered a connection error|socket hang up|timeout expired|timeout exceeded when trying to connect|not queryable|in closed state/i.test(
      message,
    );
  const retriable =
    (code !== undefined && RETRIABLE_CODES.has(code)) || sqlServerErrorNumbers(err).some((n) => RETRIABLE_SQL_SERVER_NUMBERS.has(n)) || isConnectionEnd;
  const kind: ErrorKind = retriable ? 'retriable' : 'fatal';
  return new FerryError(kind, text, { cause: err });
}

export function configError(message: string, hint?: string): FerryError {
  return new FerryError('config', message, hint === undefined ? {} : { hint });
}
