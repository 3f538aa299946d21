import sql from 'mssql';
import { quoteIdent } from '../../engines/mssql/quoting.js';
import { asColumnType, type TargetColumn, wireDeclaration, wireOf, wireType } from './mssql-columns.js';

/**
 * The session temp table that set-based writes read their rows from: a bulk load (or, for few rows,
 * one INSERT … VALUES) fills it inside the write's transaction, then one statement per change kind
 * joins it to the target by key. One at a time per session: created, used and dropped by each write.
 */
export const STAGE = '#ferry_stage';

/** The 1-based position of each staged row, under a name no table column has: how a statement names the first row it missed. */
export const ORDINAL = 'ferry ordinal';

/** A column of the stage: its name there, and the target column whose value it holds. */
export interface StageColumn {
  readonly name: string;
  readonly target: TargetColumn;
}

/** Stage columns named after the target's own. */
export function sameNames(columns: readonly TargetColumn[]): StageColumn[] {
  return columns.map((target) => ({ name: target.name, target }));
}

/** Stage columns for the key a row is matched by, under names no table column has (a patch may also set the key's columns). */
export function matchNames(keys: readonly TargetColumn[]): StageColumn[] {
  return keys.map((target, i) => ({ name: `ferry match ${i}`, target }));
}

/**
 * The stage's columns have their wire's type (mssql-columns.ts), never the target's IDENTITY or NOT
 * NULL: the target column's type is what the statements CAST a text wire to.
 */
export function createStageSql(columns: readonly StageColumn[]): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${wireDeclaration(wireOf(c.target))} NULL`);
  return `DROP TABLE IF EXISTS ${quoteIdent(STAGE)}; CREATE TABLE ${quoteIdent(STAGE)} (${[`${quoteIdent(ORDINAL)} int NOT NULL`, ...defs].join(', ')})`;
}

export const DROP_STAGE_SQL = `DROP TABLE ${quoteIdent(STAGE)}`;

/**
 * At most this many parameters go into one request's INSERT … VALUES (SQL Server takes 2,100 a
 * request), and at most 1,000 rows (a VALUES list's limit). Up to there the rows, the stage and the
 * statements that read it travel in one request; beyond, a bulk load fills the stage first.
 */
export const VALUES_MAX_PARAMS = 2000;
export const VALUES_MAX_ROWS = 1000;

/** Whether `rows` rows of `columns` stage columns go in one INSERT … VALUES (fewer round trips than a bulk load). */
export function fitsValues(rows: number, columns: number): boolean {
  return rows <= VALUES_MAX_ROWS && rows * columns <= VALUES_MAX_PARAMS;
}

/** `rows` rows into the stage, their values as parameters `@p1…` row by row; the ordinal as a literal. */
export function stageValuesSql(columns: readonly StageColumn[], rows: number): string {
  const names = [ORDINAL, ...columns.map((c) => c.name)].map(quoteIdent).join(', ');
  const tuples = Array.from({ length: rows }, (_, r) => `(${[String(r + 1), ...columns.map((_, j) => `@p${r * columns.length + j + 1}`)].join(', ')})`);
  return `INSERT INTO ${quoteIdent(STAGE)} (${names}) VALUES ${tuples.join(', ')}`;
}

/**
 * The stage as mssql's bulk load takes it: the ordinal, then each column with its wire's type and
 * nullable, as createStageSql declares them (tedious writes the `insert bulk` column list from
 * these, and the server refuses a declaration that differs). tedious brackets a column name
 * itself without doubling a `]` in it, so the name goes doubled already.
 */
export function stageTable(columns: readonly StageColumn[], rows: readonly (readonly unknown[])[]): sql.Table {
  const table = new sql.Table(STAGE);
  table.create = false;
  table.columns.add(ORDINAL, sql.Int(), { nullable: false });
  for (const c of columns) table.columns.add(c.name.replace(/]/g, ']]'), wireType(wireOf(c.target)), { nullable: true });
  rows.forEach((row, i) => {
    table.rows.add(i + 1, ...(row as (string | number | boolean | Buffer | Date | null)[]));
  });
  return table;
}

/** A stage column as a value of its target column's type, in statements that alias the stage `s`. */
export function staged(c: StageColumn): string {
  return asColumnType(c.target, `s.${quoteIdent(c.name)}`);
}
