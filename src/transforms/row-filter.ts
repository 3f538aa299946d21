import type { RowFilter } from '../core/transform-rules.js';
import type { Column } from '../core/schema.js';
import type { Row, Value } from '../core/change-event.js';
import { canonicalText } from './masks.js';

type Scalar = string | number | boolean;

/**
 * Orders a row's value against a configured one: numerically when the configured value is a number
 * (a decimal arrives as text), as booleans when it is one, else by their text (ISO dates and times
 * order correctly as text). NaN when they cannot be ordered: every comparison is then false.
 */
function compare(v: Exclude<Value, null>, to: Scalar): number {
  if (typeof to === 'number') {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'boolean' ? Number(v) : Number.NaN;
    return n - to;
  }
  if (typeof to === 'boolean') {
    const b = typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : undefined;
    return b === undefined ? Number.NaN : Number(b) - Number(to);
  }
  const text = canonicalText(v);
  return text === to ? 0 : text < to ? -1 : 1;
}

/** One condition as a predicate on whole source rows. As in SQL, a NULL value satisfies only `null`. */
export function filterPredicate(f: RowFilter): (row: Row) => boolean {
  const values = (Array.isArray(f.value) ? f.value : f.value === undefined ? [] : [f.value]) as Scalar[];
  const one = values[0]!;
  const test: (v: Exclude<Value, null>) => boolean = {
    eq: (v: Exclude<Value, null>) => compare(v, one) === 0,
    ne: (v: Exclude<Value, null>) => compare(v, one) !== 0 && !Number.isNaN(compare(v, one)),
    lt: (v: Exclude<Value, null>) => compare(v, one) < 0,
    lte: (v: Exclude<Value, null>) => compare(v, one) <= 0,
    gt: (v: Exclude<Value, null>) => compare(v, one) > 0,
    gte: (v: Exclude<Value, null>) => compare(v, one) >= 0,
    in: (v: Exclude<Value, null>) => values.some((to) => compare(v, to) === 0),
    between: (v: Exclude<Value, null>) => compare(v, values[0]!) >= 0 && compare(v, values[1]!) <= 0,
    null: () => false,
    notnull: () => true,
  }[f.op];
  return (row) => {
    const v = row[f.column] ?? null;
    return v === null ? f.op === 'null' : test(v);
  };
}

/** Every condition of a rule at once. */
export function rowPredicate(filters: readonly RowFilter[]): (row: Row) => boolean {
  const tests = filters.map(filterPredicate);
  return (row) => tests.every((t) => t(row));
}

/** A condition as `ferry plan` prints it: `region in [eu, uk]`. */
export function filterText(f: RowFilter): string {
  const v = f.value;
  return `${f.column} ${f.op}${v === undefined ? '' : ` ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`}`;
}

/**
 * The conditions the source's SQL may apply in the snapshot because it keeps at least the rows
 * ferry keeps: NULL tests; equality and IN on text columns with text values (a case- or
 * pad-insensitive collation keeps more, ferry then drops them); and comparisons on integer columns
 * of up to 32 bits with whole values (exact in SQL and in ferry). Text order, `ne` and the rest stay
 * ferry's alone.
 */
export function pushable(filters: readonly RowFilter[], columns: readonly Column[]): RowFilter[] {
  return filters.filter((f) => {
    if (f.op === 'null' || f.op === 'notnull') return true;
    const type = columns.find((c) => c.name === f.column)?.type;
    const values = Array.isArray(f.value) ? f.value : [f.value];
    if (type?.kind === 'string') return (f.op === 'eq' || f.op === 'in') && values.every((v) => typeof v === 'string');
    return (
      type?.kind === 'int' && type.bytes <= 4 && f.op !== 'ne' && values.every((v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 2 ** 31)
    );
  });
}
