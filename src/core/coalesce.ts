import { pickKey, tableKey, type ChangeEvent, type Row, type TableId, type Value } from './change-event.js';
import type { Column } from './schema.js';

/** Sets the columns of `set` on the row whose key is `match` (an update that did not carry every column). */
export interface Patch {
  readonly match: Row;
  readonly set: Row;
}

/**
 * What a sink must do, set-based, to apply a run of events: per table, deletes, then patches, then
 * upserts, then inserts (a row that gave up a unique value for a new one goes first); truncates in place.
 *
 * Deletes and patches name rows that existed before the run: a target in step with the source has
 * each of them, so a sink checks that every one found its row (a miss is a target that diverged,
 * unless the change may be a replay: Checkpoint.overlapEnd). Upserts converge whether or not the row is there.
 */
export type Write =
  | { readonly kind: 'truncate'; readonly table: TableId }
  /** A change of a table without a primary key (keyed by all its columns): applied alone, to one matching row. */
  | { readonly kind: 'exact'; readonly table: TableId; readonly event: ChangeEvent }
  /**
   * `inserts` are rows the run created: their key had no row when it began (its first change to them
   * was an insert), so a target in step with the source has none either, and a sink may insert them
   * plainly, falling back to upserts on a key conflict (a target out of step: a snapshot's overlap).
   */
  | {
      readonly kind: 'rows';
      readonly table: TableId;
      readonly deletes: readonly Row[];
      readonly inserts: readonly Row[];
      readonly upserts: readonly Row[];
      readonly patches: readonly Patch[];
      /**
       * Keys the run created and deleted again (an insert, then a delete): a target in step has no row
       * for them, one out of step (a replay) may. A sink deletes them without expecting a row.
       */
      readonly transients: readonly Row[];
    };

function valueKey(v: Value): string {
  if (Buffer.isBuffer(v)) return `b:${v.toString('hex')}`;
  return `${typeof v}:${String(v)}`;
}

/**
 * A Map key that tells a row's primary key apart from every other of its table: a one-column key's
 * value itself (the common case, with no string built per event), else the values' text joined.
 */
export function rowKey(key: Row): unknown {
  const values = Object.values(key);
  if (values.length === 1) {
    const v = values[0];
    return Buffer.isBuffer(v) ? valueKey(v) : v;
  }
  return values.map(valueKey).join('\u0000');
}

type Last =
  /** `fresh`: the run inserted the row, so it may be inserted plainly; `created`: the key had no row when the run began (fresh, or a row moved to it). */
  | { readonly op: 'upsert'; readonly row: Row; readonly fresh: boolean; readonly created: boolean }
  /** `created`: the run inserted (or moved to this key) the row it deletes, so a target in step never had it. */
  | { readonly op: 'delete'; readonly key: Row; readonly created: boolean }
  | { readonly op: 'patch'; readonly patch: Patch };

/**
 * Reduces events, in source order, to the last image per primary key: an insert then update
 * becomes one insert, an update then delete one delete. A primary-key update deletes the old key
 * and writes the new one. Full row images replayed again converge too.
 *
 * An update that lacks columns (Postgres sends no unchanged TOAST values) is merged into an earlier
 * full image of the row when the batch has one, and otherwise becomes a patch of the row in the
 * target, which must never overwrite the missing columns. A patch that moves a row to a new key is
 * a write of its own, so no other change of the batch can overtake it.
 */
