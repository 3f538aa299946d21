import type { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import { watchConnection } from '../../core/connection-watchdog.js';
import { parseEndpointUrl, readTlsFiles, type TlsSettings, type UrlStyle } from '../../core/endpoint-url.js';
import { tlsConnectError } from '../../core/tls-errors.js';
import { coerceError, FerryError } from '../../core/errors.js';

/**
 * Session settings under which every value's text form is canonical (DESIGN §3.6): UTC timestamps,
 * ISO dates, Postgres-style intervals (what a target Postgres prints too), shortest exact floats, hex bytea. The replication connection takes
 * the same settings, so the snapshot and the stream print values identically. ferry's sessions stay
 * writable under a cutover fence (default_transaction_read_only), for the heartbeat and the marker.
 */
const SESSION_OPTIONS =
  '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c default_transaction_read_only=off';

/** The prefix of ferry's messages in the WAL (pg_logical_emit_message: heartbeats and the cutover's marker). */
export const MESSAGE_PREFIX = 'ferry';

/** The application_name of ferry's source sessions: the cutover fence ends every other session. */
export const FERRY_APPLICATION_NAME = 'ferry';

/**
 * TCP keepalive from both ends within seconds, not the OS's two hours: ferry's side after 10 s idle,
 * the server's (session settings) after 10 s idle and 3 probes 5 s apart, so the server ends the
 * session of a ferry it lost (releasing its locks and its slot) in about 25 s.
 */
export const KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;
export const SERVER_KEEPALIVE_OPTIONS = '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3';

/** How long a connection attempt may take; "timeout expired" after it is retriable (core/errors.ts). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** A postgres:// (or postgresql://) URL, TLS in libpq's parameters. */
export const POSTGRES_URL: UrlStyle = {
  schemes: ['postgres', 'postgresql'],
  defaultPort: 5432,
  params: { mode: 'sslmode', ca: 'sslrootcert', cert: 'sslcert', key: 'sslkey' },
  modeNames: { disable: 'disable', require: 'require', 'verify-ca': 'verify-ca', 'verify-full': 'verify-full' },
  modesIgnoreCase: false,
  fallbackModes: ['allow', 'prefer'],
};

/**
 * Where and how to connect, from a postgres:// URL (core/endpoint-url.ts). Never a connectionString:
 * pg's parser would print a SECURITY WARNING to stderr for sslmode, and read libpq settings ferry does
 * not take. `ssl: false` for disable, so PGSSLMODE in the environment does not override the config.
 */
export function pgConnectionConfig(url: string, end = 'source'): pg.ClientConfig {
  const e = parseEndpointUrl(url, POSTGRES_URL, `${end}.url`);
  return { host: e.host, port: e.port, user: e.user, password: e.password, database: e.database || undefined, ssl: pgTls(e.tls, end) };
}

/** pg's TLS options for a mode (DESIGN §1.2): require encrypts only; verify-ca checks the chain; verify-full also the host name. */
function pgTls(tls: TlsSettings, end: string): pg.ClientConfig['ssl'] {
  if (tls.mode === 'disable') return false;
  const files = readTlsFiles(tls, `${end}.tls`);
  if (tls.mode === 'require') return { ...files, rejectUnauthorized: false };
  return { ...files, rejectUnauthorized: true, ...(tls.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}) };
}

