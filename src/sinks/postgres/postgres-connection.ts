import pg from 'pg';
import { tlsConnectError } from '../../core/tls-errors.js';
import { CONNECT_TIMEOUT_MS, describeEndpoint, KEEPALIVE, pgConnectionConfig, SERVER_KEEPALIVE_OPTIONS } from '../../sources/postgres/pg-connection.js';

/**
 * A connected pg client whose connection failures surface through its queries: an 'error' event
 * with no listener (the server dying while the client is idle) would end the process. Keepalive
 * and a connect timeout as every ferry connection has them (pg-connection.ts), unless `options` says otherwise.
 * A TLS failure is a config error that says what to fix.
 */
export async function connectClient(url: string, options: Omit<pg.ClientConfig, 'connectionString'> = {}): Promise<pg.Client> {
  const client = new pg.Client({ ...KEEPALIVE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, options: SERVER_KEEPALIVE_OPTIONS, ...options, ...pgConnectionConfig(url, 'target') });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw tlsConnectError(err, `target ${describeEndpoint(url)}`, 'target') ?? err;
  }
  return client;
}
