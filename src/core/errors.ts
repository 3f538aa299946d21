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
  const kind: ErrorKind = (code && RETRIABLE_CODES.has(code)) || isConnectionEnd ? 'retriable' : 'fatal';
  return new FerryError(kind, text, { cause: err });
}

export function configError(message: string, hint?: string): FerryError {
  return new FerryError('config', message, hint === undefined ? {} : { hint });
}
