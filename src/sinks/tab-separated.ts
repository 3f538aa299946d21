import type { Row, Value } from '../core/change-event.js';
import type { Column, TableSchema } from '../core/schema.js';

/** Characters per piece of a bulk load stream: small enough for one protocol packet, large enough to be cheap. */
const PIECE_CHARS = 1024 * 1024;

/**
 * Rows as tab-separated lines (Postgres COPY text, MySQL LOAD DATA), in pieces of about PIECE_CHARS.
 * `field` encodes one value of column `j`, escapes included. Hot path: one string per piece.
 */
export function* tabSeparated(table: TableSchema, rows: readonly Row[], field: (c: Column, v: Value, j: number) => string): Generator<string> {
  const columns = table.columns;
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let j = 0; j < columns.length; j++) {
      const c = columns[j]!;
      if (j > 0) text += '\t';
      text += field(c, row[c.name] ?? null, j);
    }
    text += '\n';
    if (text.length >= PIECE_CHARS) {
      yield text;
      text = '';
    }
  }
  if (text) yield text;
}
