/**
 * How the target engine compares and limits names. Postgres: 63 bytes (NAMEDATALEN - 1; longer names
 * are cut silently at a character boundary), exact case (ferry quotes every name). MySQL/MariaDB: 64
 * characters (longer is an error), column and index names without case, database and table names
 * as `lower_case_table_names` says (0: as written; 1 and 2: in lower case). SQL Server: 128
 * characters (longer is an error), every name compared by the collation of the database's catalog
 * (`collation`; usually case-insensitive), trailing spaces ignored.
 */
export type TargetNaming =
  | { readonly engine: 'postgres' }
  | { readonly engine: 'mysql'; readonly lowerCaseTableNames: number }
  | { readonly engine: 'mssql'; readonly collation: string };

/** What ferry names on a target. */
export type NameKind = 'table' | 'partition' | 'index' | 'column';

/**
 * One target engine's name rules (src/engines/<db>/naming.ts), chosen by src/engines/registry.ts;
 * pipeline/target-names.ts finds with them the source objects that would collide on the target.
 */
export interface NameRules {
  readonly schemaWord: string;
  /**
   * Whether a schema's tables, partitions and indexes share one namespace (Postgres); otherwise
   * only tables do, and indexes are named within their table.
   */
  readonly relationsShareSchema: boolean;
  /** The name the sink gives index `index` of target table `table`. */
  indexName(table: string, index: string): string;
  /** Why the target cannot hold `name` as it is, or null. */
  invalid(name: string): string | null;
  /** `name` as the target compares it. */
  fold(kind: NameKind | 'schema', name: string): string;
  /** Why two different names of `kind` are one to the target. */
  folds(kind: NameKind): string;
  /** `name` as the target stores it. */
  stored(name: string): string;
}
