import type { TableId } from '../../core/change-event.js';
import { qualified, quoteIdent, textLiteral } from '../../engines/mssql/quoting.js';
import { asColumnType, baseType, type TargetColumn, wireOf } from './mssql-columns.js';
import { ORDINAL, STAGE, type StageColumn, staged } from './mssql-stage.js';

/**
 * The statements of an apply transaction on SQL Server. Set-based ones read the stage (alias `s`,
 * mssql-stage.ts) and touch the target (alias `t`) only where its key equals a staged key. Upserts
 * are an UPDATE then an INSERT … WHERE NOT EXISTS, both holding key-range locks to the end of the
 * transaction (UPDLOCK, HOLDLOCK), so no other session can slip the same key in between; MERGE would
 * be one statement, but its history of bugs (sqlblog.org/merge) argues for the two.
 */

const STAGED = `${quoteIdent(STAGE)} AS s`;
const LOCKED = 'WITH (UPDLOCK, HOLDLOCK)';

/**
 * The target row whose key equals the staged row's `keys`. A staged text has tempdb's default
 * collation, and `=` between two columns of different collations is an error (468), so it is
 * compared in the key column's own: the comparison the column's index is ordered by.
 */
function keyMatch(keys: readonly StageColumn[]): string {
  return keys.map((k) => `t.${quoteIdent(k.target.name)} = ${inKeyCollation(k)}`).join(' AND ');
}

function inKeyCollation(k: StageColumn): string {
  const { collation } = k.target;
  return wireOf(k.target) === 'nvarchar' && collation && /^\w+$/.test(collation) ? `${staged(k)} COLLATE ${collation}` : staged(k);
}

/** How many staged keys have no row in the target, and the ordinal of the first of them (null when none). */
export function missesSql(t: TableId, keys: readonly StageColumn[]): string {
  return `SELECT COUNT(*) AS [missing], MIN(s.${quoteIdent(ORDINAL)}) AS [first] FROM ${STAGED} WHERE NOT EXISTS (SELECT 1 FROM ${qualified(t)} AS t WHERE ${keyMatch(keys)})`;
}

export function deleteSql(t: TableId, keys: readonly StageColumn[]): string {
  return `DELETE t FROM ${qualified(t)} AS t INNER JOIN ${STAGED} ON ${keyMatch(keys)}`;
}

/** Sets `set` (stage columns named after the target's) on the rows matched by `keys`; other columns keep their values. */
export function updateSql(t: TableId, keys: readonly StageColumn[], set: readonly StageColumn[], locked = false): string {
  const assign = set.map((c) => `${quoteIdent(c.target.name)} = ${staged(c)}`).join(', ');
  return `UPDATE t SET ${assign} FROM ${qualified(t)} AS t${locked ? ` ${LOCKED}` : ''} INNER JOIN ${STAGED} ON ${keyMatch(keys)}`;
}

/** Where moveSql keeps the rows it moves, between their delete and their insert. */
const MOVED = quoteIdent('#ferry_moved');

/**
 * Moves the rows matched by `match` to a new identity key, `set` (stage columns named after the
 * target's, the identity among them) from the stage and every other column as the target has it (an
 * update that did not send them all: Postgres's unchanged TOAST values). SQL Server never updates an
 * identity column, so each row is kept aside, deleted and inserted again under IDENTITY_INSERT;
 * deleted first, so no unique index sees it twice.
 */
export function moveSql(t: TableId, match: readonly StageColumn[], set: readonly StageColumn[], columns: readonly TargetColumn[]): string {
  const select = columns.map((c) => {
    const sent = set.find((s) => s.target.name === c.name);
    return `${sent ? staged(sent) : `t.${quoteIdent(c.name)}`} AS ${quoteIdent(c.name)}`;
  });
  const names = columns.map((c) => quoteIdent(c.name));
  return [
    `SELECT ${select.join(', ')} INTO ${MOVED} FROM ${qualified(t)} AS t INNER JOIN ${STAGED} ON ${keyMatch(match)}`,
    deleteSql(t, match),
    keepingIdentity(t, columns, `INSERT INTO ${qualified(t)} (${names.join(', ')}) SELECT ${names.map((n) => `m.${n}`).join(', ')} FROM ${MOVED} AS m`),
    `DROP TABLE ${MOVED}`,
  ].join('; ');
}

/** `statement`, an INSERT of `columns`, with the source's values of identity columns kept (IDENTITY_INSERT, one table at a time). */
function keepingIdentity(t: TableId, columns: readonly TargetColumn[], statement: string): string {
  if (!columns.some((c) => c.identity)) return statement;
  return `SET IDENTITY_INSERT ${qualified(t)} ON; ${statement}; SET IDENTITY_INSERT ${qualified(t)} OFF`;
}

/** Every staged row into the target (a snapshot chunk). */
export function insertSql(t: TableId, columns: readonly StageColumn[]): string {
  const names = columns.map((c) => quoteIdent(c.target.name)).join(', ');
  return keepingIdentity(
    t,
    columns.map((c) => c.target),
    `INSERT INTO ${qualified(t)} (${names}) SELECT ${columns.map(staged).join(', ')} FROM ${STAGED}`,
  );
}

