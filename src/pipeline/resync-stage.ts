import { pickKey, tableKey, type ChangeEvent, type Row, type Transaction, type Value } from '../core/change-event.js';
import { rowKey } from '../core/coalesce.js';
import type { LetterKey } from '../core/dead-letter.js';
import { FerryError } from '../core/errors.js';
import type { TableSchema } from '../core/schema.js';
import { actionsReach, unloggedActions, type UnloggedActions } from '../core/unlogged-actions.js';

/** What a resync read for one chunk, after one watermark and before the next (pipeline/resync.ts). */
export interface ChunkRead {
  /** The next range of rows in key order, each in `table.columns` order; a replay's: the rows of `keys` the source has. */
  readonly rows: readonly Value[][];
  /** A replay's: the keys read, found or not (one not found has no row at the source, and is deleted). */
  readonly keys?: readonly Row[];
  /** The range reached the table's end: this is the last chunk. */
  readonly last: boolean;
}

/** What the stage did at a chunk's watermark. */
export interface ChunkInjected {
  /** Rows injected (op 'r'), and a replay's keys the source no longer has, deleted. */
  readonly rows: number;
  readonly deleted: number;
  /** Rows read but left to their own changes, which came in the window. */
  readonly skipped: number;
  /** Rows read at their update so far (updates that left large values out). */
  readonly readAhead: number;
  /**
   * The table is whole again: this chunk's transaction lifts its hold. A last chunk is not done while
   * its window had a read-ahead that found no row: the range past it is read on (usually nothing).
   */
  readonly done: boolean;
  /**
   * Nothing injected: a change of another table whose foreign keys act on this one's rows at the
   * source, which a MySQL log does not show, came in the window. The same range is read again.
   */
  readonly again?: boolean;
}

/** The rows of `keys` the source has now, each in `table.columns` order (RowReader.readKeys). */
export type ReadKeys = (table: TableSchema, keys: readonly Row[]) => Promise<Value[][]>;

/** Keys of one table that changed in the stream since a watermark; `truncated` stands for every key. */
class ChangedKeys {
  readonly keys = new Set<unknown>();
  truncated = false;
  /** A read-ahead found no row: the delete that made it miss may come after the next watermark. */
  missed = false;
  /** A change whose foreign-key actions reach the table (core/unlogged-actions.ts): which rows it changed the log does not say. */
  actedOn = false;
  /** A replay's keys whose read-ahead found no row: their update stayed column-only, the target may still lack the row. */
  readonly missedKeys = new Set<unknown>();
}

interface Active {
  readonly table: TableSchema;
  readonly since: string;
  readonly startMarker: string;
  /** Watermarks whose chunks are registered but not yet met in the stream. */
  readonly chunks: Map<string, ChunkRead>;
  /** Watermarks met with no chunk of their own (the one after the start), by which the windows move on. */
  readonly bare: Set<string>;
  /** Whether the start watermark was met: the target table was emptied there, in stream order. */
  started: boolean;
  /** Keys changed between the last two watermarks met, and since the last one. */
  previous: ChangedKeys;
  current: ChangedKeys;
  readonly readKeys: ReadKeys;
  /** Rows read at their update so far. */
  readAhead: number;
  /**
   * A replay's (key-set mode): the dead letters not yet marked, by key. Nothing is emptied or held;
   * only these keys are read, and their letters are marked replayed with the chunk that reads them.
   */
  readonly letters: Map<unknown, LetterKey[]> | null;
}

type Seen = (marker: string, injected: ChunkInjected | null) => void;

