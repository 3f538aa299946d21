import { tableKey, type ChangeEvent, type Row, type TableId, type Value } from '../core/change-event.js';
import { rowKey } from '../core/coalesce.js';
import type { ForeignKey, ReferentialAction, TableSchema } from '../core/schema.js';
import { FerryError } from '../core/errors.js';
import { ACTS, changed, unloggedActions, type UnloggedActions } from '../core/unlogged-actions.js';

/**
 * The statements a target engine runs for referential actions, inside the apply transaction. Rows
 * are matched by `columns` equal to one of `values` (each in `columns` order). Values are the
 * engine's own parameter forms: what `param` makes of a source value, or what `find` returned.
 */
export interface ReferencingRows {
  /** A source (canonical) value of `table`'s `column` as this engine's parameter. */
  param(table: TableSchema, column: string, v: Value): Value;
  /** The matching rows of `table`, locked until the transaction ends, with their `returning` columns. */
  find(table: TableSchema, columns: readonly string[], values: readonly (readonly Value[])[], returning: readonly string[]): Promise<Value[][]>;
  delete(table: TableSchema, columns: readonly string[], values: readonly (readonly Value[])[]): Promise<void>;
  /** Sets `set` columns to `to` (one value each; `null` for NULL) on the matching rows. */
  update(table: TableSchema, columns: readonly string[], values: readonly (readonly Value[])[], set: readonly string[], to: readonly Value[]): Promise<void>;
}

/** One changed row of a referenced table: its values before, and after (null when deleted), in engine parameter form. */
interface Changed {
  readonly old: Row;
  readonly new: Row | null;
}

/** InnoDB's own limit: a source statement cascading deeper fails there and never reaches the binlog. */
const MAX_DEPTH = 15;

/**
 * MySQL and MariaDB do not write to the binlog the rows their foreign keys' actions change (ON
 * DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT): a native replica re-runs them through its own
 * foreign keys. ferry applies with foreign-key checks off, so it runs them itself, in the target
 * transaction of the parent's change, right after it (DESIGN §3.4). Postgres sources log such rows.
 */
export class ReferentialActions {
  /** Referenced source table (`schema.table`) → the foreign keys with actions that point at it. */
  readonly #referencing: UnloggedActions;

  constructor(tables: Iterable<TableSchema>) {
    this.#referencing = unloggedActions(tables);
  }

  get empty(): boolean {
    return this.#referencing.size === 0;
  }

  /** Whether the source's foreign keys act on other rows because of `e`: a delete, or an update of referenced columns. */
  triggers(e: ChangeEvent): boolean {
    const refs = this.#referencing.get(tableKey(e.table));
    if (!refs || !e.before) return false;
    if (e.op === 'd') return refs.some((r) => ACTS.has(r.fk.onDelete));
    return e.op === 'u' && e.after !== null && refs.some((r) => ACTS.has(r.fk.onUpdate) && changed(r.fk.referencedColumns, e.before!, e.after!));
  }

  /**
   * Runs the actions of `events` (changes of one table `parent`, already applied), and of the rows
   * those actions change, level by level. `replay`: the changes may be older than rows the target
   * already has (a snapshot's overlap), so a cascade that moves child rows to a key the target
   * already holds replaces those rows, which the source could not have had yet.
   */
  async apply(parent: TableSchema, events: readonly ChangeEvent[], rows: ReferencingRows, replay = false): Promise<void> {
    const param = (row: Row, columns: Iterable<string>) => Object.fromEntries([...columns].map((c) => [c, rows.param(parent, c, row[c] ?? null)]));
    const needed = this.#referencedColumns(parent.source);
    const level: Changed[] = events.map((e) => ({ old: param(e.before!, needed), new: e.op === 'd' ? null : param(e.after!, needed) }));
    await this.#act(parent.source, level, { rows, replay }, 1);
  }

