import type { CarriedItem } from './schema-fidelity.js';
import type { Column, Index, TableSchema, TargetEngine } from './schema.js';
import type { CatalogueTable } from './plan-catalogue.js';
import type { TargetNaming } from './target-naming.js';
import type { Assessment } from './verdict.js';

/** What the plan knows of the target database, read from it. */
export interface TargetFacts {
  readonly engine: TargetEngine;
  /** A MySQL target's flavor, 'mariadb' or 'mysql' (the collation of cross-engine tables depends on it). */
  readonly flavor?: 'mariadb' | 'mysql';
  /** Target tables that exist already, as `schema.table`. */
  readonly existingTables: ReadonlySet<string>;
  /** Type names a Postgres → Postgres table uses that the target lacks, enum types excepted. */
  readonly missingTypes: ReadonlySet<string>;
  /** Enum types a Postgres → Postgres table uses that the target lacks: ferry creates them. */
  readonly missingEnums: ReadonlySet<string>;
  /** A MySQL target's lower_case_table_names (how it compares table names). */
  readonly lowerCaseTableNames?: number;
  /** A SQL Server target's catalog collation (how it compares names). */
  readonly collation?: string;
}

/** A read-only session on a target, for `ferry plan` (sinks/<db>/<db>-target-probe.ts, chosen by the registry). */
export interface TargetProbe {
  /** The server's version and what it has of the catalogue's tables and types. */
  probe(tables: readonly CatalogueTable[]): Promise<TargetFacts & { readonly version: string }>;
  close(): Promise<void>;
}

/**
 * What one target engine makes of a source table, from its sink's own dialect and constraint code
 * (sinks/<db>/<db>-plan-target.ts, chosen by the registry): the plan shows what the sink would do.
 */
export interface PlanTarget {
  /** The target column type the dialect creates for `column`. */
  columnType(t: TableSchema, column: Column): string;
  /** The statement that makes a target schema (a MySQL database), as the sink creates it. */
  createSchemaSql(schema: string): string;
  /**
   * The statements the sink runs for `t` once its schema exists, in order: enum types the target
   * lacks, the table with its primary key (and partitions), the secondary indexes.
   */
  tableDdl(t: TableSchema, facts: TargetFacts): string[];
  /** Secondary indexes of `t` the dialect leaves out. */
  indexesLeftOut(t: TableSchema): Index[];
  /** What the target carries of `t`'s defaults, NOT NULLs, unique indexes, foreign keys and checks, and when. */
  carriedSchema(t: TableSchema, tables: readonly TableSchema[], facts: TargetFacts): CarriedItem[];
  /** How column `c` of `t` arrives as `targetType`, agreeing with docs/type-mapping.md's tables. */
  assess(t: TableSchema, c: Column, targetType: string): Assessment;
  /** How the target compares names, as the probe read it. */
  naming(facts: TargetFacts): TargetNaming;
}