/**
 * Whole rows (stage columns named after the target's, `keys` among them) that the target may or may
 * not have: each ends as its staged image. Only `updated` columns change in rows that exist (an image
 * written before ADD COLUMN lacks the column; an identity column never changes); rows that do not
 * exist are inserted whole.
 */
export function upsertSql(t: TableId, keys: readonly StageColumn[], columns: readonly StageColumn[], updated: readonly string[]): string {
  const isKey = new Set(keys.map((k) => k.name));
  const set = columns.filter((c) => updated.includes(c.name) && !isKey.has(c.name) && !c.target.identity);
  const names = columns.map((c) => quoteIdent(c.target.name)).join(', ');
  const insert = `INSERT INTO ${qualified(t)} (${names}) SELECT ${columns.map(staged).join(', ')} FROM ${STAGED} WHERE NOT EXISTS (SELECT 1 FROM ${qualified(t)} AS t ${LOCKED} WHERE ${keyMatch(keys)})`;
  const statements = [
    ...(set.length > 0 ? [updateSql(t, keys, set, true)] : []),
    keepingIdentity(
      t,
      columns.map((c) => c.target),
      insert,
    ),
  ];
  return statements.join('; ');
}

/**
 * TRUNCATE, which SQL Server runs inside the transaction (and rolls back with it), unless a foreign
 * key references the table, which TRUNCATE refuses: there, DELETE.
 */
export function truncateSql(t: TableId): string {
  const name = qualified(t);
  return `IF EXISTS (SELECT 1 FROM sys.foreign_keys WHERE referenced_object_id = OBJECT_ID(${textLiteral(name)})) DELETE FROM ${name} ELSE TRUNCATE TABLE ${name}`;
}

/** One statement and its parameters (`@p1…`, in order). */
export interface Parameterized {
  readonly sql: string;
  readonly params: readonly { readonly column: TargetColumn; readonly value: unknown }[];
}

/**
 * Whether column `c` holds the same value as `expr` (of `c`'s wire), exactly: text by its UTF-16
 * bytes (SQL Server's usual collations would take 'a' for 'A ', and one row for another), binary by
 * its bytes, other types by equality in the column's type.
 */
function sameValue(c: TargetColumn, expr: string): string {
  const col = quoteIdent(c.name);
  switch (wireOf(c)) {
    case 'nvarchar':
      return `CAST(CAST(${col} AS nvarchar(max)) AS varbinary(max)) = CAST(${expr} AS varbinary(max))`;
    case 'varbinary':
      return `CAST(${col} AS varbinary(max)) = ${expr}`;
    default:
      // Types without equality are compared by their text.
      return INCOMPARABLE.has(baseType(c.type)) ? `CONVERT(nvarchar(max), ${col}) = ${expr}` : `${col} = ${asColumnType(c, expr)}`;
  }
}

const INCOMPARABLE = new Set(['xml', 'geography', 'geometry']);

/** The conditions of a row equal to `values` in every column (NULL where a value is null), with their parameters from `first`. */
function equalRow(columns: readonly TargetColumn[], values: readonly unknown[], first: number): Parameterized {
  const params: { column: TargetColumn; value: unknown }[] = [];
  const conditions = columns.map((c, i) => {
    const value = values[i] ?? null;
    if (value === null) return `${quoteIdent(c.name)} IS NULL`;
    params.push({ column: c, value });
    return sameValue(c, `@p${first + params.length - 1}`);
  });
  return { sql: conditions.join(' AND '), params };
}

/** One row of a table without a key (values of every column, in wire form). */
export function insertRowSql(t: TableId, columns: readonly TargetColumn[], values: readonly unknown[]): Parameterized {
  const names = columns.map((c) => quoteIdent(c.name)).join(', ');
  const sql = `INSERT INTO ${qualified(t)} (${names}) VALUES (${columns.map((c, i) => asColumnType(c, `@p${i + 1}`)).join(', ')})`;
  return { sql: keepingIdentity(t, columns, sql), params: columns.map((column, i) => ({ column, value: values[i] ?? null })) };
}

/** Deletes one row equal to `before` in every column (of several equal rows, any one: they cannot be told apart). */
export function deleteRowSql(t: TableId, columns: readonly TargetColumn[], before: readonly unknown[]): Parameterized {
  const where = equalRow(columns, before, 1);
  return { sql: `DELETE TOP (1) FROM ${qualified(t)} WHERE ${where.sql}`, params: where.params };
}

/** Sets one row equal to `before` in every column to `after` (identity columns cannot change). */
export function updateRowSql(t: TableId, columns: readonly TargetColumn[], after: readonly unknown[], before: readonly unknown[]): Parameterized {
  const set = columns.flatMap((column, i) => (column.identity ? [] : [{ column, value: after[i] ?? null }]));
  const assign = set.map((s, i) => `${quoteIdent(s.column.name)} = ${asColumnType(s.column, `@p${i + 1}`)}`).join(', ');
  const where = equalRow(columns, before, set.length + 1);
  return { sql: `WITH k AS (SELECT TOP (1) * FROM ${qualified(t)} WHERE ${where.sql}) UPDATE k SET ${assign}`, params: [...set, ...where.params] };
}