export function sourceClientConfig(url: string): pg.ClientConfig {
  return {
    ...pgConnectionConfig(url),
    options: `${SESSION_OPTIONS} ${SERVER_KEEPALIVE_OPTIONS}`,
    application_name: FERRY_APPLICATION_NAME,
    ...KEEPALIVE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
}

/** Query results with every value as the server's text: ferry converts them itself (types.ts). */
export const RAW_TEXT = { getTypeParser: () => (v: string) => v };

export function describeEndpoint(url: string): string {
  const e = parseEndpointUrl(url, POSTGRES_URL);
  return `${e.user ?? ''}@${e.host}:${e.port}/${e.database}`;
}

/** Connection failures as messages an operator can act on. */
export function sourceConnectError(err: unknown, url: string): FerryError {
  const e = err as { code?: string; message?: string };
  const where = `source ${describeEndpoint(url)}`;
  const tls = tlsConnectError(err, where, 'source');
  if (tls) return tls;
  if (e.code === '28P01' || e.code === '28000') {
    return new FerryError('config', `${where}: ${e.message}`, {
      cause: err,
      hint: 'check the user and password in source.url (or source.passwordFile) and pg_hba.conf',
    });
  }
  if (e.code === '3D000') return new FerryError('config', `${where}: ${e.message}`, { cause: err, hint: 'fix the database name in source.url' });
  return coerceError(err, where);
}

/** A connected source client; an idle connection's death surfaces through its next query, not as an unheard event. */
export async function connectSource(url: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client({ ...sourceClientConfig(url), ...extra });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw sourceConnectError(err, url);
  }
}

/** Which cluster and database this is, whatever name or address reached it. */
export async function serverIdentity(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query("SELECT system_identifier::text || '/' || current_database() AS id FROM pg_control_system()");
  return `postgres:${rows[0].id}`;
}

/** One statement's rows as arrays of the server's text (verify), NULL as null. */
export async function queryText(client: pg.ClientBase | pg.Pool, sql: string, params: readonly string[] = []): Promise<(string | null)[][]> {
  const { rows } = await client.query<(string | null)[]>({ text: sql, values: [...params], rowMode: 'array', types: RAW_TEXT });
  return rows;
}

/** The internals of a pg client the watchdog reads: its socket, and whether a query waits for its answer. */
interface ClientInternals {
  readonly connection: { readonly stream: Socket };
  readonly processID: number;
  readonly _queryQueue: readonly unknown[];
  _getActiveQuery(): unknown;
}

/**
 * Watches a connected client (core/connection-watchdog.ts): a query unanswered past the stall timeout,
 * which pg_stat_activity (asked on a new connection) says the server is not running, ends the client.
 */
export function watchPgClient(client: pg.Client, url: string, o: { stallMs: number; name: string; log: Logger }): void {
  const c = client as unknown as ClientInternals;
  const pid = c.processID;
  watchConnection(
    {
      socket: c.connection.stream,
      busy: () => Boolean(c._getActiveQuery()) || c._queryQueue.length > 0,
      running: async (timeoutMs) => {
        const probe = new pg.Client({ ...pgConnectionConfig(url), application_name: 'ferry watchdog', connectionTimeoutMillis: timeoutMs });
        probe.on('error', () => {});
        try {
          await probe.connect();
          const { rows } = await probe.query('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
          return rows[0]?.state === 'active';
        } finally {
          (probe as unknown as Partial<ClientInternals>).connection?.stream.destroy();
        }
      },
    },
    { stallMs: o.stallMs, name: o.name, warn: (message) => o.log.warn(message) },
  );
}

/** Ends a client; one whose server went silent (a heartbeat still waiting on it) is dropped after a second instead. */
export async function endClient(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const dropped = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      resolve();
    }, 1000);
  });
  await Promise.race([client.end().catch(() => {}), dropped]);
  clearTimeout(timer);
}

/**
 * A connected pg client whose connection failures surface through its queries: an 'error' event
 * with no listener (the server dying while the client is idle) would end the process. Keepalive
 * and a connect timeout as every ferry connection has them (above), unless `options` says otherwise.
 * A TLS failure is a config error that says what to fix.
 */
export async function connectClient(url: string, options: Omit<pg.ClientConfig, 'connectionString'> = {}): Promise<pg.Client> {
  const client = new pg.Client({
    ...KEEPALIVE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    options: SERVER_KEEPALIVE_OPTIONS,
    ...options,
    ...pgConnectionConfig(url, 'target'),
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw tlsConnectError(err, `target ${describeEndpoint(url)}`, 'target') ?? err;
  }
  return client;
}
