import type { Socket } from 'node:net';
import mysql, { type Connection, type ConnectionOptions, type Pool, type RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { TableId } from '../../core/change-event.js';
import { watchConnection } from '../../core/connection-watchdog.js';
import { parseEndpointUrl, readTlsFiles, type TlsSettings, type UrlStyle } from '../../core/endpoint-url.js';
import { tlsConnectError } from '../../core/tls-errors.js';
import { coerceError, FerryError } from '../../core/errors.js';

/** A mysql:// (or mariadb://) URL, TLS in the parameters of MySQL's own clients. */
export const MYSQL_URL: UrlStyle = {
  schemes: ['mysql', 'mariadb'],
  defaultPort: 3306,
  params: { mode: 'ssl-mode', ca: 'ssl-ca', cert: 'ssl-cert', key: 'ssl-key' },
  modeNames: { disable: 'DISABLED', require: 'REQUIRED', 'verify-ca': 'VERIFY_CA', 'verify-full': 'VERIFY_IDENTITY' },
  modesIgnoreCase: true,
  fallbackModes: ['PREFERRED'],
  // mysql2 (3.24) sends no host to Node's identity check when the host is an IP address, and Node
  // then checks the name "localhost": verify-full would pass a certificate that names localhost. Fail closed.
  verifyFullByIp: "ferry's MySQL driver checks the certificate's host name only for host names",
};

/** mysql2 options from a mysql:// URL (core/endpoint-url.ts), set up so values arrive exactly (DESIGN §3.6). */
export function connectionOptions(url: string, role: Role = 'source'): ConnectionOptions {
  const e = parseEndpointUrl(url, MYSQL_URL, `${role}.url`);
  return {
    host: e.host,
    port: e.port,
    user: e.user,
    password: e.password,
    database: role === 'source' && e.database ? e.database : undefined,
    ssl: mysqlTls(e.tls, role),
    charset: 'UTF8MB4_GENERAL_CI',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    jsonStrings: true,
    timezone: 'Z',
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    connectTimeout: 10_000,
  };
}

/** mysql2's TLS options for a mode (DESIGN §1.2): require encrypts only; verify-ca checks the chain; verify-full also the host name. */
function mysqlTls(tls: TlsSettings, role: Role): ConnectionOptions['ssl'] {
  if (tls.mode === 'disable') return undefined;
  return { ...readTlsFiles(tls, `${role}.tls`), rejectUnauthorized: tls.mode !== 'require', verifyIdentity: tls.mode === 'verify-full' };
}

export function describeEndpoint(url: string): string {
  const e = parseEndpointUrl(url, MYSQL_URL);
  return `${e.user ?? ''}@${e.host}:${e.port}`;
}

/** Classifies connection failures into messages an operator can act on. */
export function connectError(err: unknown, url: string, role: Role = 'source'): FerryError {
  const e = err as { code?: string; message?: string };
  const where = describeEndpoint(url);
  const key = `${role}.url`;
  const tls = tlsConnectError(err, `${role} ${where}`, role);
  if (tls) return tls;
  switch (e.code) {
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return new FerryError('config', `${role} ${where}: access denied (${e.message})`, {
        cause: err,
        hint: `check the user and password in ${key} (or ${role}.passwordFile) and that the user may connect from this host`,
      });
    case 'ER_BAD_DB_ERROR':
      return new FerryError('config', `${role} ${where}: ${e.message}`, { cause: err, hint: `fix the database name in ${key}` });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return new FerryError('retriable', `${role} ${where} is unreachable (${e.code})`, {
        cause: err,
        hint: `check the host and port in ${key}, and that the server is running and reachable`,
      });
    default:
      return coerceError(err, `${role} ${where}`);
  }
}

type Role = 'source' | 'target';

/**
 * A connection in UTC. A target connection selects no database: ferry qualifies every name, and the
 * databases it writes may not exist yet.
 */
export async function connect(url: string, role: Role = 'source'): Promise<Connection> {
  let conn: Connection | undefined;
  try {
    conn = await mysql.createConnection(connectionOptions(url, role));
    // A connection that dies while idle reports it as an 'error' event; unheard, it would end the
    // process. The failure reaches ferry anyway, through the next query on it.
    conn.on('error', () => {});
    await conn.query("SET time_zone = '+00:00', autocommit = 1");
    return conn;
  } catch (err) {
    conn?.destroy();
    throw connectError(err, url, role);
  }
}

/** The internals of a mysql2 (callback API) connection the watchdog reads. */
interface ConnectionInternals {
  readonly stream: Socket;
  readonly threadId: number;
  readonly _command: unknown;
  readonly _commands: { readonly length: number };
}

/**
 * Watches a connected mysql2 connection (core/connection-watchdog.ts; the callback API's object, as a
 * pool's 'connection' event gives it): a statement unanswered past the stall timeout, which the
 * process list (asked on a new connection) says the server is not running, ends the connection.
 */
export function watchMysqlConnection(conn: unknown, url: string, o: { stallMs: number; name: string; log: Logger }): void {
  const c = conn as ConnectionInternals;
  const id = c.threadId;
  watchConnection(
    {
      socket: c.stream,
      busy: () => Boolean(c._command) || c._commands.length > 0,
      running: async (timeoutMs) => {
        const probe = await mysql.createConnection({ ...connectionOptions(url, 'target'), connectTimeout: timeoutMs });
        probe.on('error', () => {});
        try {
          const [rows] = await probe.query<RowDataPacket[]>('SELECT COMMAND AS command FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);
          return rows.length > 0 && String(rows[0]!.command) !== 'Sleep';
        } finally {
          probe.destroy();
        }
      },
    },
    { stallMs: o.stallMs, name: o.name, warn: (message) => o.log.warn(message) },
  );
}

/** Which server this is, whatever name or address reached it (MySQL 8's server_uuid where it exists). */
export async function serverIdentity(conn: Connection): Promise<string> {
  const [rows] = await conn.query('SELECT @@hostname AS h, @@port AS p, @@datadir AS d, @@server_id AS i');
  const r = (rows as Record<string, unknown>[])[0]!;
  const [uuid] = await conn.query('SELECT @@server_uuid AS u').catch(() => [[{ u: '' }]]);
  return `mysql:${String((uuid as Record<string, unknown>[])[0]?.u ?? '')}:${String(r.h)}:${String(r.p)}:${String(r.d)}:${String(r.i)}`;
}

/** One statement's rows as arrays of text (verify): numbers in their shortest exact form, binary strings as UTF-8, NULL as null. */
export async function queryText(conn: Connection | Pool, sql: string, params: readonly string[] = []): Promise<(string | null)[][]> {
  const [rows] = await conn.query({ sql, values: [...params], rowsAsArray: true });
  return (rows as unknown[][]).map((r) => r.map((v) => (v === null ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v))));
}

/** A table's AUTO_INCREMENT column and the value it hands out next (read fresh: MySQL 8 caches it in statistics). */
export async function autoIncrementColumn(conn: Connection, t: TableId): Promise<{ name: string; next: bigint | null } | null> {
  await conn.query('SET SESSION information_schema_stats_expiry = 0').catch(() => {}); // MySQL 8 only
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT c.COLUMN_NAME AS name, t.AUTO_INCREMENT AS next FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
      WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? AND c.EXTRA LIKE '%auto_increment%'`,
    [t.schema, t.name],
  );
  const row = rows[0];
  if (!row) return null;
  return { name: String(row.name), next: row.next === null ? null : BigInt(String(row.next)) };
}
