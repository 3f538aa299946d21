import { tableKey, type Row, type TableId, type Value } from '../../core/change-event.js';
import type { ColumnType, TableSchema } from '../../core/schema.js';
import { FerryError } from '../../core/errors.js';
import { keyText } from '../target-divergence.js';

/**
 * The documented policy for NaN and ±Infinity (docs/type-mapping.md): Postgres `real`, `double
 * precision` and `numeric` hold them, MySQL's FLOAT, DOUBLE and DECIMAL do not, and no other value
 * stands for them exactly. A row holding one stops ferry with an error naming the table, the column
 * and the row's key, before anything of that row's batch or snapshot chunk is committed.
 */

const NON_FINITE_TEXT = /^[-+]?(nan|inf|infinity)$/i;

export function isNonFinite(t: ColumnType, v: Value): boolean {
  switch (t.kind) {
    case 'float':
    case 'double':
      return typeof v === 'number' ? !Number.isFinite(v) : typeof v === 'string' && NON_FINITE_TEXT.test(v);
    case 'decimal':
      return typeof v === 'string' && NON_FINITE_TEXT.test(v);
    default:
      return false;
  }
}

/** The stop for a NaN or ±Infinity bound for MySQL; `key` is null where the row is not known (a column's backfill value). */
export function nonFiniteError(table: TableId, column: string, v: Value, key: Row | null): FerryError {
  const where = key === null ? '' : Object.keys(key).length > 0 ? `, row ${keyText(key)}` : ', a row of a table without a primary key';
  return new FerryError(
    'fatal',
    `table ${tableKey(table)}, column ${column}${where}: ${String(v)} cannot be stored in MySQL (its FLOAT, DOUBLE and DECIMAL have no NaN or ±Infinity)`,
    {
      hint: `change the value at the source (e.g. UPDATE ${tableKey(table)} SET ${column} = NULL${key && Object.keys(key).length > 0 ? ` WHERE ${keyText(key)}` : ''}) and re-snapshot the table (snapshot.mode: always), or exclude the table (tables.exclude)`,
    },
  );
}

/** Snapshot rows (values in `t.columns` order) checked before a bulk load, whose stream cannot name a row. */
export function assertFiniteRows(t: TableSchema, rows: readonly (readonly Value[])[]): void {
  const checked = t.columns.flatMap((c, j) => (c.type.kind === 'float' || c.type.kind === 'double' || c.type.kind === 'decimal' ? [{ c, j }] : []));
  if (checked.length === 0) return;
  const keyAt = t.primaryKey.map((name) => ({ name, j: t.columns.findIndex((c) => c.name === name) }));
  for (const row of rows) {
    for (const { c, j } of checked) {
      const v = row[j] ?? null;
      if (isNonFinite(c.type, v)) throw nonFiniteError(t.source, c.name, v, Object.fromEntries(keyAt.map((k) => [k.name, row[k.j] ?? null])));
    }
  }
}
