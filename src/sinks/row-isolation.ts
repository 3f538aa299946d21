import { pickKey, type Row } from '../core/change-event.js';
import type { Patch } from '../core/coalesce.js';
import type { DeadLetterOperation } from '../core/dead-letter.js';
import type { TableSchema } from '../core/schema.js';
import type { RowsWrite } from './row-writes.js';

/** One row of a coalesced write: what a write the target rejected is tried again in, alone or with its neighbours. */
export type RowUnit =
  | { readonly part: 'deletes' | 'transients'; readonly key: Row }
  | { readonly part: 'patches'; readonly patch: Patch }
  | { readonly part: 'upserts' | 'inserts'; readonly row: Row };

/** The rows of `w` in the order RowWrites.applyRows applies them: deletes, transients, patches, upserts, inserts. */
export function rowUnits(w: RowsWrite): RowUnit[] {
  return [
    ...w.deletes.map((key) => ({ part: 'deletes' as const, key })),
    ...w.transients.map((key) => ({ part: 'transients' as const, key })),
    ...w.patches.map((patch) => ({ part: 'patches' as const, patch })),
    ...w.upserts.map((row) => ({ part: 'upserts' as const, row })),
    ...w.inserts.map((row) => ({ part: 'inserts' as const, row })),
  ];
}

/** A run of `units` (in rowUnits' order) as one write of `w`'s table: applied, it does what they do one by one. */
export function joinUnits(w: RowsWrite, units: readonly RowUnit[]): RowsWrite {
  const joined = { deletes: [] as Row[], transients: [] as Row[], patches: [] as Patch[], upserts: [] as Row[], inserts: [] as Row[] };
  for (const u of units) {
    if (u.part === 'patches') joined.patches.push(u.patch);
    else if ('key' in u) joined[u.part].push(u.key);
    else joined[u.part].push(u.row);
  }
  return { kind: 'rows', table: w.table, ...joined };
}

/** The primary key of a unit's row, its operation and its image, as a dead letter keeps them. */
export function unitRow(t: TableSchema, u: RowUnit): { key: Row; operation: DeadLetterOperation; row: Row } {
  switch (u.part) {
    case 'deletes':
    case 'transients':
      return { key: u.key, operation: 'delete', row: u.key };
    case 'patches':
      return { key: u.patch.match, operation: 'update', row: { ...u.patch.match, ...u.patch.set } };
    case 'upserts':
      return { key: pickKey(u.row, t.primaryKey), operation: 'upsert', row: u.row };
    case 'inserts':
      return { key: pickKey(u.row, t.primaryKey), operation: 'insert', row: u.row };
  }
}
