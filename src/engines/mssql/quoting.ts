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

/**
 * `<table>_<index>`, hashed down to 128 UTF-16 units when longer. Index names are per table in SQL
 * Server, but constraint names (keys, foreign keys, checks) share the schema with its tables: the
 * table prefix keeps two tables' `fk_1` apart, so the sink names both through here.
 */
export function indexName(table: string, index: string): string {
  const name = `${table}_${index}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  // Cut at a character boundary: half a surrogate pair is not a name SQL Server keeps.
  let prefix = '';
  for (const ch of name) {
    if (prefix.length + ch.length > MAX_NAME - hash.length - 1) break;
    prefix += ch;
  }
  return `${prefix}_${hash}`;
}
