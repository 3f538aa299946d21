import { tableKey, type ChangeEvent, type TableId, type Transaction } from '../core/change-event.js';
import { coalesce } from '../core/coalesce.js';
import { carryOverlap, mayBeApplied, type Checkpoint } from '../core/checkpoint.js';
import type { CheckpointStore } from '../core/checkpoint-store.js';
import { coerceError, FerryError } from '../core/errors.js';
import { comparePositions, type Position } from '../core/position.js';
import { resourceExhaustion } from '../core/resource-exhaustion.js';
import type { Column, ForeignKey, TableSchema } from '../core/schema.js';
import type { PartitionTransaction } from '../core/sink.js';
import { ReferentialActions } from './referential-actions.js';
import type { RowWrites } from './row-writes.js';
import type { SqlDriver } from './sql-driver.js';

/**
 * How far the target may be ahead of the stream (Checkpoint.overlapEnd), as the sink last read or
 * wrote its checkpoint: changes up to `end` may be replays, whose deletes and column-only updates
 * may find their row gone; past it, such a miss means the target diverged from the source.
 */
export interface Overlap {
  end: Position | null;
}

/** What a transaction shares with the sink that opened it. */
export interface TransactionContext<C> {
  readonly driver: SqlDriver<C>;
  readonly writes: RowWrites<C>;
  readonly store: CheckpointStore<C>;
  /** Source table (`schema.table`) → the table as prepared in the target; columns and foreign keys added here are seen by the sink's later transactions. */
  readonly tables: Map<string, TableSchema>;
  readonly overlap: Overlap;
}

/**
 * One open target transaction: coalesced, set-based writes per table (the engine's RowWrites), and
 * the checkpoint written with the commit.
 *
 * Deletes and column-only updates by key must find their row (coalesce.ts), except where the change
 * may be a replay: up to the overlap's end, or anywhere in a Kafka partition, whose messages come at
 * least once. A miss elsewhere stops the stream, naming the table and the key, like a change of a
 * table without a key that finds no equal row.
 */
export class SqlTransaction<C> implements PartitionTransaction {
  #done = false;
  /** A Kafka partition's transaction: any change may be one applied before. */
  #atLeastOnce = false;
  /** The position of the last source transaction written so far: what a DDL that commits by itself would commit up to. */
  #writtenUpTo: Position | null = null;
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
    const actions = new ReferentialActions(this.#context.tables.values());
    if (actions.empty) return this.#writeEvents(events, checked);
    // The source's foreign keys act on other rows right after each parent change, so later changes see their effect.
    let start = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!actions.triggers(e)) continue;
      let end = i + 1;
      // Consecutive deletes of one table (one DELETE statement, usually) act together: each acts on its own rows.
      while (e.op === 'd' && end < events.length && events[end]!.op === 'd' && tableKey(events[end]!.table) === tableKey(e.table)) end++;
      await this.#writeEvents(events.slice(start, end), checked);
      const parent = this.#table(e.table);
      await rejected(parent, 'a referential action of a change to', () =>
        actions.apply(parent, events.slice(i, end), this.#context.writes.referencingRows(this.#conn)),
      );
      start = end;
      i = end - 1;
    }
    await this.#writeEvents(start === 0 ? events : events.slice(start), checked);
  }

  async #writeEvents(events: readonly ChangeEvent[], checked: boolean): Promise<void> {
    const { writes } = this.#context;
    for (const w of coalesce(events, (id) => this.#table(id).primaryKey)) {
      const t = this.#table(w.table);
      await rejected(t, 'a change to', () => {
        if (w.kind === 'truncate') return writes.truncate(this.#conn, t);
        if (w.kind === 'exact') return writes.applyExact(this.#conn, t, w.event);
        return writes.applyRows(this.#conn, t, w, checked);
      });
    }
  }

  /** Commits with `checkpoint`, which keeps the overlap while the stream is short of its end. */
  async commit(checkpoint: Checkpoint): Promise<void> {
    const { overlap, store } = this.#context;
    const committed = carryOverlap(checkpoint, overlap.end);
    await this.#commitWith(() => store.write(this.#conn, committed));
    if (overlap.end && !committed.overlapEnd) overlap.end = null;
  }

  /**
   * Before a DDL that commits the open transaction by itself (MySQL): what this transaction wrote
   * so far commits ahead of the checkpoint, so the checkpoint's overlap is extended over it. A
   * crash before this transaction's own commit then replays those changes as replays, not misses.
   */
  async #extendOverlapOverWrites(): Promise<void> {
    const upTo = this.#writtenUpTo;
    if (!upTo || this.#atLeastOnce) return;
    const checkpoint = await this.#context.store.read();
    if (checkpoint?.phase !== 'stream' || !checkpoint.position) return;
    const end = checkpoint.overlapEnd && comparePositions(checkpoint.overlapEnd, upTo) > 0 ? checkpoint.overlapEnd : upTo;
    await this.#context.store.write(this.#conn, { ...checkpoint, overlapEnd: end });
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

/**
 * Runs `work`; a failure becomes the target's rejection of `what` `t`, with the checkpoint not past it.
 * A retriable failure (a lost connection, a deadlock) is no rejection: the table needs no fixing, and
 * the stream retries.
 */
async function rejected(t: TableSchema, what: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
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