export function coalesce(events: readonly ChangeEvent[], primaryKeyOf: (t: TableId) => readonly string[]): Write[] {
  const writes: Write[] = [];
  let pending = new Map<string, { table: TableId; rows: Map<unknown, Last> }>();
  const flush = () => {
    for (const { table, rows } of pending.values()) {
      const deletes: Row[] = [];
      const transients: Row[] = [];
      const inserts: Row[] = [];
      const upserts: Row[] = [];
      const patches: Patch[] = [];
      for (const last of rows.values()) {
        if (last.op === 'delete') (last.created ? transients : deletes).push(last.key);
        else if (last.op === 'upsert') (last.fresh ? inserts : upserts).push(last.row);
        else patches.push(last.patch);
      }
      writes.push({ kind: 'rows', table, deletes, inserts, upserts, patches, transients });
    }
    pending = new Map();
  };
  const rowsOf = (table: TableId) => {
    const tk = tableKey(table);
    let entry = pending.get(tk);
    if (!entry) pending.set(tk, (entry = { table, rows: new Map() }));
    return entry.rows;
  };
  const set = (rows: Map<unknown, Last>, k: unknown, last: Last) => {
    rows.delete(k); // re-insert so the map keeps the order of last change
    rows.set(k, last);
  };
  for (const e of events) {
    if (e.op === 't') {
      flush();
      writes.push({ kind: 'truncate', table: e.table });
      continue;
    }
    if (primaryKeyOf(e.table).length === 0) {
      // Rows without a key may be duplicates of each other: nothing can be merged, order is everything.
      flush();
      writes.push({ kind: 'exact', table: e.table, event: e });
      continue;
    }
    const rows = rowsOf(e.table);
    const k = rowKey(e.key);
    if (e.op === 'd') {
      // A row the target may not hold is deleted as one the run created: without expecting to find it.
      set(rows, k, { op: 'delete', key: e.key, created: e.mayBeMissing === true || createdInRun(rows.get(k)) });
      continue;
    }
    const oldKey = e.op === 'u' && e.before ? pickKey(e.before, primaryKeyOf(e.table)) : e.key;
    const ok = rowKey(oldKey);
    const previous = rows.get(ok);
    let after = e.after!;
    if (e.unchanged?.length) {
      if (previous?.op === 'upsert') {
        after = { ...previous.row, ...after };
      } else if (ok !== k || previous?.op === 'delete') {
        // A moved row, or a row the batch deleted: apply everything before it first, then it alone.
        const match = previous?.op === 'patch' ? previous.patch.match : oldKey;
        const merged = previous?.op === 'patch' ? { ...previous.patch.set, ...after } : after;
        if (previous?.op === 'patch') rows.delete(ok);
        flush();
        writes.push({ kind: 'rows', table: e.table, deletes: [], inserts: [], upserts: [], patches: [{ match, set: merged }], transients: [] });
        continue;
      } else {
        const patch = previous?.op === 'patch' ? { match: previous.patch.match, set: { ...previous.patch.set, ...after } } : { match: oldKey, set: after };
        set(rows, k, { op: 'patch', patch });
        continue;
      }
    }
    const moved = ok !== k ? rows.get(k) : undefined;
    if (ok !== k) set(rows, ok, { op: 'delete', key: oldKey, created: createdInRun(previous) });
    // An insert as the key's first change of the run creates its row; later changes keep it created,
    // and so does an insert again after the run deleted what it created.
    const inserts = e.op === 'c' || e.op === 'r';
    const fresh =
      ok === k && (previous === undefined ? inserts : previous.op === 'delete' ? previous.created && inserts : previous.op === 'upsert' && previous.fresh);
    // A row moved to a key the source had no row at: the run created that key's row too, unless its
    // row was there when the run began (the run deleted or moved it away first). Moved away again
    // (UPDATE t SET id = -id, then back), it is deleted as a row a target in step never had.
    const created = fresh || (ok !== k ? moved === undefined || createdInRun(moved) : previous?.op === 'upsert' && previous.created);
    set(rows, k, { op: 'upsert', row: after, fresh, created });
  }
  flush();
  return writes;
}

/** Whether the key of `last` had no row when the run began: the run inserted it or moved a row to it (and perhaps deleted and did so again). */
function createdInRun(last: Last | undefined): boolean {
  return last?.op === 'upsert' || last?.op === 'delete' ? last.created : false;
}

/**
 * Items grouped by the columns their row image has (`rows[i]` belongs to `items[i]`): rows written
 * before an ADD COLUMN lack it, patches lack unchanged TOAST values. Sinks give each group its own statement.
 */
export function groupByColumns<T>(columns: readonly Column[], rows: readonly Row[], items: readonly T[]): Map<readonly Column[], readonly T[]> {
  if (rows.every((r) => isFullRow(columns, r))) return items.length ? new Map([[columns, items]]) : new Map();
  const bySignature = new Map<string, { columns: Column[]; items: T[] }>();
  rows.forEach((row, i) => {
    const present = columns.filter((c) => c.name in row);
    const sig = present.map((c) => c.name).join('\u0000');
    let g = bySignature.get(sig);
    if (!g) bySignature.set(sig, (g = { columns: present, items: [] }));
    g.items.push(items[i]!);
  });
  return new Map([...bySignature.values()].map((g) => [g.columns, g.items]));
}

/** Whether `row` has every one of `columns` (checked without allocating: a hot path of apply). */
export function isFullRow(columns: readonly Column[], row: Row): boolean {
  for (const c of columns) if (!(c.name in row)) return false;
  return true;
}
