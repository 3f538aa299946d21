import { pickKey, tableKey, type Row, type Value } from '../core/change-event.js';
import type { Patch } from '../core/coalesce.js';
import type { TableSchema } from '../core/schema.js';
import { FerryError } from '../core/errors.js';

/**
 * The stops for a target that no longer matches its source, found while applying by key: a row the
 * source changed that the target does not have, and a row the target cannot take without touching
 * another one. Either way ferry stops with the table and the key named, the checkpoint before the
 * change (the error policy `stop`), and never skips the change nor overwrites another row.
 */

function valueText(v: Value): string {
  if (v === null) return 'NULL';
  if (Buffer.isBuffer(v)) return `x'${v.toString('hex')}'`;
  return typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v);
}

/** `id = 7`, `(a, b) = (1, 'x')`: a row's key as the operator would write it in a WHERE clause. */
export function keyText(key: Row): string {
  const names = Object.keys(key);
  if (names.length === 1) return `${names[0]} = ${valueText(key[names[0]!] ?? null)}`;
  return `(${names.join(', ')}) = (${names.map((n) => valueText(key[n] ?? null)).join(', ')})`;
}

/**
 * A delete, or an update of only some columns (Postgres leaves unchanged TOAST values out), whose row
 * the target does not have: the target diverged (a row deleted or re-keyed there), and applying
 * nothing would lose the change. `key` is the change's primary key; null when a set-based statement
 * missed `missing` rows that could not be told apart.
 */
export function missingRow(t: TableSchema, change: 'delete' | 'update', key: Row | null, missing = 1): FerryError {
  const what = change === 'delete' ? 'deleted' : 'updated (with only the columns it sent: Postgres leaves unchanged TOAST values out)';
  const rows = key ? `no row with ${keyText(key)}, which the source ${what}` : `${missing} of the rows the source ${what} here`;
  return new FerryError('fatal', `the target has ${key ? rows : `lost ${rows}`}: skipping the change would lose it`, {
    hint: `the target table ${tableKey(t.target)} differs from the source (was the row deleted, or its key changed, on the target?): restore the row, or re-snapshot the table (snapshot.mode: always, snapshot.tablePrep: truncate)`,
  });
}

/**
 * A change whose row would collide, on a unique key other than the primary key, with another row of
 * the target: ferry writes only the row with the change's primary key, so this is the target's
 * rejection (a row or a unique index the source does not have). `key` is null when the row cannot be told.
 */
export function uniqueViolation(t: TableSchema, key: Row | null, constraint: string, detail: string, cause?: unknown): FerryError {
  const row = key ? `the row with ${keyText(key)}` : 'a row of this change';
  return new FerryError('fatal', `${row} collides with another row of the target on unique key ${constraint} (${detail})`, {
    cause,
    hint: `the target table ${tableKey(t.target)} holds a row, or a unique key, the source does not have; ferry never overwrites another row: remove or change the conflicting target row, or drop ${constraint}`,
  });
}

/** The rows of one table's write, each with the primary key of its change (a patch's: the row it matches). */
export function writtenRows(t: TableSchema, rows: readonly Row[], patches: readonly Patch[] = []): { key: Row; row: Row }[] {
  return [...rows.map((row) => ({ key: pickKey(row, t.primaryKey), row })), ...patches.map((p) => ({ key: p.match, row: { ...p.match, ...p.set } }))];
}
