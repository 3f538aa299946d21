import { FerryError } from '../../core/errors.js';
import type { TableId } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import { qualified, quoteIdent, textLiteral } from '../../engines/mssql/quoting.js';
import { columnDrift, settleDrift } from '../column-drift.js';
import type { TargetTables } from '../target-tables.js';
import { addColumnSql, columnType, createTableSql } from './mssql-dialect.js';
import type { MssqlSession } from './mssql-session.js';
import { type CatalogColumn, catalogType, mssqlHolds } from './mssql-widening.js';

/** Makes a schema unless it exists: CREATE SCHEMA must be alone in its batch, hence EXEC. */
export function createSchemaSql(schema: string): string {
  return `IF SCHEMA_ID(${textLiteral(schema)}) IS NULL EXEC(${textLiteral(`CREATE SCHEMA ${quoteIdent(schema)}`)})`;
}

/** The table, when it exists (parameter 1: the qualified name). */
export const TABLE_EXISTS_SQL = "SELECT 1 AS present WHERE OBJECT_ID(@p1, N'U') IS NOT NULL";

/** The table's columns and their types, alias types (sysname) resolved to their base type. */
export const COLUMNS_SQL =
  'SELECT c.name AS name, TYPE_NAME(c.system_type_id) AS type, c.max_length AS maxLength, c.precision AS digits, c.scale AS scale ' +
  'FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@p1)';

/** The table's primary-key columns. */
export const PRIMARY_KEY_SQL =
  'SELECT c.name AS name FROM sys.index_columns AS ic ' +
  'JOIN sys.indexes AS i ON i.object_id = ic.object_id AND i.index_id = ic.index_id ' +
  'JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id ' +
  'WHERE i.object_id = OBJECT_ID(@p1) AND i.is_primary_key = 1';

/** Foreign keys of other tables that reference the table: DROP TABLE refuses while one does. */
export const REFERENCING_KEYS_SQL =
  'SELECT fk.name AS name, OBJECT_SCHEMA_NAME(fk.parent_object_id) AS owner, OBJECT_NAME(fk.parent_object_id) AS child ' +
  'FROM sys.foreign_keys AS fk WHERE fk.referenced_object_id = OBJECT_ID(@p1) AND fk.parent_object_id <> fk.referenced_object_id';

export function dropForeignKeySql(table: TableId, name: string): string {
  return `ALTER TABLE ${qualified(table)} DROP CONSTRAINT ${quoteIdent(name)}`;
}

/** The application lock that serializes ferry's catalog changes on a target (the appliers of a consumer group may start at once). */
export const DDL_LOCK = { resource: 'ferry target ddl', mode: 'Exclusive', owner: 'Transaction', timeoutMs: -1 } as const;

/**
 * Takes DDL_LOCK for `c`'s transaction, released by its COMMIT or ROLLBACK. sp_getapplock reports a
 * failure (a deadlock victim, a cancel) by its return value, not by an error, so the value is read.
 */
export async function lockDdl(c: MssqlSession): Promise<void> {
  const request = c.request();
  request.input('Resource', DDL_LOCK.resource);
  request.input('LockMode', DDL_LOCK.mode);
  request.input('LockOwner', DDL_LOCK.owner);
  request.input('LockTimeout', DDL_LOCK.timeoutMs);
  const { returnValue } = await request.execute('sp_getapplock');
  if (typeof returnValue !== 'number' || returnValue < 0) {
    throw new FerryError('retriable', `SQL Server did not grant ferry's DDL lock (sp_getapplock returned ${String(returnValue)})`);
  }
}

/** Target tables on SQL Server: schemas, a heap until the snapshot's clustered key, text in TEXT_COLLATION. */
export class MssqlTables implements TargetTables<MssqlSession> {
  createSchemaSql(schema: string): string {
    return createSchemaSql(schema);
  }

  lockDdl(c: MssqlSession): Promise<void> {
    return lockDdl(c);
  }

  async exists(c: MssqlSession, t: TableSchema): Promise<boolean> {
    return (await c.query(TABLE_EXISTS_SQL, [qualified(t.target)])).length > 0;
  }

  /** Drops (with `replace`) and creates the table; with `keyLater`, a heap whose clustered key the snapshot's end adds. */
  async create(c: MssqlSession, t: TableSchema, replace: boolean, keyLater: boolean): Promise<void> {
    if (replace) {
      // What Postgres's DROP … CASCADE does: the keys of other tables that reference this one go first.
      const referencing = await c.query<{ name: string; owner: string; child: string }>(REFERENCING_KEYS_SQL, [qualified(t.target)]);
      for (const r of referencing) await c.run(dropForeignKeySql({ schema: r.owner, name: r.child }, r.name));
      await c.run(`DROP TABLE IF EXISTS ${qualified(t.target)}`);
    }
    if (!(await this.exists(c, t))) await c.run(createTableSql(t, keyLater));
  }

  truncateSql(t: TableSchema): string {
    return `TRUNCATE TABLE ${qualified(t.target)}`;
  }

  async reconcileColumns(c: MssqlSession, t: TableSchema, addMissing: boolean, keyLater: boolean): Promise<void> {
    const rows = await c.query<CatalogColumn & { name: string; digits: number }>(COLUMNS_SQL, [qualified(t.target)]);
    const key = await c.query<{ name: string }>(PRIMARY_KEY_SQL, [qualified(t.target)]);
    const drift = columnDrift(
      t,
      new Map(rows.map((r) => [r.name, catalogType({ ...r, precision: r.digits })])),
      key.map((r) => r.name),
      (col) => columnType(col, t),
      mssqlHolds,
      keyLater,
    );
    await settleDrift(t, drift, addMissing, async (col) => {
      for (const sql of addColumnSql(t, col)) await c.run(sql);
    });
  }
}
