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
