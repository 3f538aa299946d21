import type { Value } from '../core/change-event.js';
import type { Column } from '../core/schema.js';

/** Characters per piece of a bulk load stream: small enough for one protocol packet, large enough to be cheap. */
const PIECE_CHARS = 1024 * 1024;

/**
 * Rows as tab-separated lines (Postgres COPY text, MySQL LOAD DATA), in pieces of about PIECE_CHARS.
 * `value` reads column `j` of a row; `field` encodes one value of column `c`, escapes included.
 * Hot path: one string per piece, no allocation per row.
 */
export function* tabSeparated<R>(columns: readonly Column[], rows: readonly R[], value: (row: R, j: number) => Value, field: (c: Column, v: Value) => string): Generator<string> {
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let j = 0; j < columns.length; j++) {
      if (j > 0) text += '\t';
      text += field(columns[j]!, value(row, j));
    }
    text += '\n';
    if (text.length >= PIECE_CHARS) {
      yield text;
      text = '';
    }
  }
  if (text) yield text;
}

/** Column `j` of a snapshot row (its values in column order). */
export function valueAt(row: readonly Value[], j: number): Value {
  return row[j] ?? null;
}
