import type { Row, Value } from '../core/change-event.js';
import type { ColumnType, TableSchema } from '../core/schema.js';
import type { TablePlan } from '../transforms/transform.js';
import { canonicalText } from '../transforms/masks.js';
import { passedColumns } from '../transforms/passed-columns.js';
import { readRaw } from './canonical-sql.js';
import { encodeRow, type EncodedRow, type NodeColumn } from './row-diff.js';

/**
 * How one source table is compared with what its transform plan makes of it in the target. Every
 * target column is either passed (a source column, renamed at most: both sides compare its canonical
 * text as plain verify does) or made by the plan in ferry (masked: the source value goes through the
 * plan's `columns`, and both sides' values are compared by canonical() of the target column's type).
 */
export interface Through {
  readonly source: TableSchema;
  readonly plan: TablePlan;
  /** Per target column: the index of the source column it passes, or -1 when the plan makes its value. */
  readonly from: readonly number[];
  /** The target's key columns, as indexes into the target's columns. */
  readonly key: readonly number[];
  /** How the target's columns are read and compared in Node (made columns: canonical() of their text). */
  readonly targetColumns: readonly NodeColumn[];
}

/** Which target columns pass a source column unchanged (passedColumns), and how each side is read. */
export function through(source: TableSchema, plan: TablePlan): Through {
  const passed = passedColumns(source, plan);
  const from = plan.table.columns.map((c) => source.columns.findIndex((s) => passed.get(s.name) === c.name));
  return {
    source,
    plan,
    from,
    key: plan.table.primaryKey.map((n) => plan.table.columns.findIndex((c) => c.name === n)),
    targetColumns: plan.table.columns.map((c, i) => ({ type: c.type, raw: from[i]! < 0 || readRaw(c.type) })),
  };
}

/**
 * A source value as the pipeline holds it, from its canonical text: what masks and filters see.
 * Integers and floats are numbers, booleans booleans, bytes a Buffer (canonical text is their hex),
 * a time `[-]HH:MM:SS[.ffffff]` from its microseconds, everything else its text (dates, decimals
 * and strings arrive as text in the pipeline too; masks read them without trailing zeros either way).
 */
export function sourceValue(type: ColumnType, text: string | null): Value {
  if (text === null) return null;
  switch (type.kind) {
    case 'int': {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'float':
    case 'double':
      return Number(text);
    case 'bool':
      return text === '1' || text === 't' || text === 'true';
    case 'binary':
      return /^[0-9a-f]*$/.test(text) ? Buffer.from(text, 'hex') : text;
    case 'time':
      return /^-?\d+$/.test(text) ? timeOfMicros(BigInt(text)) : text;
    default:
      return text;
  }
}

/** `-1500000` → `-00:00:01.500000`: a MySQL TIME or Postgres time as the pipeline reads it, hours of two digits at least. */
function timeOfMicros(micros: bigint): string {
  const abs = micros < 0n ? -micros : micros;
  const seconds = abs / 1_000_000n;
  const fraction = abs % 1_000_000n;
  const two = (n: bigint) => String(n).padStart(2, '0');
  const clock = `${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}`;
  return `${micros < 0n ? '-' : ''}${clock}${fraction > 0n ? `.${String(fraction).padStart(6, '0')}` : ''}`;
}

/**
 * One source row as the source's statement reads it: the key's texts (boundaries, passed to the
 * target as parameters), each column's comparable text (its field, or its raw text for canonical()),
 * and each column's canonical text (for sourceValue).
 */
export interface SourceRead {
  readonly keyText: readonly string[];
  /** The key's canonical texts, by which rows are matched. */
  readonly keyMatch: readonly string[];
  readonly compared: readonly (string | null)[];
  readonly values: readonly (string | null)[];
}

/** A kept source row as the target should hold it: its key's texts (to look it up there) and its encoding (to compare). */
export interface Expected {
  readonly keyParams: readonly string[];
  readonly row: EncodedRow;
}

/** What the target should hold of one source row; null when the plan's filter leaves it out. */
export function expectedRow(th: Through, r: SourceRead): Expected | null {
  const { source, plan } = th;
  const row: Row = {};
  source.columns.forEach((c, i) => {
    row[c.name] = sourceValue(c.type, r.values[i] ?? null);
  });
  if (plan.keeps && !plan.keeps(row)) return null;
  const mapped = plan.columns ? plan.columns(row) : row;
  const texts = plan.table.columns.map((c, j) => {
    const i = th.from[j]!;
    if (i >= 0) return r.compared[i] ?? null;
    const v = mapped[c.name] ?? null;
    return v === null ? null : canonicalText(v);
  });
  // A passed key travels as the source's key texts; a made one (hash) as its own text, which is also its canonical text.
  const keys = th.key.map((j) => {
    const k = source.primaryKey.indexOf(source.columns[th.from[j]!]?.name ?? '');
    if (k >= 0) return [r.keyText[k]!, r.keyMatch[k]!] as const;
    const text = th.from[j]! >= 0 ? (r.values[th.from[j]!] ?? '') : (texts[j] ?? '');
    return [text, text] as const;
  });
  const keyNode = th.key.map((j) => ({ type: plan.table.columns[j]!.type, raw: false }));
  return { keyParams: keys.map((k) => k[0]), row: encodeRow([...keys.map((k) => k[1]), ...texts], keyNode, th.targetColumns) };
}

/** A target row as read (the key's match texts, then each target column as targetColumns says). */
export function targetRow(th: Through, row: readonly (string | null)[]): EncodedRow {
  return encodeRow(
    row,
    th.key.map((j) => ({ type: th.plan.table.columns[j]!.type, raw: false })),
    th.targetColumns,
  );
}
