import type { Row, Value } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import type { FerryError } from '../../core/errors.js';
import { uniqueViolation } from '../target-divergence.js';

const UNIQUE_VIOLATION = '23505';

/**
 * A unique violation (23505) of a write to `t`, which upserts by primary key (ON CONFLICT on it), so
 * on another unique key: the stop naming the constraint, and the change's row when the values
 * Postgres reports ("Key (code)=(7) already exists.") tell one of `written` apart. Null for other errors.
 */
export function uniqueViolationOf(t: TableSchema, err: unknown, written: readonly { key: Row; row: Row }[]): FerryError | null {
  const e = err as { code?: string; constraint?: string; detail?: string; message?: string };
  if (e.code !== UNIQUE_VIOLATION) return null;
  return uniqueViolation(t, collidingKey(e.detail ?? '', written), e.constraint ?? 'unknown', e.detail ?? e.message ?? '', err);
}

function collidingKey(detail: string, written: readonly { key: Row; row: Row }[]): Row | null {
  const m = /^Key \((.*)\)=\((.*)\) already exists\.$/s.exec(detail);
  if (!m) return null;
  const columns = m[1]!.split(', ').map((c) => c.replace(/^"(.*)"$/s, '$1').replace(/""/g, '"'));
  const values = columns.length === 1 ? [m[2]!] : m[2]!.split(', ');
  if (values.length !== columns.length) return null;
  const hits = written.filter(({ row }) => columns.every((c, i) => c in row && textOf(row[c]!) === values[i]));
  return hits.length === 1 ? hits[0]!.key : null;
}

/** A value as Postgres prints it in an error's detail (the common types; anything else simply matches nothing). */
function textOf(v: Value): string {
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return String(v);
}
