import type { CheckProblem } from '../../core/check-problem.js';
import { coerceError } from '../../core/errors.js';
import { parseEndpointUrl } from '../../core/endpoint-url.js';
import { connectPool, MSSQL_URL } from '../../engines/mssql/connection.js';
import { quoteIdent } from '../../engines/mssql/quoting.js';

/**
 * What `ferry check` reads of a SQL Server target, in one statement on the database the URL names.
 * SERVERPROPERTY('EngineEdition'): 5 Azure SQL Database, 8 Azure SQL Managed Instance, 6 and 11
 * Azure Synapse (dedicated and serverless pools). HAS_PERMS_BY_NAME counts what roles grant too.
 */
export const TARGET_CHECK_SQL = `SELECT
    CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,
    CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition,
    DB_NAME() AS database_name,
    USER_NAME() AS user_name,
    d.compatibility_level AS compatibility_level,
    CAST(DATABASEPROPERTYEX(DB_NAME(), 'Updateability') AS nvarchar(128)) AS updateability,
    CAST(CONNECTIONPROPERTY('encrypt_option') AS nvarchar(128)) AS encrypt_option,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE TABLE') AS create_table,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE SCHEMA') AS create_schema,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'ALTER ANY SCHEMA') AS alter_any_schema,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'SELECT') AS can_select,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'INSERT') AS can_insert,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'UPDATE') AS can_update,
    HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'DELETE') AS can_delete,
    CASE WHEN IS_ROLEMEMBER(N'db_owner') = 1 OR IS_ROLEMEMBER(N'db_ddladmin') = 1 THEN 1 ELSE 0 END AS reseeds
  FROM sys.databases AS d WHERE d.database_id = DB_ID()`;

/** The row TARGET_CHECK_SQL returns. */
export interface TargetCheckRow {
  readonly product_version: string | null;
  readonly engine_edition: number | null;
  readonly database_name: string;
  readonly user_name: string | null;
  readonly compatibility_level: number;
  readonly updateability: string | null;
  readonly encrypt_option: string | null;
  readonly create_table: number | null;
  readonly create_schema: number | null;
  readonly alter_any_schema: number | null;
  readonly can_select: number | null;
  readonly can_insert: number | null;
  readonly can_update: number | null;
  readonly can_delete: number | null;
  /** Whether DBCC CHECKIDENT runs on any table: db_owner and db_ddladmin may, otherwise only the owner of the table's schema. */
  readonly reseeds: number;
}

/** SQL Server 2017 (14.x): the oldest ferry writes into; Azure SQL reports its own numbering (12.x) and is always current. */
export const MIN_MAJOR_VERSION = 14;
/**
 * SQL Server 2019 (15.x): the first with UTF-8 collations, through which verify hashes text as the
 * other engines do (engines/mssql/verify-sql.ts).
 */
export const MIN_VERIFY_MAJOR_VERSION = 15;
/**
 * Compatibility level 130 (SQL Server 2016): below it the database has no OPENJSON or STRING_SPLIT,
 * and ferry's statements are written for 130 and up.
 */
export const MIN_COMPATIBILITY_LEVEL = 130;

const AZURE_EDITIONS = new Set([5, 8]);
const SYNAPSE_EDITIONS = new Set([6, 11]);

