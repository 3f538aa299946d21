import { sqlServerErrorNumbers } from '../../core/error-numbers.js';
import { coerceError, FerryError } from '../../core/errors.js';
import { tlsConnectError } from '../../core/tls-errors.js';

/**
 * 3906 (sys.messages): "Failed to update database … because the database is read-only": a database
 * set READ_ONLY (the cutover fence on SQL Server), and a readable secondary (an availability group's,
 * or an Azure SQL geo-secondary) refusing a write.
 */
const READ_ONLY_DATABASE = 3906;

/** Whether `err` is SQL Server refusing a write because the database is read-only. */
export function isReadOnlyRefusal(err: unknown): boolean {
  return sqlServerErrorNumbers(err).includes(READ_ONLY_DATABASE);
}

/** Node's codes for a host that cannot be reached or resolved, as the socket under tedious reports them. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

interface DriverError {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly originalError?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/**
 * The errors under a connection failure, outermost first: mssql's ConnectionError wraps tedious's
 * (`originalError`), whose `cause` is the socket's error, or an AggregateError of one per address tried.
 */
function chain(err: unknown): DriverError[] {
  const out: DriverError[] = [];
  const visit = (e: unknown) => {
    if (!e || typeof e !== 'object' || out.length > 8 || out.includes(e as DriverError)) return;
    const d = e as DriverError;
    out.push(d);
    visit(d.originalError);
    visit(d.cause);
    if (Array.isArray(d.errors)) for (const inner of d.errors) visit(inner);
  };
  visit(err);
  return out;
}

const text = (e: DriverError | undefined) => (typeof e?.message === 'string' ? e.message : '');

/**
 * A failure to connect to SQL Server as an operator can act on it, naming `where` (`user@host:port`,
 * never the password; the driver's messages hold none). `key` is the config key of the URL.
 */
export function mssqlConnectError(err: unknown, where: string, key: string): FerryError {
  if (err instanceof FerryError) return err;
  const errors = chain(err);
  const end = key.replace(/\.url$/, '');
  const codes = errors.map((e) => (typeof e.code === 'string' ? e.code : ''));
  const tls = errors.map((e) => tlsConnectError(e, where, end)).find((f) => f !== null);
  if (tls) return tls;
  if (codes.includes('EENCRYPT')) {
    return new FerryError('config', `${where} requires an encrypted connection, and ${end}.tls.mode is disable`, {
      cause: err,
      hint: `set ${end}.tls.mode: verify-full (or require, which does not check the certificate)`,
    });
  }
  const unreachable = codes.find((c) => UNREACHABLE.has(c)) ?? (codes.includes('ETIMEOUT') ? 'ETIMEOUT' : undefined);
  if (unreachable || codes[0] === 'ESOCKET') {
    return new FerryError('retriable', `${where} is unreachable (${unreachable ?? text(errors[0])})`, {
      cause: err,
      hint: `check the host and port in ${key}, and that SQL Server is running, listens on TCP and is reachable from here (a firewall rule on Azure SQL)`,
    });
  }
  if (codes.includes('ELOGIN')) return loginError(err, where, key, text(errors.find((e) => e.code === 'ELOGIN')));
  return coerceError(err, where);
}

/**
 * A login the server refused. The driver keeps the server's message, not its number: 18456 "Login
 * failed for user '…'", 4060 "Cannot open database … requested by the login", 40613 "Database … is
 * not currently available" and 40501 "The service is currently busy" (Azure SQL, transient).
 */
function loginError(err: unknown, where: string, key: string, message: string): FerryError {
  const end = key.replace(/\.url$/, '');
  if (/is not currently available|service is currently busy/i.test(message)) {
    return new FerryError('retriable', `${where}: ${message}`, { cause: err, hint: 'Azure SQL is reconfiguring the database; ferry retries' });
  }
  if (/Cannot open database/i.test(message)) {
    return new FerryError('config', `${where}: ${message}`, {
      cause: err,
      hint: `fix the database name in ${key}, or create a user for the login in that database (CREATE USER … FOR LOGIN …)`,
    });
  }
  const user = /Login failed for user '((?:[^']|'')*)'/i.exec(message)?.[1];
  return new FerryError('config', `${where}: login failed${user === undefined ? '' : ` for user '${user}'`} (${message})`, {
    cause: err,
    hint: `check the user and password in ${key} (or ${end}.passwordFile), and that the server allows SQL Server logins (mixed-mode authentication)`,
  });
}
