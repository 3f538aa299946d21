import { tableKey } from '../../core/change-event.js';
import {
  type CheckConstraint,
  type Column,
  type ForeignKey,
  type Index,
  REFERENTIAL_ACTION_SQL,
  type ReferentialAction,
  type TableSchema,
} from '../../core/schema.js';
import { actsOnRows } from '../../core/schema.js';
import { isUniqueKey, referencedTable, type SchemaTranslations, type Translation } from '../../core/schema-fidelity.js';
import { constraintName, indexName, qualified, quoteIdent } from '../../engines/mssql/quoting.js';
import { printTsqlCheck, trailingSpaceProblem } from './mssql-check.js';
import { columnType, defaultSql, indexableColumns, isText, notNullAtCreate, TEXT_COLLATION, trailingSpacesDiffer } from './mssql-dialect.js';

/**
 * What SQL Server holds of a table's unique keys, foreign keys and checks, and the statements that
 * add them at the cutover (mssql-finalize.ts runs them). A unique index takes the name of the stream's
 * index it replaces (indexName); checks and foreign keys are named by constraintName.
 */

function columnList(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/** Columns of `t` that may hold NULL in the target (nullable at the source, or waiting for the cutover's NOT NULL). */
function nullableColumns(t: TableSchema, columns: readonly string[]): string[] {
  return columns.filter((name) => !notNullAtCreate(t, t.columns.find((c) => c.name === name)!));
}

/**
 * The unique index in place of the stream's non-unique one. SQL Server's unique index counts NULLs
 * as equal, where MySQL and Postgres let any number of rows hold NULL: an index over nullable columns
 * is filtered to the rows without NULL in them, which is the same rule.
 */
export function uniqueIndexSql(t: TableSchema, i: Index): Translation & { name: string } {
  const name = indexName(t.target.name, i.name);
  const unfit = indexableColumns(t, i.columns);
  if (unfit) return { name, reason: `${unfit}: enforce it another way` };
  const nullable = nullableColumns(t, i.columns);
  const where = nullable.length > 0 ? ` WHERE ${nullable.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')}` : '';
  const sql = `CREATE UNIQUE INDEX ${quoteIdent(name)} ON ${qualified(t.target)} (${columnList(i.columns)})${where}`;
  const padded = i.columns.filter((n) => {
    const c = t.columns.find((x) => x.name === n)!;
    return isText(columnType(c, t)) && trailingSpacesDiffer(t, c);
  });
  if (padded.length === 0) return { name, sql };
  return {
    name,
    sql,
    note: `non-unique until the cutover; SQL Server compares text without trailing spaces, so values of (${padded.join(', ')}) that differ only in them are one key there, and the cutover refuses them as duplicates`,
  };
}

/** Why SQL Server cannot hold `fk` of `t` at all, or null. */
function foreignKeyProblem(t: TableSchema, fk: ForeignKey, tables: readonly TableSchema[]): string | null {
  const parent = referencedTable(fk, tables);
  if (!parent) return `it references ${tableKey(fk.references)}, which the pipeline does not replicate: include that table, or create the key by hand`;
  const same = (a: readonly string[]) => a.length === fk.referencedColumns.length && a.every((c) => fk.referencedColumns.includes(c));
  const unique = parent.indexes.find((i) => i.unique && same(i.columns));
  const keyed =
    same(parent.primaryKey) || (unique !== undefined && 'sql' in uniqueIndexSql(parent, unique) && nullableColumns(parent, unique.columns).length === 0);
  if (!keyed) {
    return isUniqueKey(parent, fk.referencedColumns)
      ? `the unique index of ${tableKey(fk.references)} it references is not carried, or is filtered (over nullable columns), which SQL Server cannot reference`
      : `it references (${fk.referencedColumns.join(', ')}) of ${tableKey(fk.references)}, neither its primary key nor a unique index, which SQL Server requires`;
  }
  const child = fk.columns.map((n) => t.columns.find((c) => c.name === n)!);
  const referenced = fk.referencedColumns.map((n) => parent.columns.find((c) => c.name === n)!);
  const mismatch = child.findIndex((c, j) => columnType(c, t) !== columnType(referenced[j]!, parent));
  if (mismatch >= 0) {
    const [c, p] = [child[mismatch]!, referenced[mismatch]!];
    return `${c.name} is ${columnType(c, t)} but ${p.name} is ${columnType(p, parent)}: SQL Server wants a foreign key's columns of the referenced columns' exact types`;
  }
  return null;
}

/**
 * The foreign keys whose actions SQL Server refuses (error 1785, "may cause cycles or multiple
 * cascade paths"): one whose cascading, SET NULL or SET DEFAULT actions would reach a table by a
 * second path, or reach its own table. They are kept, in the order of `tables` and their keys, while
 * they add no such path; the rest lose those actions. SQL Server's own test is per action; this one
 * counts both together, so it errs on the side of NO ACTION.
 */
export function cascadeRefused(tables: readonly TableSchema[]): Set<ForeignKey> {
  const reaches = new Map<string, Set<string>>();
  const reach = (table: string) => reaches.get(table) ?? reaches.set(table, new Set()).get(table)!;
  const refused = new Set<ForeignKey>();
  for (const t of tables) {
    for (const fk of t.foreignKeys ?? []) {
      if (!actsOnRows(fk) || foreignKeyProblem(t, fk, tables)) continue;
      const [parent, child] = [tableKey(fk.references), tableKey(t.source)];
      const from = [parent, ...[...reaches.keys()].filter((a) => reach(a).has(parent))];
      const to = [child, ...reach(child)];
      if (from.some((a) => to.some((b) => a === b || reach(a).has(b)))) {
        refused.add(fk);
        continue;
      }
      for (const a of from) for (const b of to) reach(a).add(b);
    }
  }
  return refused;
}

/** SQL Server has no RESTRICT; NO ACTION refuses the same statements (it checks at the statement's end). */
function actionSql(action: ReferentialAction, refused: boolean): string {
  if (action === 'restrict' || (refused && action !== 'no action')) return 'NO ACTION';
  return REFERENTIAL_ACTION_SQL[action];
}

/** A foreign key's definition in the target, or why SQL Server cannot hold it; `note` says which actions became NO ACTION. */
export function foreignKeySql(t: TableSchema, fk: ForeignKey, tables: readonly TableSchema[]): Translation {
  const problem = foreignKeyProblem(t, fk, tables);
  if (problem) return { reason: problem };
  const parent = referencedTable(fk, tables)!;
  const refused = cascadeRefused(tables).has(fk);
  const sql =
    `FOREIGN KEY (${columnList(fk.columns)}) REFERENCES ${qualified(parent.target)} (${columnList(fk.referencedColumns)}) ` +
    `ON DELETE ${actionSql(fk.onDelete, refused)} ON UPDATE ${actionSql(fk.onUpdate, refused)}`;
  if (!refused) return { sql };
  const lost = (['DELETE', 'UPDATE'] as const)
    .map((on) => ({ on, action: on === 'DELETE' ? fk.onDelete : fk.onUpdate }))
    .filter(({ action }) => action !== 'no action' && action !== 'restrict')
    .map(({ on, action }) => `ON ${on} ${REFERENTIAL_ACTION_SQL[action]}`);
  return {
    sql,
    note: `${lost.join(' and ')} become NO ACTION: SQL Server refuses a key whose actions would reach a table by a second path or its own table (error 1785); change the referencing rows first, or add a trigger`,
  };
}

/** The target's name of check or foreign key `name` of `t`. */
export function ruleName(t: TableSchema, kind: 'check' | 'foreign key', name: string): string {
  return constraintName(t.target.name, kind, name);
}

/** `ALTER TABLE … ADD CONSTRAINT` of a definition (foreignKeySql, checkSql) under its name (ruleName). */
export function addConstraintSql(t: TableSchema, kind: 'check' | 'foreign key', name: string, definition: string): string {
  return `ALTER TABLE ${qualified(t.target)} ADD CONSTRAINT ${quoteIdent(ruleName(t, kind, name))} ${definition}`;
}

/** A MariaDB `json_valid(col)` check on a JSON column: the column's own ISJSON check (columnCheck) holds it. */
export function impliedByColumn(t: TableSchema, ck: CheckConstraint): boolean {
  const m = /^json_valid\(`((?:[^`]|``)+)`\)$/.exec(ck.expression);
  return t.engine === 'mysql' && m !== null && t.columns.some((c) => c.name === m[1]!.replace(/``/g, '`') && c.type.kind === 'json');
}