/**
 * The stream stage of a table's resync (DBLog's watermarks, Netflix 2019), between the source's
 * queue and the transforms: it deals in source rows, so the transform rules apply to the rows it
 * injects as to the snapshot's. `pass` is synchronous and does no I/O; pipeline/resync.ts reads the
 * chunks and writes the watermarks.
 *
 * - At the start watermark the transaction carries a truncate of the table and sets its hold
 *   ('resyncing'): the target table starts empty in stream order.
 * - Every change of the table is applied as it comes; the target may lack the row, so a delete is
 *   one that may find none, a key change deletes the old key as such and upserts the new, and an
 *   update that needs the row (Postgres sends no unchanged TOAST values) becomes an upsert of the
 *   row read from the source as the stream meets it, with the update's own values over it (`stream`);
 *   a read that finds no row leaves it column-only (its insert may not be visible yet, in its own
 *   transaction perhaps: coalesce merges it there).
 *   The read may be newer than the stream: the changes after it are applied again over it, and
 *   converge. (Dropping such an update and reading its key again with a later chunk, until a window
 *   is clear of it, never ends under a steady load of such updates.)
 * - At chunk i's watermark m_i, the chunk's rows are injected as reads (op 'r') in the same
 *   transaction, except those whose key changed in the stream since m_(i-2). The chunk was read
 *   after m_(i-1) was written, so a change before the read that came through the stream after
 *   m_(i-1) is in the window, and so is one after the read (before m_i); the window reaches back to
 *   m_(i-2) because a commit can be in the log before a watermark yet become visible to reads only
 *   after it (a Postgres commit record is written before the transaction leaves the proc array, a
 *   MariaDB binlog group before the engine commits). A key left out is carried by its own changes.
 * - A chunk whose window holds a change of another table whose foreign keys' actions reach this
 *   one (a parent's delete, or update of the referenced key: a MySQL source does not log the rows
 *   they change) is not injected, and its range is read again after the next watermark: a row it
 *   read may have been deleted, or its reference set to NULL or the new key, by that action.
 *   Leaving out its rows instead would lose those it updated. This repeats only while such changes
 *   keep coming in the window.
 * - With the range read to its end, that chunk's transaction lifts the hold, unless a read-ahead
 *   since the last watermark found no row: the delete that made it miss committed before the read,
 *   perhaps after that chunk's watermark was written, and a delete after the lift must find its row.
 *   The range past the end is read on, and the first watermark whose window had no miss lifts it.
 *
 * A restart with the table still held ('resyncing' in the checkpoint) starts over: until the new
 * start watermark, the table's changes are applied the same way.
 *
 * A replay of dead letters (POST /dead-letters/replay) is the same walk over a set of keys instead of
 * the whole table: no truncate and no hold, the table stays whole and streaming. Chunk i's keys are
 * read after m_(i-1) and injected at m_i, found ones as reads, others as deletes that may find no
 * row, except keys changed since m_(i-2); that transaction carries their letters (Transaction.replayed),
 * so the sink marks them replayed with the rows. An update that left values out of a key whose
 * letter is not marked yet is completed with its row read as the stream meets it, as above: the
 * target may lack the row it would patch.
 */
export class ResyncStage {
  /** The table whose changes are applied as ones that may find no row (held, or being copied again). */
  #held: TableSchema | null;
  #active: Active | null = null;
  #seen: Seen = () => {};
  /** The foreign keys of the replicated `tables` whose actions the source does not log. */
  readonly #actions: UnloggedActions;

  constructor(held: TableSchema | null, tables: readonly TableSchema[] = []) {
    this.#held = held;
    this.#actions = unloggedActions(tables);
  }

  /**
   * Begins a resync of `table`: `startMarker` is its start watermark; `seen` is told of each watermark
   * the stage meets; `readKeys` reads the rows of updates that left values out.
   */
  begin(table: TableSchema, since: string, startMarker: string, seen: Seen, readKeys: ReadKeys, letters?: readonly LetterKey[]): void {
    if (this.#active) throw new FerryError('fatal', `a resync of ${tableKey(this.#active.table.source)} is running already`);
    this.#seen = seen;
    this.#active = {
      table,
      since,
      startMarker,
      chunks: new Map(),
      bare: new Set(),
      started: false,
      previous: new ChangedKeys(),
      current: new ChangedKeys(),
      readKeys,
      readAhead: 0,
      letters: letters ? lettersByKey(letters, table.primaryKey) : null,
    };
  }

  /** A watermark that moves the windows on with no chunk (the one after the start). */
  expectBare(marker: string): void {
    this.#active?.bare.add(marker);
  }

  /** Chunk read before `marker` was written: injected where the stream meets it. */
  expectChunk(marker: string, read: ChunkRead): void {
    this.#active?.chunks.set(marker, read);
  }

