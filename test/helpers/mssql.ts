import sql from 'mssql';
import { poolConfig } from '../../src/engines/mssql/connection.js';

/**
 * The SQL Server the integration tests may use: `FERRY_TEST_MSSQL_URL` (`npm run test:mssql` sets it
 * to compose's SQL Server 2022). None runs on the machines ferry is built on, so without it the
 * tests that need one are reported as skipped, with this reason in their name, never as passed.
 */
export const MSSQL_TEST_URL = process.env.FERRY_TEST_MSSQL_URL ?? null;
export const NO_MSSQL = 'not run: FERRY_TEST_MSSQL_URL is not set: no SQL Server on this machine';

/** `url` naming `database` instead (its query, the TLS mode, is kept). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** One database on the test server, with a pool that runs T-SQL batches on it. */
export interface MssqlDatabase {
  readonly url: string;
  readonly pool: sql.ConnectionPool;
  /** Runs a batch (several statements allowed); returns the rows of its last result. */
  query(batch: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const bracket = (name: string) => `[${name.replace(/]/g, ']]')}]`;

/** A fresh, empty database `name` on the test server (dropped first, its sessions ended, if a run before left it). */
export async function freshMssqlDatabase(name: string): Promise<MssqlDatabase> {
  if (!MSSQL_TEST_URL) throw new Error(NO_MSSQL);
  const master = await new sql.ConnectionPool(poolConfig(withDatabase(MSSQL_TEST_URL, 'master'), 'target', 1)).connect();
  try {
    const literal = `N'${name.replace(/'/g, "''")}'`;
    await master
      .request()
      .batch(
        `IF DB_ID(${literal}) IS NOT NULL BEGIN ALTER DATABASE ${bracket(name)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE ${bracket(name)}; END; CREATE DATABASE ${bracket(name)}`,
      );
  } finally {
    await master.close();
  }
  return openMssqlDatabase(withDatabase(MSSQL_TEST_URL, name));
}

/** A pool on the database `url` names; a query returns the rows of the batch's last result. */
export async function openMssqlDatabase(url: string): Promise<MssqlDatabase> {
  const pool = await new sql.ConnectionPool(poolConfig(url, 'target', 2)).connect();
  // Tests kill sessions: a dead connection must not surface as an unhandled error.
  pool.on('error', () => {});
  return {
    url,
    pool,
    async query(batch) {
      const sets = (await pool.request().batch(batch)).recordsets as unknown as Record<string, unknown>[][];
      return sets[sets.length - 1] ?? [];
    },
    close: () => pool.close(),
  };
}

/** Ends the sessions holding ferry's pipeline lock in `db` (a network partition, as the holder sees it). */
export async function killLockHolders(db: MssqlDatabase): Promise<void> {
  const holders = await db.query(
    "SELECT DISTINCT request_session_id AS id FROM sys.dm_tran_locks WHERE resource_type = 'APPLICATION' AND request_owner_type = 'SESSION' AND resource_database_id = DB_ID()",
  );
  for (const h of holders) await db.query(`KILL ${Number(h.id)}`);
}