/** A CHECK's definition in the target, from its portable form, or why it does not translate. */
export function checkSql(t: TableSchema, ck: CheckConstraint): Translation {
  if (!ck.portable)
    return { reason: `${ck.expression} does not translate exactly to SQL Server (${ck.unportable ?? 'not parsed'}): create an equivalent check by hand` };
  const problem = trailingSpaceProblem(ck.portable, t.columns);
  if (problem) return { reason: `${problem}: create an equivalent check by hand` };
  return { sql: `CHECK ${printTsqlCheck(ck.portable)}` };
}

/** How a SQL Server target translates each part of a table's schema (for `ferry plan`'s carriedSchema). */
export function mssqlTranslations(tables: readonly TableSchema[]): SchemaTranslations {
  return {
    defaultSql,
    notNullAtCreate,
    uniqueIndexSql: (t, i) => {
      const u = uniqueIndexSql(t, i);
      return 'sql' in u ? { sql: u.sql, ...(u.note ? { note: u.note } : {}) } : { reason: u.reason };
    },
    foreignKeySql: (t, fk) => foreignKeySql(t, fk, tables),
    check: (t, ck) =>
      impliedByColumn(t, ck) ? { tr: null, when: 'create', note: "implied by the column's ISJSON check" } : { tr: checkSql(t, ck), when: 'finalize' },
  };
}

/** `ALTER COLUMN … NOT NULL`, restating the type (and the collation, which ALTER COLUMN would otherwise reset). */
export function setNotNullSql(t: TableSchema, c: Column): string {
  const type = columnType(c, t);
  return `ALTER TABLE ${qualified(t.target)} ALTER COLUMN ${quoteIdent(c.name)} ${type}${isText(type) ? ` COLLATE ${TEXT_COLLATION}` : ''} NOT NULL`;
}

export function dropIndexSql(t: TableSchema, name: string): string {
  return `DROP INDEX ${quoteIdent(name)} ON ${qualified(t.target)}`;
}