/** What is wrong with a SQL Server target for ferry, from TARGET_CHECK_SQL's row; `encrypted` is what the URL asks. */
export function targetCheckProblems(row: TargetCheckRow, encrypted: boolean): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const db = row.database_name;
  const user = quoteIdent(row.user_name ?? 'ferry');
  const edition = row.engine_edition ?? 0;
  if (SYNAPSE_EDITIONS.has(edition)) {
    problems.push({
      check: 'target version',
      message:
        'the target is Azure Synapse Analytics, whose primary keys and unique constraints are not enforced: ferry cannot apply changes exactly once there',
      hint: 'write into SQL Server 2017+, Azure SQL Database or Azure SQL Managed Instance',
    });
  }
  const major = Number.parseInt(row.product_version ?? '', 10);
  if (!AZURE_EDITIONS.has(edition) && !SYNAPSE_EDITIONS.has(edition) && !(major >= MIN_MAJOR_VERSION)) {
    problems.push({
      check: 'target version',
      message: `the target runs SQL Server ${row.product_version ?? '(version unknown)'}; ferry writes into SQL Server 2017 (14.x) and later`,
      hint: 'upgrade the server, or write into Azure SQL Database or Azure SQL Managed Instance',
    });
  }
  if (!AZURE_EDITIONS.has(edition) && major >= MIN_MAJOR_VERSION && major < MIN_VERIFY_MAJOR_VERSION) {
    problems.push({
      check: 'target version',
      warning: true,
      message: `SQL Server ${row.product_version} has no UTF-8 collation: ferry verify --mode checksums, and the cutover's verification by checksums (its default), fail there; counts run`,
      hint: 'set cutover.verify: counts and run ferry verify --mode counts, or write into SQL Server 2019+ or Azure SQL',
    });
  }
  if (row.compatibility_level < MIN_COMPATIBILITY_LEVEL) {
    problems.push({
      check: 'compatibility level',
      message: `database ${db} runs at compatibility level ${row.compatibility_level}; ferry needs ${MIN_COMPATIBILITY_LEVEL} (SQL Server 2016) or later`,
      hint: `ALTER DATABASE ${quoteIdent(db)} SET COMPATIBILITY_LEVEL = ${MIN_COMPATIBILITY_LEVEL}; (or higher), once the applications on it are ready for it`,
    });
  }
  if (row.updateability === 'READ_ONLY') {
    problems.push({
      check: 'target',
      message: `database ${db} is read-only (READ_ONLY, or a readable secondary)`,
      hint: `connect to the primary, or ALTER DATABASE ${quoteIdent(db)} SET READ_WRITE;`,
    });
  }
  if (encrypted && row.encrypt_option !== 'TRUE') {
    problems.push({
      check: 'target tls',
      message: `the connection to the target is not encrypted (encrypt_option ${row.encrypt_option ?? 'unknown'}), though target.tls.mode asks for TLS`,
      hint: 'check the server\'s "Force Encryption" and certificate setup',
    });
  }
  const denied = (flag: number | null) => flag !== 1;
  for (const [flag, grant, why] of [
    [row.create_schema, 'CREATE SCHEMA', "create schemas: ferry creates its own (ferry, for the checkpoint) and the target's"],
    [row.create_table, 'CREATE TABLE', 'create tables: ferry creates the target tables and its checkpoint table'],
  ] as const) {
    if (denied(flag)) problems.push({ check: 'target grants', message: `the target user may not ${why} (database ${db})`, hint: `GRANT ${grant} TO ${user};` });
  }
  const missing = (
    [
      [row.alter_any_schema, 'ALTER'],
      [row.can_select, 'SELECT'],
      [row.can_insert, 'INSERT'],
      [row.can_update, 'UPDATE'],
      [row.can_delete, 'DELETE'],
    ] as const
  )
    .filter(([flag]) => denied(flag))
    .map(([, what]) => what);
  if (missing.length > 0) {
    problems.push({
      check: 'target grants',
      warning: true,
      message: `the target user has no database-wide ${missing.join(', ')}: ferry can write only into the schemas it creates (it owns them), not into one that exists already`,
      hint: `for a target schema that exists already (dbo, or target.schema): GRANT SELECT, INSERT, UPDATE, DELETE, ALTER ON SCHEMA::[schema] TO ${user}; (ALTER: the snapshot bulk-loads with constraint checks off, which needs ALTER on the table)`,
    });
  }
  if (row.reseeds !== 1) {
    problems.push({
      check: 'target grants',
      warning: true,
      message: `the target user is neither db_owner nor db_ddladmin: the cutover moves each IDENTITY past the copied keys with DBCC CHECKIDENT, which SQL Server then runs only in the schemas the user owns, and would fail for a table in a schema ferry did not create (dbo, or a target.schema that exists already)`,
      hint: `ALTER ROLE db_ddladmin ADD MEMBER ${user};`,
    });
  }
  return problems;
}

/** ferry check on a SQL Server target: connectivity (host and port named, never the password), TLS, version, compatibility level and grants. */
export async function checkMssqlTarget(url: string): Promise<CheckProblem[]> {
  const endpoint = parseEndpointUrl(url, MSSQL_URL, 'target.url');
  if (!endpoint.database) {
    return [
      {
        check: 'target',
        message: "target.url names no database: ferry would write into the login's default database (often master)",
        hint: 'name the database in target.url: mssql://user@host:1433/database',
      },
    ];
  }
  let pool: Awaited<ReturnType<typeof connectPool>>;
  try {
    pool = await connectPool(url);
  } catch (err) {
    const e = coerceError(err);
    return [
      {
        check: 'target',
        message: `cannot connect to the target: ${e.message}`,
        hint: e.hint ?? 'check target.url (host, port, user, password, database) and that SQL Server is running',
      },
    ];
  }
  try {
    const { recordset } = await pool.request().query<TargetCheckRow>(TARGET_CHECK_SQL);
    const row = recordset[0];
    if (!row)
      return [{ check: 'target', message: 'the target database is not visible to the target user', hint: 'name a database the user can open in target.url' }];
    return targetCheckProblems(row, endpoint.tls.mode !== 'disable');
  } finally {
    await pool.close().catch(() => {});
  }
}
