import { pickKey, tableKey, type ChangeEvent, type Row, type TableId, type Value } from './change-event.js';

/** What a sink must do, set-based, to apply a run of events: per table, deletes then upserts; truncates in place. */
export type Write =
  | { readonly kind: 'truncate'; readonly table: TableId }
  | { readonly kind: 'rows'; readonly table: TableId; readonly deletes: readonly Row[]; readonly upserts: readonly Row[] };

function valueKey(v: Value): string {
  if (Buffer.isBuffer(v)) return `b:${v.toString('hex')}`;
  return `${typeof v}:${String(v)}`;
}

export function rowKey(key: Row): string {
  return Object.values(key).map(valueKey).join('\u0000');
}

type Last = { readonly op: 'upsert'; readonly row: Row } | { readonly op: 'delete'; readonly key: Row };

/**
 * Reduces events, in source order, to the last image per primary key: an insert then update
 * becomes one upsert, an update then delete one delete. A primary-key update deletes the old key
 * and writes the new one. Events are full row images, so replaying a prefix again converges too.
 */
export function coalesce(events: readonly ChangeEvent[], primaryKeyOf: (t: TableId) => readonly string[]): Write[] {
  const writes: Write[] = [];
  let pending = new Map<string, { table: TableId; rows: Map<string, Last> }>();
  const flush = () => {
    for (const { table, rows } of pending.values()) {
      const deletes: Row[] = [];
      const upserts: Row[] = [];
      for (const last of rows.values()) {
        if (last.op === 'delete') deletes.push(last.key);
        else upserts.push(last.row);
      }
      writes.push({ kind: 'rows', table, deletes, upserts });
    }
    pending = new Map();
  };
  for (const e of events) {
    if (e.op === 't') {
      flush();
      writes.push({ kind: 'truncate', table: e.table });
      continue;
    }
    const tk = tableKey(e.table);
    let entry = pending.get(tk);
    if (!entry) pending.set(tk, (entry = { table: e.table, rows: new Map() }));
    const k = rowKey(e.key);
    if (e.op === 'd') {
      entry.rows.set(k, { op: 'delete', key: e.key });
      continue;
    }
    if (e.op === 'u' && e.before) {
      const oldKey = pickKey(e.before, primaryKeyOf(e.table));
      const ok = rowKey(oldKey);
      if (ok !== k) entry.rows.set(ok, { op: 'delete', key: oldKey });
    }
    entry.rows.delete(k); // re-insert so the map keeps the order of last change
    entry.rows.set(k, { op: 'upsert', row: e.after! });
  }
  flush();
  return writes;
}
