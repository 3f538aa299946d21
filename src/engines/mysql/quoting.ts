import { createHash } from 'node:crypto';
import type { TableId } from '../../core/change-event.js';

/** Identifiers and strings as MySQL reads them: sources, sinks, checkpoint tables and verify quote through here. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function qualified(t: TableId): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `<table>_<index>`, hashed down to MySQL's 64 characters when longer. */
export function indexName(table: string, index: string): string {
  const name = `${table}_${index}`;
  if (name.length <= 64) return name;
  return `${name.slice(0, 55)}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * A column as a SELECT list item that reads its exact value. The text protocol prints FLOAT with six
 * significant digits; widened to DOUBLE it prints every digit the float holds, as the binlog gives it.
 */
export function exactColumn(name: string, kind: string): string {
  return kind === 'float' ? `${quoteIdent(name)} + 0e0 AS ${quoteIdent(name)}` : quoteIdent(name);
}
