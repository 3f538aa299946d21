import { createHash } from 'node:crypto';
import type { TableId } from '../../core/change-event.js';

/** Identifiers as Postgres reads them: sources, sinks, checkpoint tables and verify quote through here. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(t: TableId): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/** `<table>_<index>`; when that exceeds Postgres's 63 bytes, a prefix plus a hash of the whole keeps it unique. */
export function indexName(table: string, index: string): string {
  const name = `${table}_${index}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  let prefix = name;
  while (Buffer.byteLength(prefix) > 54) prefix = prefix.slice(0, -1);
  return `${prefix}_${hash}`;
}
