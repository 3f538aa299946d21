import { pickKey, tableKey, type ChangeEvent, type Row, type TableId, type Transaction } from '../core/change-event.js';
import { coalesce, rowKey, type Patch, type Write } from '../core/coalesce.js';
import type { DeadLetter, LetterKey } from '../core/dead-letter.js';
import type { ErrorPolicy } from '../core/error-policy.js';
import { carryOverlap, mayBeApplied, withHolds, type Checkpoint } from '../core/checkpoint.js';
import type { CheckpointStore } from '../core/checkpoint-store.js';
import { coerceError, FerryError } from '../core/errors.js';
import { comparePositions, type Position } from '../core/position.js';
import { resourceExhaustion } from '../core/resource-exhaustion.js';
import type { Column, ForeignKey, TableSchema } from '../core/schema.js';
import type { DeadLettered, PartitionTransaction, ReplayedLetters } from '../core/sink.js';
import { targetRejection, type Rejection } from '../core/target-rejection.js';
import type { TableHold, TableHolds } from '../core/table-hold.js';
import { RowOfQuarantineTable } from '../core/table-quarantine.js';
import { ReferentialActions } from './referential-actions.js';
import type { LetteredKeys } from './lettered-keys.js';
import { joinUnits, rowUnits, unitRow, type RowUnit } from './row-isolation.js';
import type { RowsWrite, RowWrites } from './row-writes.js';
import type { SqlDriver } from './sql-driver.js';
import { keyText } from './target-divergence.js';

/**
 * How far the target may be ahead of the stream (Checkpoint.overlapEnd), as the sink last read or
 * wrote its checkpoint: changes up to `end` may be replays, whose deletes and column-only updates
 * may find their row gone; past it, such a miss means the target diverged from the source.
 */
export interface Overlap {
  end: Position | null;
}

/** The tables held (table-hold.ts) as the sink last read or committed its checkpoint. */
export interface Holds {
  current: TableHolds;
}

/** What a transaction shares with the sink that opened it. */
export interface TransactionContext<C> {
  readonly driver: SqlDriver<C>;
  readonly writes: RowWrites<C>;
  readonly store: CheckpointStore<C>;
  /** Source table (`schema.table`) → the table as prepared in the target; columns and foreign keys added here are seen by the sink's later transactions. */
  readonly tables: Map<string, TableSchema>;
  readonly overlap: Overlap;
  readonly holds: Holds;
  /** Keys with a dead letter not replayed yet: their deletes and column-only updates may find no row. */
  readonly letters: LetteredKeys;
  /** The error policy of each source table (`schema.table`): what a row the target rejects does; `stop` when absent. */
  readonly errorPolicy?: (table: string) => ErrorPolicy;
}

/** Where in the batch a row's last change came from: the end of its source transaction. */
type PositionOf = (table: TableId, key: Row) => Position;

/**
 * One open target transaction: coalesced, set-based writes per table (the engine's RowWrites), and
 * the checkpoint written with the commit.
 *
 * Deletes and column-only updates by key must find their row (coalesce.ts), except where the change
 * may be a replay: up to the overlap's end, or anywhere in a Kafka partition, whose messages come at
 * least once, or in a table being resynced (its rows are being copied again, so a change may come
 * before its row), or of a row with a dead letter not replayed yet (the target may never have taken
 * it). A miss elsewhere stops the stream, naming the table and the key, like a change of a table
 * without a key that finds no equal row.
 *
 * A source transaction's `hold` sets or lifts a table's hold at that transaction's end: the changes
 * after it in this target transaction see it, the checkpoint it commits with keeps it, and the sink
 * makes it its own only once committed (a rollback forgets it). So do the keys of rows it
 * dead-letters, and the letters a replay's transaction marks replayed.
 */