  /** The table the resync copies: described again once its start watermark was met. */
  retable(table: TableSchema): void {
    if (this.#active) this.#active = { ...this.#active, table };
    if (this.#held) this.#held = table;
  }

  /** Ends the resync without lifting the hold (it failed): a later attempt starts over. */
  abandon(): void {
    this.#active = null;
  }

  async *stream(transactions: AsyncIterable<Transaction>): AsyncGenerator<Transaction> {
    for await (const t of transactions) {
      const passed = this.pass(t);
      const active = this.#active;
      yield active?.started && (passed !== t || active.letters) ? await this.#readAhead(passed, active) : passed;
    }
  }

  /** Each update of the table that left values out, as an upsert of its row read now with the update's values over it (where the source has the row). */
  async #readAhead(t: Transaction, active: Active): Promise<Transaction> {
    const name = tableKey(active.table.source);
    const pk = active.table.primaryKey;
    const letters = active.letters;
    // A replay reads ahead for a lettered key, the one an update moves a row from included.
    const lettered = (e: ChangeEvent) => letters!.has(rowKey(pickKey(e.key, pk))) || (e.before !== null && letters!.has(rowKey(pickKey(e.before, pk))));
    const partial = t.events.filter((e) => e.unchanged?.length && tableKey(e.table) === name && (!letters || lettered(e)));
    if (partial.length === 0) return t;
    const found = new Map<unknown, Row>();
    for (const values of await active.readKeys(
      active.table,
      partial.map((e) => pickKey(e.key, pk)),
    )) {
      const row: Row = {};
      active.table.columns.forEach((c, i) => (row[c.name] = values[i] ?? null));
      found.set(rowKey(pickKey(row, pk)), row);
    }
    active.readAhead += partial.length;
    // A key the source does not have was deleted (or moved) after the update, and that change follows in
    // the stream; or it was inserted by a transaction not yet visible, this one perhaps: the update stays
    // column-only (the held table's writes may find no row) and coalesce merges it into that insert.
    const events = t.events.map((e): ChangeEvent => {
      if (!partial.includes(e)) return e;
      const row = found.get(rowKey(pickKey(e.key, pk)));
      if (!row) {
        active.current.missed = true;
        if (letters) for (const k of [e.key, e.before ?? e.key]) active.current.missedKeys.add(rowKey(pickKey(k, pk)));
        return e;
      }
      const { unchanged: _, ...full } = e;
      // A row moved from a lettered key: the old one is deleted as one that may be missing.
      const moved = e.before !== null && rowKey(pickKey(e.before, pk)) !== rowKey(pickKey(e.key, pk));
      return { ...full, before: moved ? e.before : null, after: { ...row, ...e.after } };
    });
    return { ...t, events };
  }

  /** The transaction as the target is to apply it. */
  pass(t: Transaction): Transaction {
    const active = this.#active;
    if (this.#held === null && active === null) return t;
    if (t.schemaChange && this.#held && tableKey(t.schemaChange.table) === tableKey(this.#held.source) && active?.started) {
      // Rows read before and after it would have different columns: the resync starts over with the table described again.
      throw new FerryError(
        'retriable',
        `${tableKey(this.#held.source)} changed (${t.schemaChange.addColumns.map((c) => c.name).join(', ')}) during its resync: it starts over`,
      );
    }
    const events = this.#held ? this.#heldChanges(t.events, this.#held) : t.events;
    if (active?.letters && active.started) this.#noteChanges(events, active);
    if (active?.started && this.#actions.size > 0 && t.events.some((e) => actionsReach(this.#actions, e, active.table.source))) active.current.actedOn = true;
    const marker = t.marker;
    if (!active || marker === undefined) return events === t.events ? t : { ...t, events };
    if (marker === active.startMarker) return this.#start(t, events, active);
    if (active.bare.delete(marker)) {
      this.#advance(active);
      this.#seen(marker, null);
      return { ...t, events };
    }
    const read = active.chunks.get(marker);
    if (!read) return { ...t, events };
    active.chunks.delete(marker);
    return this.#inject(t, events, active, read, marker);
  }

  #start(t: Transaction, events: readonly ChangeEvent[], active: Active): Transaction {
    const table = active.table.source;
    active.started = true;
    active.previous = new ChangedKeys();
    active.current = new ChangedKeys();
    this.#seen(active.startMarker, null);
    if (active.letters) return { ...t, events };
    this.#held = active.table;
    return {
      ...t,
      events: [...events, { op: 't', table, key: {}, before: null, after: null }],
      hold: { table: tableKey(table), hold: { state: 'resyncing', since: active.since } },
    };
  }

  #inject(t: Transaction, events: readonly ChangeEvent[], active: Active, read: ChunkRead, marker: string): Transaction {
    const { table } = active;
    const pk = table.primaryKey;
    const window = [active.previous, active.current];
    if (window.some((w) => w.actedOn)) {
      this.#advance(active);
      this.#seen(marker, { rows: 0, deleted: 0, skipped: 0, readAhead: active.readAhead, done: false, again: true });
      return { ...t, events };
    }
    const changed = (k: unknown) => window.some((w) => w.truncated || w.keys.has(k));
    const missed = (k: unknown) => window.some((w) => w.missedKeys.has(k));
    const found = new Map<unknown, Row>();
    for (const values of read.rows) {
      const row: Row = {};
      table.columns.forEach((c, i) => (row[c.name] = values[i] ?? null));
      found.set(rowKey(pickKey(row, pk)), row);
    }
    const injected: ChangeEvent[] = [];
    let skipped = 0;
    for (const [k, row] of found) {
      if (changed(k)) {
        skipped++;
        continue;
      }
      injected.push({ op: 'r', table: table.source, key: pickKey(row, pk), before: null, after: row });
    }
    const rows = injected.length;
    const replayed: LetterKey[] = [];
    for (const key of read.keys ?? []) {
      const k = rowKey(pickKey(key, pk));
      // Read, or carried by its own change in the window: either way the target now has the row as the source does;
      // unless that change is an update whose read found no row: its letter stays, and a later delete may find no row.
      const carried = changed(k);
      if (!carried || !missed(k)) replayed.push(...(active.letters?.get(k) ?? []));
      active.letters?.delete(k);
      if (found.has(k) || carried) continue;
      // The source has no row for it, and had none since m_(i-2): the target must not either.
      injected.push({ op: 'd', table: table.source, key, before: key, after: null, mayBeMissing: true });
    }
    // A replay lifts no hold: only a resync waits for a window without a read-ahead miss.
    const done = read.last && active.chunks.size === 0 && (active.letters !== null || !active.current.missed);
    this.#advance(active);
    const result: ChunkInjected = { rows, deleted: injected.length - rows, skipped, readAhead: active.readAhead, done };
    const lifts = done && !active.letters;
    if (done) this.#active = null;
    if (lifts) this.#held = null;
    this.#seen(marker, result);
    return {
      ...t,
      events: [...events, ...injected],
      ...(lifts ? { hold: { table: tableKey(table.source), hold: null } } : {}),
      ...(replayed.length > 0 ? { replayed } : {}),
    };
  }

  /** A replay's table, streaming as usual: the keys its changes touch are noted for the windows. */
  #noteChanges(events: readonly ChangeEvent[], active: Active): void {
    const name = tableKey(active.table.source);
    const pk = active.table.primaryKey;
    for (const e of events) {
      if (tableKey(e.table) !== name) continue;
      if (e.op === 't') active.current.truncated = true;
      else {
        active.current.keys.add(rowKey(pickKey(e.key, pk)));
        if (e.before) active.current.keys.add(rowKey(pickKey(e.before, pk)));
      }
    }
  }

