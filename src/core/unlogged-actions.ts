import { tableKey, type ChangeEvent, type Row, type TableId } from './change-event.js';
import { rowKey } from './coalesce.js';
import { actsOnRows, type ForeignKey, type ReferentialAction, type TableSchema } from './schema.js';

/** A foreign key whose action changes referencing rows, with the table it is declared on. */
export interface Referencing {
  readonly child: TableSchema;
  readonly fk: ForeignKey;
}

/** Referenced source table (`schema.table`) → the foreign keys with actions that point at it, which the source does not log. */
export type UnloggedActions = ReadonlyMap<string, readonly Referencing[]>;

export const ACTS: ReadonlySet<ReferentialAction> = new Set(['cascade', 'set null', 'set default']);

/**
 * MySQL and MariaDB do not write to the binlog the rows their foreign keys' actions change (ON
 * DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT): the foreign keys of `tables` that have such actions.
 * Postgres sources log such rows.
 */
export function unloggedActions(tables: Iterable<TableSchema>): UnloggedActions {
  const referencing = new Map<string, Referencing[]>();
  for (const child of tables) {
    if (child.engine !== 'mysql') continue;
    for (const fk of child.foreignKeys ?? []) {
      if (!actsOnRows(fk)) continue;
      const key = tableKey(fk.references);
      referencing.set(key, [...(referencing.get(key) ?? []), { child, fk }]);
    }
  }
  return referencing;
}

/**
 * Whether the source's foreign keys act, unlogged, on rows of `table` because of `e` (a delete, or an
 * update of referenced columns), directly or through the rows those actions change in turn: a
 * resync of `table` cannot tell from the log which of its rows changed.
 */
export function actionsReach(actions: UnloggedActions, e: ChangeEvent, table: TableId): boolean {
  if (!e.before || (e.op !== 'd' && (e.op !== 'u' || !e.after))) return false;
  const { before, after } = e;
  // The tables reached, each with whether its rows are deleted (cascaded deletes) or updated.
  const reached = [{ table: tableKey(e.table), deleted: e.op === 'd', first: true }];
  for (const { table: parent, deleted, first } of reached) {
    for (const { child, fk } of actions.get(parent) ?? []) {
      const action = deleted ? fk.onDelete : fk.onUpdate;
      if (!ACTS.has(action) || (first && !deleted && !changed(fk.referencedColumns, before, after!))) continue;
      const next = { table: tableKey(child.source), deleted: deleted && action === 'cascade', first: false };
      if (next.table === tableKey(table)) return true;
      if (!reached.some((r) => r.table === next.table && r.deleted === next.deleted)) reached.push(next);
    }
  }
  return false;
}

/** Whether `columns` differ between `before` and `after`. */
export function changed(columns: readonly string[], before: Row, after: Row): boolean {
  return columns.some((c) => rowKey({ v: before[c] ?? null }) !== rowKey({ v: after[c] ?? null }));
}