export class SqlTransaction<C> implements PartitionTransaction {
  #done = false;
  /** A Kafka partition's transaction: any change may be one applied before. */
  #atLeastOnce = false;
  /** The position of the last source transaction written so far: what a DDL that commits by itself would commit up to. */
  #writtenUpTo: Position | null = null;
  /** The holds as this transaction set or lifted them; null while it has not. */
  #holds: TableHolds | null = null;
  /** Rows dead-lettered in this transaction, per `table\0reason`. */
  readonly #deadLettered = new Map<string, DeadLettered>();
  /** The keys of the rows dead-lettered in this transaction, and the letters it marked replayed. */
  readonly #newLetters: Pick<LetterKey, 'table' | 'key'>[] = [];
  readonly #replayedLetters: LetterKey[] = [];
  /** The replays' source transactions in this one: the rows of theirs the target rejects again are counted. */
  readonly #replays: { position: Position; replayed: Omit<ReplayedLetters, 'rejected'> & { rejected: number } }[] = [];
  readonly #conn: C;
  readonly #context: TransactionContext<C>;

  constructor(conn: C, context: TransactionContext<C>) {
    this.#conn = conn;
    this.#context = context;
  }

  /** BEGIN; a connection that cannot begin is closed. */
  async start(): Promise<void> {
    try {
      await this.#context.driver.run(this.#conn, 'BEGIN');
    } catch (err) {
      this.#finish(true);
      throw err;
    }
  }