  async #act(table: TableId, level: readonly Changed[], on: Target, depth: number): Promise<void> {
    for (const { child, fk } of this.#referencing.get(tableKey(table)) ?? []) {
      const deleted = level.filter((c) => c.new === null);
      const updated = level.filter((c) => c.new !== null && changed(fk.referencedColumns, c.old, c.new));
      if (ACTS.has(fk.onDelete) && deleted.length > 0) await this.#follow(child, fk, fk.onDelete, deleted, on, depth);
      if (ACTS.has(fk.onUpdate) && updated.length > 0) await this.#follow(child, fk, fk.onUpdate, updated, on, depth);
    }
  }

  /** One foreign key's action for the referenced rows in `level`, then the actions that it sets off in turn. */
  async #follow(child: TableSchema, fk: ForeignKey, action: ReferentialAction, level: readonly Changed[], on: Target, depth: number): Promise<void> {
    const { rows } = on;
    if (depth > MAX_DEPTH) {
      throw new FerryError(
        'fatal',
        `foreign key ${fk.name} of ${tableKey(child.source)}: referential actions nest deeper than ${MAX_DEPTH} levels in the target, which the source cannot do`,
        {
          hint: 'the target differs from the source (rows the source does not have); re-snapshot the tables involved (snapshot.mode: always)',
        },
      );
    }
    // Deleted rows, and rows of SET NULL/DEFAULT, are matched all at once; a CASCADE update maps each old key to its new one.
    const groups = action === 'cascade' && level[0]!.new !== null ? level.map((c) => [c]) : [level];
    const further = this.#referencedColumns(child.source);
    // A cascade that moves child rows along a key of theirs, in a replay: their new keys may be taken by rows copied after the change.
    const moving = on.replay && action === 'cascade' && level[0]!.new !== null && child.primaryKey.some((c) => fk.columns.includes(c));
    for (const group of groups) {
      const values = distinct(group.map((c) => fk.referencedColumns.map((col) => c.old[col] ?? null)).filter((v) => !v.includes(null)));
      if (values.length === 0) continue;
      const returning = [...new Set([...further, ...fk.columns, ...(moving ? child.primaryKey : [])])];
      const found =
        further.size > 0 || moving
          ? (await rows.find(child, fk.columns, values, returning)).map((r) => Object.fromEntries(returning.map((c, i) => [c, r[i]!])))
          : null;
      if (found?.length === 0) continue; // nothing references them: no statement to run
      if (action === 'cascade' && group[0]!.new === null) {
        await rows.delete(child, fk.columns, values);
        if (found && further.size > 0)
          await this.#act(
            child.source,
            found.map((old) => ({ old, new: null })),
            on,
            depth + 1,
          );
        continue;
      }
      const to = fk.columns.map((col, i) => {
        if (action === 'set null') return null;
        if (action === 'cascade') return group[0]!.new![fk.referencedColumns[i]!] ?? null;
        const declared = child.columns.find((c) => c.name === col)?.default;
        return declared?.kind === 'literal' ? rows.param(child, col, declared.value) : null;
      });
      if (moving && found) {
        const moved = (old: Row) => child.primaryKey.map((c) => (fk.columns.includes(c) ? to[fk.columns.indexOf(c)]! : (old[c] ?? null)));
        await rows.delete(child, child.primaryKey, found.map(moved));
      }
      await rows.update(child, fk.columns, values, fk.columns, to);
      if (found && further.size > 0) {
        await this.#act(
          child.source,
          found.map((old) => ({ old, new: { ...old, ...Object.fromEntries(fk.columns.map((c, i) => [c, to[i]!])) } })),
          on,
          depth + 1,
        );
      }
    }
  }

  /** The columns of `table` that foreign keys with actions reference: what a change of its rows must carry to act on. */
  #referencedColumns(table: TableId): Set<string> {
    return new Set((this.#referencing.get(tableKey(table)) ?? []).flatMap((r) => r.fk.referencedColumns));
  }
}

/** Where the actions run: the target's statements, and whether the changes may be replays. */
interface Target {
  readonly rows: ReferencingRows;
  readonly replay: boolean;
}

function distinct(values: readonly (readonly Value[])[]): (readonly Value[])[] {
  const seen = new Map<unknown, readonly Value[]>();
  for (const v of values) seen.set(rowKey(Object.fromEntries(v.map((x, i) => [i, x]))), v);
  return [...seen.values()];
}
