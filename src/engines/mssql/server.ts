import type { TargetNaming } from '../../core/target-naming.js';
import { connectPool } from './connection.js';
import { DEFAULT_COLLATION } from './naming.js';

/**
 * Which server and database this is, whatever name or address reached it: the instance's own name
 * (ServerName, as @@SERVERNAME: the logical server on Azure SQL), the machine under it, and the database.
 */
export const SERVER_IDENTITY_SQL =
  "SELECT CONCAT(CAST(SERVERPROPERTY('ServerName') AS nvarchar(128)), '/', CAST(SERVERPROPERTY('MachineName') AS nvarchar(128)), '/', DB_NAME()) AS id";

/**
 * The collation the database compares names by: that of its catalog's own name columns (a contained
 * database's catalog, and an Azure SQL database's CATALOG_COLLATION, may differ from its default
 * collation; a name converts to sql_variant with its collation), else the database's default collation.
 */
export const CATALOG_COLLATION_SQL = `SELECT COALESCE(
    CAST(SQL_VARIANT_PROPERTY(s.name, 'Collation') AS nvarchar(128)),
    CAST(DATABASEPROPERTYEX(DB_NAME(), 'Collation') AS nvarchar(128))) AS collation
  FROM sys.schemas AS s WHERE s.schema_id = 1`;

/** Which server the target at `url` is (see SourceCatalogue.serverIdentity). */
export async function mssqlServerIdentity(url: string): Promise<string> {
  const pool = await connectPool(url);
  try {
    const { recordset } = await pool.request().query<{ id: string }>(SERVER_IDENTITY_SQL);
    return `mssql:${recordset[0]?.id ?? ''}`;
  } finally {
    await pool.close().catch(() => {});
  }
}

/**
 * How the target at `url` compares names: its catalog collation; the setup default when the target
 * cannot be reached, which checkTarget reports on its own.
 */
export async function mssqlTargetNaming(url: string): Promise<TargetNaming> {
  const pool = await connectPool(url).catch(() => null);
  if (!pool) return { engine: 'mssql', collation: DEFAULT_COLLATION };
  try {
    const { recordset } = await pool.request().query<{ collation: string | null }>(CATALOG_COLLATION_SQL);
    return { engine: 'mssql', collation: recordset[0]?.collation ?? DEFAULT_COLLATION };
  } finally {
    await pool.close().catch(() => {});
  }
}
