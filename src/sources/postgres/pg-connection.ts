import pg from 'pg';
import { coerceError, FerryError } from '../../errors.js';

/**
 * Session settings under which every value's text form is canonical (DESIGN §3.6): UTC timestamps,
 * ISO dates, Postgres-style intervals (what a target Postgres prints too), shortest exact floats, hex bytea. The replication connection takes
 * the same settings, so the snapshot and the stream print values identically. ferry's sessions stay
 * writable under a cutover fence (default_transaction_read_only), for the heartbeat and the marker.
 */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c default_transaction_read_only=off';

/** The prefix of ferry's messages in the WAL (pg_logical_emit_message: heartbeats and the cutover's marker). */
export const MESSAGE_PREFIX = 'ferry';

/** The application_name of ferry's source sessions: the cutover fence ends every other session. */
export const FERRY_APPLICATION_NAME = 'ferry';

export function sourceClientConfig(url: string): pg.ClientConfig {
  return { connectionString: url, options: SESSION_OPTIONS, application_name: FERRY_APPLICATION_NAME, keepAlive: true, connectionTimeoutMillis: 10_000 };
}

/** Query results with every value as the server's text: ferry converts them itself (pg-types.ts). */
export const RAW_TEXT = { getTypeParser: () => (v: string) => v };

export function describeEndpoint(url: string): string {
  const u = new URL(url);
  return `${decodeURIComponent(u.username)}@${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/** Connection failures as messages an operator can act on. */
export function sourceConnectError(err: unknown, url: string): FerryError {
  const e = err as { code?: string; message?: string };
  const where = `source ${describeEndpoint(url)}`;
  if (e.code === '28P01' || e.code === '28000') {
    return new FerryError('config', `${where}: ${e.message}`, { cause: err, hint: 'check the user and password in source.url and pg_hba.conf' });
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
