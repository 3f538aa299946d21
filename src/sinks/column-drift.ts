import { tableKey } from '../core/change-event.js';
import { FerryError } from '../core/errors.js';
import type { Value } from '../core/change-event.js';
import type { Column, TableSchema } from '../core/schema.js';

/**
 * Compares a target table's columns (name → the target's own type text) and primary key with the source's (with
 * `keyLater`, a table that has no primary key yet passes). Columns
 * the target lacks come back in `missing` (for the sink to add, when it manages the table); a column
 * of another type, or one the source no longer has, is a problem: the source changed in a way ferry
 * does not replicate, perhaps while ferry was stopped or behind.
 */
export function columnDrift(
  t: TableSchema,
  actual: ReadonlyMap<string, string>,
  actualKey: readonly string[],
  wanted: (c: Column) => string,
  sameType: (actual: string, wanted: string) => boolean,
  keyLater = false,
): { missing: Column[]; problems: string[] } {
  const missing: Column[] = [];
  const problems: string[] = [];
  // Upserts find rows by the primary key: the target's must be the source's (a key added at the source,
  // say). A table still loading its snapshot may lack it: the snapshot's end adds it.
  const keyWaits = keyLater && actualKey.length === 0;
  if (!keyWaits && [...actualKey].sort().join(',') !== [...t.primaryKey].sort().join(',')) {
    problems.push(`the primary key is (${actualKey.join(', ') || 'none'}) in the target, but (${t.primaryKey.join(', ') || 'none'}) at the source`);
  }
  for (const c of t.columns) {
    const type = actual.get(c.name);
    if (type === undefined) missing.push(c);
    else if (!sameType(type, wanted(c))) problems.push(`column ${c.name} is ${type} in the target, but the source's ${c.sourceType} maps to ${wanted(c)}`);
  }
  for (const name of actual.keys()) {
    if (!t.columns.some((c) => c.name === name)) problems.push(`column ${name} is in the target but no longer in the source (dropped or renamed)`);
  }
  return { missing, problems };
}

/**
 * What reconcileColumns does with a drift: adds the missing columns (`addColumn` statements) when
 * ferry manages the table, refuses everything else.
 */
export async function settleDrift(
  t: TableSchema,
  drift: { missing: Column[]; problems: string[] },
  addMissing: boolean,
  addColumn: (c: Column) => Promise<void>,
): Promise<void> {
  const problems = [...drift.problems];
  if (!addMissing) problems.push(...drift.missing.map((c) => `column ${c.name} is missing in the target (snapshot.tablePrep none: add it yourself)`));
  if (problems.length > 0) throw driftError(t, problems);
  if (addMissing) for (const c of drift.missing) await addColumn(c);
}

/** The error for a target table that no longer matches its source table. */
function driftError(t: TableSchema, problems: readonly string[]): FerryError {
  return new FerryError('fatal', `target table ${tableKey(t.target)} no longer matches ${tableKey(t.source)}: ${problems.join('; ')}`, {
    hint: 'the source table changed in a way ferry does not replicate; alter the target table to match, or re-snapshot (snapshot.mode: always, snapshot.tablePrep: drop-and-create)',
  });
}

/**
 * The value the rows already in a table hold in column `c`, which the source added (an ADD COLUMN
 * mid-stream): refused when the source computed it per row (`table` names the target in its SQL).
 */
export function knownBackfill(table: string, c: Column): Value {
  if ('expression' in c.backfill) {
    throw new FerryError(
      'fatal',
      `column ${c.name} was added to ${table} as ${c.backfill.expression}: the rows already in the table got values ferry cannot see`,
      {
        hint: 're-snapshot the table (snapshot.mode: always with snapshot.tablePrep: drop-and-create), or add such columns as nullable or with a constant DEFAULT',
      },
    );
  }
  return c.backfill.value;
}
