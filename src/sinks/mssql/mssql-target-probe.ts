import type { CatalogueTable } from '../../core/plan-catalogue.js';
import type { TargetProbe } from '../../core/plan-target.js';
import { tableKey } from '../../core/change-event.js';
import { connectPool } from '../../engines/mssql/connection.js';
import { DEFAULT_COLLATION, mssqlNameRules } from '../../engines/mssql/naming.js';
import { CATALOG_COLLATION_SQL } from '../../engines/mssql/server.js';

/** The server's version as the plan shows it: `16.0.4135.4 (Developer Edition (64-bit))`, `12.0.2000.8 (SQL Azure)`. */
export const VERSION_SQL =
  "SELECT CONCAT(CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), ' (', CAST(SERVERPROPERTY('Edition') AS nvarchar(128)), ')') AS version";

/** The tables in the schemas named by parameters @p1…@pN (N ≥ 1), compared by the catalog's collation. */
export function existingTablesSql(schemas: number): string {
  const params = Array.from({ length: schemas }, (_, i) => `@p${i + 1}`).join(', ');
  return `SELECT s.name AS [schema], t.name AS [name] FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE s.name IN (${params})`;
}

/**
 * Which of `tables` the target has already, as their `schema.table` keys: a target table matches
 * as the target compares names (its catalog `collation`), so `Orders` is there for `orders` in a
 * case-insensitive database.
 */
export function existingTableKeys(tables: readonly CatalogueTable[], found: readonly { schema: string; name: string }[], collation: string): Set<string> {
  const rules = mssqlNameRules(collation);
  const folded = (schema: string, name: string) => `${rules.fold('schema', schema)}\u0000${rules.fold('table', name)}`;
  const there = new Set(found.map((f) => folded(f.schema, f.name)));
  return new Set(tables.filter((t) => there.has(folded(t.target.schema, t.target.name))).map((t) => tableKey(t.target)));
}

/**
 * A SQL Server target for `ferry plan`: its version, how it compares names, the tables there already.
 * SQL Server has no read-only session setting; the probe runs SELECTs on catalog views only.
 */
export async function openMssqlTargetProbe(url: string): Promise<TargetProbe> {
  const pool = await connectPool(url);
  return {
    probe: async (tables) => {
      const version = (await pool.request().query<{ version: string }>(VERSION_SQL)).recordset[0]?.version ?? '';
      const collation = (await pool.request().query<{ collation: string | null }>(CATALOG_COLLATION_SQL)).recordset[0]?.collation ?? DEFAULT_COLLATION;
      const schemas = [...new Set(tables.map((t) => t.target.schema))];
      let found: { schema: string; name: string }[] = [];
      if (schemas.length > 0) {
        const request = pool.request();
        schemas.forEach((s, i) => request.input(`p${i + 1}`, s));
        found = (await request.query<{ schema: string; name: string }>(existingTablesSql(schemas.length))).recordset;
      }
      return {
        engine: 'mssql',
        version,
        collation,
        existingTables: existingTableKeys(tables, found, collation),
        missingTypes: new Set(),
        missingEnums: new Set(),
      };
    },
    close: () => pool.close().catch(() => {}),
  };
}
