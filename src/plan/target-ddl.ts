import { carriedSchema as carried, type CarriedItem } from '../core/schema-fidelity.js';
import type { Index, TableSchema } from '../core/schema.js';
import type { Flavor } from '../engines/mysql/binlog-position.js';
import * as my from '../sinks/mysql/mysql-dialect.js';
import * as pgd from '../sinks/postgres/postgres-dialect.js';
import { quoteIdent as myQuote } from '../engines/mysql/quoting.js';
import { quoteIdent as pgQuote } from '../engines/postgres/quoting.js';
import { mysqlTranslations } from '../sinks/mysql/mysql-constraints.js';
import { postgresTranslations } from '../sinks/postgres/postgres-constraints.js';

/** What the plan knows of the target database, read from it. */
export interface TargetFacts {
  readonly engine: 'mysql' | 'postgres';
  /** A MySQL target's flavor (the collation of cross-engine tables depends on it). */
  readonly flavor?: Flavor;
  /** Target tables that exist already, as `schema.table`. */
  readonly existingTables: ReadonlySet<string>;
  /** Type names a Postgres → Postgres table uses that the target lacks, enum types excepted. */
  readonly missingTypes: ReadonlySet<string>;
  /** Enum types a Postgres → Postgres table uses that the target lacks: ferry creates them. */
  readonly missingEnums: ReadonlySet<string>;
  /** A MySQL target's lower_case_table_names (how it compares table names). */
  readonly lowerCaseTableNames?: number;
}

/** The target column type the dialect creates for `c`. */
export function targetColumnType(t: TableSchema, column: TableSchema['columns'][number], target: TargetFacts): string {
  return target.engine === 'postgres' ? pgd.columnType(t, column) : my.columnTypeSql(t, column);
}

/** The statement that makes a target schema (a MySQL database), as the sinks create them. */
export function createSchemaSql(schema: string, target: TargetFacts): string {
  return target.engine === 'postgres' ? `CREATE SCHEMA IF NOT EXISTS ${pgQuote(schema)}` : `CREATE DATABASE IF NOT EXISTS ${myQuote(schema)}`;
}

/**
 * The statements the sink runs on the target for `t` once its schema exists, in order, from the
 * dialects' own functions: enum types (those the target lacks), the table with its primary key (and
 * partitions), the secondary indexes.
 */
export function targetDdl(t: TableSchema, target: TargetFacts): string[] {
  if (target.engine === 'postgres') {
    const enums = pgd
      .enumTypes(t)
      .filter((e) => target.missingEnums.has(e.name))
      .flatMap((e) => pgd.createEnumSql(e.name, e.labels));
    const table = t.engine === 'postgres' && t.partitioning ? pgd.createPartitionedTableSql(t, t.partitioning) : [pgd.createTableSql(t)];
    return [...enums, ...table, ...pgd.createIndexSql(t)];
  }
  return [my.createTableSql(t, my.tableCollation(t, target.flavor ?? 'mariadb')), ...my.secondaryIndexes(t).map((i) => i.sql)];
}

/** Secondary indexes of `t` the target dialect leaves out (a MySQL target: indexes over text, blob or json columns). */
export function indexesLeftOut(t: TableSchema, target: TargetFacts): Index[] {
  if (target.engine === 'postgres') return [];
  return t.indexes.filter((i) => my.secondaryIndexes({ ...t, indexes: [i] }).length === 0);
}

/**
 * What the target carries of `t`'s defaults, NOT NULLs, unique indexes, foreign keys and checks, and
 * when (with the table, or at the cutover's finalizing), as the target's constraint code decides it.
 */
export function carriedSchema(t: TableSchema, tables: readonly TableSchema[], target: TargetFacts): CarriedItem[] {
  return carried(t, target.engine === 'postgres' ? postgresTranslations(tables) : mysqlTranslations(tables, target.flavor ?? 'mariadb'));
}
