import { createHash } from 'node:crypto';
import type { TableId } from '../../core/change-event.js';

/** Identifiers as SQL Server reads them (`[name]`, a `]` doubled): the sink, the checkpoint tables and verify quote through here. */
export function quoteIdent(name: string): string {
  return `[${name.replace(/]/g, ']]')}]`;
}

export function qualified(t: TableId): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/** A text literal in T-SQL: N'…' (Unicode), a quote doubled. */
export function textLiteral(text: string): string {
  return `N'${text.replace(/'/g, "''")}'`;
}

/** SQL Server's identifier limit (sysname: nvarchar(128), in UTF-16 code units). */
const MAX_NAME = 128;

/** `text` cut (at a character boundary: half a surrogate pair is not a name SQL Server keeps) so that `<text>_<suffix>` fits 128 units. */
function withSuffix(text: string, suffix: string): string {
  let prefix = '';
  for (const ch of text) {
    if (prefix.length + ch.length > MAX_NAME - suffix.length - 1) break;
    prefix += ch;
  }
  return `${prefix}_${suffix}`;
}

/** `<table>_<index>`, hashed down to 128 UTF-16 units when longer: index names are per table in SQL Server. */
export function indexName(table: string, index: string): string {
  const name = `${table}_${index}`;
  if (name.length <= MAX_NAME) return name;
  return withSuffix(name, createHash('sha1').update(name).digest('hex').slice(0, 8));
}

/** The constraints ferry names, and what their readable part ends with. */
const CONSTRAINT_SUFFIX = { 'primary key': 'pkey', default: 'df', fill: 'fill', check: '', 'foreign key': '' } as const;
export type ConstraintKind = keyof typeof CONSTRAINT_SUFFIX;

/**
 * A constraint's name: `<table>_pkey`, `<table>_<column>_df`, `<table>_<column>_fill` or `<table>_<name>`
 * (checks, foreign keys), then `_` and 12 hex digits of SHA-256 over the exact (table, kind, name).
 * Constraint names share the schema with its tables in SQL Server, and the readable part alone can
 * be two tables' (`user`.`status_code` and `user_status`.`code` both read `user_status_code_df`): the
 * hash tells the tuples apart (whatever the collation folds, as hex digits fold to themselves), and
 * the same tuple always gets the same name, so the cutover finds it again.
 */
export function constraintName(table: string, kind: ConstraintKind, name: string): string {
  const readable = [table, name, CONSTRAINT_SUFFIX[kind]].filter((part) => part !== '').join('_');
  const hash = createHash('sha256')
    .update(JSON.stringify([table, kind, name]))
    .digest('hex')
    .slice(0, 12);
  return withSuffix(readable, hash);
}
