import sql from 'mssql';
import { parseEndpointUrl, readTlsFiles, type UrlStyle } from '../../core/endpoint-url.js';
import { mssqlConnectError } from './errors.js';

/**
 * An mssql:// (or sqlserver://) URL: `mssql://user:password@host:1433/database`. SQL Server has no
 * URL form of its own (its clients write `Encrypt=…;TrustServerCertificate=…` connection strings),
 * so TLS takes libpq's parameter names: `sslmode=require` is Encrypt with TrustServerCertificate,
 * `verify-full` is Encrypt with the certificate and host name checked (against `sslrootcert` when given).
 */
export const MSSQL_URL: UrlStyle = {
  schemes: ['mssql', 'sqlserver'],
  defaultPort: 1433,
  params: { mode: 'sslmode', ca: 'sslrootcert', cert: 'sslcert', key: 'sslkey' },
  modeNames: { disable: 'disable', require: 'require', 'verify-ca': 'verify-ca', 'verify-full': 'verify-full' },
  modesIgnoreCase: false,
  fallbackModes: ['prefer', 'allow'],
  // tedious checks the certificate's host name whenever it checks the certificate (trustServerCertificate: false).
  refusedModes: {
    'verify-ca': {
      why: "ferry's SQL Server driver cannot check the certificate's chain without its host name",
      hint: 'use verify-full (chain and host name) or require (encrypted, certificate not checked)',
    },
  },
};

export type Role = 'source' | 'target';

/** The mssql (tedious) pool settings of a URL: UTC, the database the URL names, TLS as its mode says. */
export function poolConfig(url: string, role: Role = 'target', max = 4): sql.config {
  const e = parseEndpointUrl(url, MSSQL_URL, `${role}.url`);
  const encrypt = e.tls.mode !== 'disable';
  const files = readTlsFiles(e.tls, `${role}.tls`);
  return {
    server: e.host,
    port: e.port,
    ...(e.user === undefined ? {} : { user: e.user }),
    ...(e.password === undefined ? {} : { password: e.password }),
    ...(e.database ? { database: e.database } : {}),
    connectionTimeout: 10_000,
    // Bulk loads and set-based applies of large transactions run long; the stall watchdog, not this, catches a dead server.
    requestTimeout: 0,
    pool: { max, min: 0, idleTimeoutMillis: 30_000 },
    options: {
      appName: 'ferry',
      encrypt,
      trustServerCertificate: e.tls.mode === 'require',
      ...(files.ca || files.cert ? { cryptoCredentialsDetails: files } : {}),
      useUTC: true,
      enableArithAbort: true,
    },
  };
}

export function describeEndpoint(url: string): string {
  const e = parseEndpointUrl(url, MSSQL_URL);
  return `${e.user ?? ''}@${e.host}:${e.port}`;
}

/**
 * A connected pool; a failure to connect is a FerryError naming the server (never the password).
 * A pool whose connection dies while idle reports it as an 'error' event, which unheard would end
 * the process; the failure reaches ferry anyway, through the next request.
 */
export async function connectPool(url: string, role: Role = 'target', max = 1): Promise<sql.ConnectionPool> {
  const pool = new sql.ConnectionPool(poolConfig(url, role, max));
  pool.on('error', () => {});
  try {
    return await pool.connect();
  } catch (err) {
    await pool.close().catch(() => {});
    throw mssqlConnectError(err, `${role} ${describeEndpoint(url)}`, `${role}.url`);
  }
}
