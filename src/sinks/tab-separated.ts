import type { Value } from '../core/change-event.js';

/** Characters per piece of a bulk load stream: small enough for one protocol packet, large enough to be cheap. */
const PIECE_CHARS = 1024 * 1024;

/**
 * Rows as tab-separated lines (Postgres COPY text, MySQL LOAD DATA), in pieces of about PIECE_CHARS.
 * `value` reads column `j` of a row; `encoders[j]` writes its field, escapes included.
 * Hot path: one string per piece, no allocation per row.
 */
export function* tabSeparated<R>(rows: readonly R[], value: (row: R, j: number) => Value, encoders: readonly ((v: Value) => string)[]): Generator<string> {
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let j = 0; j < encoders.length; j++) {
      if (j > 0) text += '\t';
      text += encoders[j]!(value(row, j));
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