  #table(id: TableId): TableSchema {
    const t = this.#context.tables.get(tableKey(id));
    if (!t) throw new FerryError('fatal', `no target mapping for source table ${tableKey(id)}`);
    return t;
  }

  async addColumns(id: TableId, columns: readonly Column[]): Promise<void> {
    const known = this.#table(id);
    const updated = { ...known, columns: [...known.columns, ...columns.filter((c) => !known.columns.some((k) => k.name === c.name))] };
    this.#context.tables.set(tableKey(id), updated);
    await this.#context.writes.addColumns(this.#conn, updated, columns, () => this.#extendOverlapOverWrites());
  }

  async setForeignKeys(id: TableId, foreignKeys: readonly ForeignKey[]): Promise<void> {
    this.#context.tables.set(tableKey(id), { ...this.#table(id), foreignKeys });
  }

  async write(transactions: readonly Transaction[]): Promise<void> {
    for (const t of transactions) if (t.replayed) await this.#markReplayed(t, t.replayed);
    let start = 0;
    for (let i = 0; i < transactions.length; i++) {
      const change = transactions[i]!.hold;
      if (!change) continue;
      await this.#writeInOrder(transactions.slice(start, i + 1));
      this.#setHold(change.table, change.hold);
      start = i + 1;
    }
    if (start < transactions.length) await this.#writeInOrder(start === 0 ? transactions : transactions.slice(start));
  }

  /** Marks a replay's letters in this transaction: they commit with the rows it read again for them, or not at all. */
  async #markReplayed(t: Transaction, letters: readonly LetterKey[]): Promise<void> {
    await this.#context.store.markReplayed(
      this.#conn,
      letters.map((l) => l.id),
    );
    this.#replayedLetters.push(...letters);
    for (const table of new Set(letters.map((l) => l.table))) {
      const count = letters.filter((l) => l.table === table).length;
      this.#replays.push({ position: t.position, replayed: { marker: t.marker, table, letters: count, rejected: 0 } });
    }
  }

  /** The holds the changes written now are applied under: this transaction's, else the sink's. */
  #currentHolds(): TableHolds {
    return this.#holds ?? this.#context.holds.current;
  }

  #setHold(table: string, hold: TableHold | null): void {
    const { [table]: _, ...others } = this.#currentHolds();
    this.#holds = hold ? { ...others, [table]: hold } : others;
  }

  async #writeInOrder(transactions: readonly Transaction[]): Promise<void> {
    if (transactions.length === 0) return;
    this.#writtenUpTo = transactions[transactions.length - 1]!.position;
    // Positions only grow: the transactions that may be replays come first.
    let replays = 0;
    while (replays < transactions.length && (this.#atLeastOnce || mayBeApplied(transactions[replays]!.position, this.#context.overlap.end))) replays++;
    if (replays > 0) await this.#write(replays === transactions.length ? transactions : transactions.slice(0, replays), false);
    if (replays < transactions.length) await this.#write(replays === 0 ? transactions : transactions.slice(replays), true);
  }

  async #write(transactions: readonly Transaction[], checked: boolean): Promise<void> {
    const events = transactions.length === 1 ? transactions[0]!.events : transactions.flatMap((t) => t.events);
    const positionOf: PositionOf = (table, key) => lastChangeOf(transactions, table, key, this.#table(table).primaryKey);
    const actions = new ReferentialActions(this.#context.tables.values());
    if (actions.empty) return this.#writeEvents(events, checked, positionOf);
    // The source's foreign keys act on other rows right after each parent change, so later changes see their effect.
    let start = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!actions.triggers(e)) continue;
      let end = i + 1;
      // Consecutive deletes of one table (one DELETE statement, usually) act together: each acts on its own rows.
      while (e.op === 'd' && end < events.length && events[end]!.op === 'd' && tableKey(events[end]!.table) === tableKey(e.table)) end++;
      await this.#writeEvents(events.slice(start, end), checked, positionOf);
      const parent = this.#table(e.table);
      await rejected(parent, 'a referential action of a change to', () =>
        actions.apply(parent, events.slice(i, end), this.#context.writes.referencingRows(this.#conn), !checked),
      );
      start = end;
      i = end - 1;
    }
    await this.#writeEvents(start === 0 ? events : events.slice(start), checked, positionOf);
  }

  async #writeEvents(events: readonly ChangeEvent[], checked: boolean, positionOf: PositionOf): Promise<void> {
    const holds = this.#currentHolds();
    for (const write of coalesce(events, (id) => this.#table(id).primaryKey)) {
      const t = this.#table(write.table);
      const found = checked && holds[tableKey(write.table)]?.state !== 'resyncing';
      for (const [w, must] of this.#lettered(write, found)) {
        await rejected(t, 'a change to', () =>
          w.kind === 'truncate' || !this.#context.driver.savepoints ? this.#apply(t, w, must) : this.#isolate(t, w, must, positionOf),
        );
      }
    }
  }

  /**
   * `w` as parts in its order (deletes, patches, upserts and inserts), each with whether its deletes
   * and patches must find their rows: those of rows with a dead letter not replayed yet may find none
   * (a delete of one is applied as a transient's, a patch of one right after the other patches, before
   * the upserts and inserts that may take a unique value it gives up), so a later change of a
   * dead-lettered row does not stop the stream. A patch that moves such a row to another key must
   * find it: let through, it would drop the row under its new key without a letter.
   */
  #lettered(w: Write, found: boolean): [Write, boolean][] {
    const table = tableKey(w.table);
    const { letters } = this.#context;
    if (w.kind !== 'rows' || !found || !letters.any(table)) return [[w, found]];
    const pk = this.#table(w.table).primaryKey;
    const lettered = (key: Row) => letters.has(table, key);
    const mayMiss = (p: Patch) => lettered(p.match) && rowKey(pickKey({ ...p.match, ...p.set }, pk)) === rowKey(p.match);
    const deletes = w.deletes.filter(lettered);
    const patches = w.patches.filter(mayMiss);
    if (deletes.length === 0 && patches.length === 0) return [[w, found]];
    const rest: RowsWrite = {
      ...w,
      deletes: w.deletes.filter((k) => !lettered(k)),
      transients: [...w.transients, ...deletes],
      patches: w.patches.filter((p) => !mayMiss(p)),
    };
    if (patches.length === 0) return [[rest, true]];
    const none: RowsWrite = { kind: 'rows', table: w.table, deletes: [], inserts: [], upserts: [], patches: [], transients: [] };
    const parts: [RowsWrite, boolean][] = [
      [{ ...rest, upserts: [], inserts: [] }, true],
      [{ ...none, patches }, false],
      [{ ...none, upserts: w.upserts, inserts: w.inserts }, true],
    ];
    return parts.filter(([part]) => rowUnits(part).length > 0);
  }

  #apply(t: TableSchema, w: Write, checked: boolean): Promise<void> {
    const { writes } = this.#context;
    if (w.kind === 'truncate') return writes.truncate(this.#conn, t);
    if (w.kind === 'exact') return writes.applyExact(this.#conn, t, w.event);
    return writes.applyRows(this.#conn, t, w, checked);
  }

  /**
   * Applies `w` under a savepoint. When the target rejects a row of it, the write is undone and
   * tried again in halves, down to the rows it rejects alone: so each row is applied once, in the
   * order of the write, and the rejected ones are known by their keys. Each is then dead-lettered
   * (in this transaction) or named in the stop, as the table's error policy says.
   */
  async #isolate(t: TableSchema, w: Exclude<Write, { kind: 'truncate' }>, checked: boolean, positionOf: PositionOf): Promise<void> {
    const failed = await this.#attempt(t, w, checked);
    if (!failed) return;
    if (w.kind === 'exact') {
      const row = exactRow(w.event);
      return this.#refuse(
        t,
        { key: row, operation: w.event.op === 'c' || w.event.op === 'r' ? 'insert' : w.event.op === 'd' ? 'delete' : 'update', row },
        failed,
        positionOf,
      );
    }
    const settle = async (units: readonly RowUnit[], known: Failure | null): Promise<void> => {
      const failure = known ?? (await this.#attempt(t, joinUnits(w, units), checked));
      if (!failure) return;
      if (units.length === 1) return this.#refuse(t, unitRow(t, units[0]!), failure, positionOf);
      const half = Math.ceil(units.length / 2);
      await settle(units.slice(0, half), null);
      await settle(units.slice(half), null);
    };
    await settle(rowUnits(w), failed);
  }

  /**
   * `w` applied under a savepoint; a rejection undoes it and is returned, any other failure is
   * thrown. A target that ended the whole transaction on the rejection (SQL Server, on an error that
   * aborts the batch) cannot undo it: that stops, naming the row where `w` held one, unless the row
   * is known and its table's policy is quarantine-table, which rolls the batch back anyway.
   */
  async #attempt(t: TableSchema, w: Exclude<Write, { kind: 'truncate' }>, checked: boolean): Promise<Failure | null> {
    const { driver } = this.#context;
    const savepoint = driver.savepoints!;
    await driver.run(this.#conn, savepoint.save);
    try {
      await this.#apply(t, w, checked);
    } catch (err) {
      const rejection = targetRejection(err);
      if (!rejection) {
        // What the savepoint changed in the session (SQL Server's XACT_ABORT) is put back before the transaction is rolled back.
        await driver.run(this.#conn, savepoint.release).catch(() => {});
        throw err;
      }
      await driver.run(this.#conn, savepoint.rollback).catch((lost: unknown) => {
        const keys = writeKeys(t, w);
        if (keys.length === 1 && this.#policy(t) === 'quarantine-table') throw quarantined(t, keys[0]!, { err, rejection });
        throw transactionLost(keys, err, lost);
      });
      await driver.run(this.#conn, savepoint.release);
      return { err, rejection };
    }
    await driver.run(this.#conn, savepoint.release);
    return null;
  }

  /**
   * One row the target rejected: dead-lettered where the table's policy says so; under
   * quarantine-table, the error that has the stream roll back and quarantine the table; else the stop naming it.
   */
  async #refuse(t: TableSchema, row: Pick<DeadLetter, 'key' | 'operation' | 'row'>, failure: Failure, positionOf: PositionOf): Promise<void> {
    const table = tableKey(t.source);
    const policy = this.#policy(t);
    if (policy === 'quarantine-table') throw quarantined(t, row.key, failure);
    if (policy !== 'dead-letter') throw rejectedRow(row.key, failure.err);
    const { reason, code, message } = failure.rejection;
    const position = positionOf(t.source, row.key);
    await this.#context.store.writeDeadLetter(this.#conn, { table, ...row, position, reason, code, message });
    this.#newLetters.push({ table, key: row.key });
    const replay = this.#replays.find((r) => r.replayed.table === table && comparePositions(r.position, position) === 0);
    if (replay) replay.replayed.rejected++;
    const id = `${table}\u0000${reason}`;
    const counted = this.#deadLettered.get(id);
    this.#deadLettered.set(id, { table, reason, rows: (counted?.rows ?? 0) + 1 });
  }

  #policy(t: TableSchema): ErrorPolicy | undefined {
    return this.#context.errorPolicy?.(tableKey(t.source));
  }

  /** Rows this transaction dead-lettered, per table and reason (for the metrics, once committed). */
  deadLettered(): DeadLettered[] {
    return [...this.#deadLettered.values()];
  }

  /** Letters this transaction marked replayed, per table and replay watermark (for the replay and the metrics, once committed). */
  replayed(): ReplayedLetters[] {
    return this.#replays.map((r) => r.replayed);
  }

  /**
   * Commits with `checkpoint`, which keeps the overlap while the stream is short of its end, and
   * the holds as this transaction leaves them.
   */
  async commit(checkpoint: Checkpoint): Promise<void> {
    const { overlap, store, holds, letters } = this.#context;
    const committed = withHolds(carryOverlap(checkpoint, overlap.end), this.#currentHolds());
    await this.#commitWith(() => store.write(this.#conn, committed));
    if (overlap.end && !committed.overlapEnd) overlap.end = null;
    if (this.#holds) holds.current = this.#holds;
    letters.drop(this.#replayedLetters);
    letters.add(this.#newLetters);
  }

  /**
   * Before a DDL that commits the open transaction by itself (MySQL): what this transaction wrote
   * so far commits ahead of the checkpoint, so the checkpoint's overlap is extended over it. A
   * crash before this transaction's own commit then replays those changes as replays, not misses.
   * The holds commit as this transaction has them so far: a resync's truncate written before the
   * DDL must not commit without its table's hold.
   */
  async #extendOverlapOverWrites(): Promise<void> {
    const upTo = this.#writtenUpTo;
    if (!upTo || this.#atLeastOnce) return;
    const checkpoint = await this.#context.store.read();
    if (checkpoint?.phase !== 'stream' || !checkpoint.position) return;
    const end = checkpoint.overlapEnd && comparePositions(checkpoint.overlapEnd, upTo) > 0 ? checkpoint.overlapEnd : upTo;
    await this.#context.store.write(this.#conn, withHolds({ ...checkpoint, overlapEnd: end }, this.#currentHolds()));
  }

  claimPartition(topic: string, partition: number): Promise<bigint> {
    this.#atLeastOnce = true;
    return this.#context.store.lockPartition(this.#conn, topic, partition).catch((err) => {
      throw coerceError(err, 'target partition offset');
    });
  }

  commitPartition(topic: string, partition: number, next: bigint): Promise<void> {
    return this.#commitWith(() => this.#context.store.writePartition(this.#conn, topic, partition, next));
  }

  /** Writes where the stream stands (`record`) and commits: both or neither. */
  async #commitWith(record: () => Promise<void>): Promise<void> {
    try {
      await record();
      await this.#context.driver.run(this.#conn, 'COMMIT');
    } catch (err) {
      await this.rollback();
      throw coerceError(err, 'target commit');
    }
    this.#finish(false);
  }

  async rollback(): Promise<void> {
    if (this.#done) return;
    await this.#context.driver.run(this.#conn, 'ROLLBACK').catch(() => {});
    this.#finish(true);
  }

  #finish(destroy: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#context.driver.giveBack(this.#conn, destroy);
  }
}

interface Failure {
  readonly err: unknown;
  readonly rejection: Rejection;
}

/** The stop for a row the target rejected, naming its key unless the error already does. */
function rejectedRow(key: Row, err: unknown): FerryError {
  const message = (err as Error).message;
  const named = keyText(key);
  return new FerryError('fatal', message.includes(named) ? message : `the row with ${named}: ${message}`, {
    cause: err,
    ...(err instanceof FerryError && err.hint ? { hint: err.hint } : {}),
  });
}

/** The error that has the stream roll back and quarantine `t`, whose row with `key` the target rejected. */
function quarantined(t: TableSchema, key: Row, failure: Failure): RowOfQuarantineTable {
  return new RowOfQuarantineTable(tableKey(t.source), key, failure.rejection, rejectedRow(key, failure.err).message, failure.err);
}

/** A change of a table without a key: its row, every column of which is its key. */
const exactRow = (e: ChangeEvent): Row => e.after ?? e.before!;

/** The keys of the rows of `w`, in the order it applies them. */
function writeKeys(t: TableSchema, w: Exclude<Write, { kind: 'truncate' }>): Row[] {
  return w.kind === 'exact' ? [exactRow(w.event)] : rowUnits(w).map((u) => unitRow(t, u).key);
}

/**
 * The stop for a rejection the target answered by ending the whole transaction (`lost` is why the
 * savepoint could not be rolled back to): the row is named where the write held one, else the
 * write's first row and how many it held, for the rows cannot be tried apart in a transaction that is gone.
 */
function transactionLost(keys: readonly Row[], err: unknown, lost: unknown): FerryError {
  const hint = `the target ended the whole transaction on this error (${(lost as Error).message}), so no row of the write could be set aside under a savepoint: fix the target table (or exclude the table)`;
  if (keys.length === 1) return new FerryError('fatal', rejectedRow(keys[0]!, err).message, { cause: err, hint });
  return new FerryError('fatal', `one of ${keys.length} rows written together, the first with ${keyText(keys[0]!)}: ${(err as Error).message}`, {
    cause: err,
    hint,
  });
}

/**
 * The end of the last of `transactions` that changed the row with `key` of `table` (its key before
 * or after the change), or of the last one when none is found.
 */
function lastChangeOf(transactions: readonly Transaction[], table: TableId, key: Row, primaryKey: readonly string[]): Position {
  const wanted = rowKey(key);
  const id = tableKey(table);
  for (let i = transactions.length - 1; i >= 0; i--) {
    const t = transactions[i]!;
    const hit = t.events.some(
      (e) =>
        tableKey(e.table) === id &&
        (rowKey(e.key) === wanted || (e.before !== null && primaryKey.length > 0 && rowKey(pickKey(e.before, primaryKey)) === wanted)),
    );
    if (hit) return t.position;
  }
  return transactions[transactions.length - 1]!.position;
}

/**
 * Runs `work`; a failure becomes the target's rejection of `what` `t`, with the checkpoint not past it.
 * A retriable failure (a lost connection, a deadlock) is no rejection: the table needs no fixing, and
 * the stream retries.
 */
async function rejected(t: TableSchema, what: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (err instanceof RowOfQuarantineTable) throw err;
    if (resourceExhaustion(err)) throw coerceError(err, `the target, applying ${what} ${tableKey(t.target)}`);
    const error = coerceError(err);
    if (error.kind === 'retriable') {
      throw new FerryError('retriable', `applying ${what} ${tableKey(t.target)} was interrupted: ${error.message}`, {
        cause: err,
        ...(error.hint ? { hint: error.hint } : {}),
      });
    }
    throw new FerryError(error.kind, `target rejected ${what} ${tableKey(t.target)}: ${(err as Error).message}`, {
      cause: err,
      hint: `the checkpoint did not move past this change; ${(err instanceof FerryError && err.hint) || 'fix the target table (or exclude the table)'}, then restart`,
    });
  }
}