  /** m_i met: the window of the next chunk reaches back to it. */
  #advance(active: Active): void {
    active.previous = active.current;
    active.current = new ChangedKeys();
  }

  /**
   * The held table's changes as the target can apply them without its row: deletes that may find
   * none, key changes as a delete of the old key and an upsert of the new; an update without its
   * unchanged TOAST values is kept for `stream` to complete once the resync started, and dropped
   * before (the start empties the table). Every key changed is noted.
   */
  #heldChanges(events: readonly ChangeEvent[], held: TableSchema): readonly ChangeEvent[] {
    const name = tableKey(held.source);
    if (!events.some((e) => tableKey(e.table) === name)) return events;
    const active = this.#active?.started ? this.#active : null;
    const pk = held.primaryKey;
    const note = (key: Row) => active?.current.keys.add(rowKey(pickKey(key, pk)));
    const out: ChangeEvent[] = [];
    for (const e of events) {
      if (tableKey(e.table) !== name) {
        out.push(e);
        continue;
      }
      if (e.op === 't') {
        if (active) active.current.truncated = true;
        out.push(e);
        continue;
      }
      if (e.op === 'd') {
        note(e.key);
        out.push({ ...e, mayBeMissing: true });
        continue;
      }
      const oldKey = e.before ? pickKey(e.before, pk) : e.key;
      const moved = rowKey(oldKey) !== rowKey(pickKey(e.key, pk));
      if (moved) {
        note(oldKey);
        out.push({ op: 'd', table: e.table, key: oldKey, before: e.before, after: null, mayBeMissing: true });
      }
      note(e.key);
      if (e.unchanged?.length && !active) continue;
      out.push(moved ? { ...e, before: null } : e);
    }
    return out;
  }
}

/** Letters by the key of their row (letters of one key together, in id order). */
function lettersByKey(letters: readonly LetterKey[], pk: readonly string[]): Map<unknown, LetterKey[]> {
  const byKey = new Map<unknown, LetterKey[]>();
  for (const l of letters) {
    const k = rowKey(pickKey(l.key, pk));
    const same = byKey.get(k);
    if (same) same.push(l);
    else byKey.set(k, [l]);
  }
  return byKey;
}
