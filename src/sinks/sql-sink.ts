import { coalesce, type Write } from '../core/coalesce.js';
import { tableKey, type ChangeEvent, type Row, type TableId, type Transaction, type Value } from '../core/change-event.js';
import { carryOverlap, cutOverCheckpoint, mayBeApplied, type Checkpoint, type SnapshotProgress } from '../core/checkpoint.js';
import { comparePositions, type Position } from '../core/position.js';
import type { Column, ForeignKey, TableSchema } from '../core/schema.js';
import type { DatabaseSink, PartitionTransaction, TablePrep } from '../core/sink.js';
import type { VerifySide } from '../core/verify-side.js';
import type { NextKeyValues } from '../core/source-catalogue.js';
import type { TargetReader } from '../core/target-reader.js';
import type { CheckpointStore, PipelineLock } from '../core/checkpoint-store.js';
import { coerceError, FerryError } from '../core/errors.js';
import { resourceExhaustion } from '../core/resource-exhaustion.js';
import { ReferentialActions, type ReferencingRows } from './referential-actions.js';

type RowsWrite = Extract<Write, { kind: 'rows' }>;

/**
 * How far the target may be ahead of the stream (Checkpoint.overlapEnd), as the sink last read or
 * wrote its checkpoint: changes up to `end` may be replays, whose deletes and column-only updates
 * may find their row gone; past it, such a miss means the target diverged from the source.
 */
export interface Overlap {
  end: Position | null;
}

/**
 * What every SQL sink does the same way, whatever the engine: the checkpoint and the snapshot
 * progress through a CheckpointStore, in the transaction of the data they describe. Subclasses
 * bring the connections (`C`), the DDL and the bulk load.
 */
export abstract class SqlSink<C> implements DatabaseSink {
  /** Source table (`schema.table`) → the table as prepared in the target. */
  protected readonly tables = new Map<string, TableSchema>();
  protected abstract readonly store: CheckpointStore<C>;
  protected abstract readonly lock: PipelineLock;
  /** Shared with every transaction this sink opens. */
  protected readonly overlap: Overlap = { end: null };

  /** Runs a statement without results on `c`. */
  protected abstract run(c: C, sql: string): Promise<void>;
  /** Returns `c` to its pool, or closes it when its state is unknown. */
  protected abstract giveBack(c: C, destroy: boolean): void;
  protected abstract createSchemaSql(schema: string): string;
  /** Serializes catalog changes with other ferry processes on the target, in `c`'s transaction (when the engine needs it). */
  protected abstract lockDdl(c: C): Promise<void>;
  protected abstract tableExists(c: C, t: TableSchema): Promise<boolean>;
  /** Creates the table if missing (dropping it first with `replace`), and what its columns need; without its primary key when `keyLater` and the engine gains by it. */
  protected abstract createTable(c: C, t: TableSchema, replace: boolean, keyLater: boolean): Promise<void>;
  protected abstract truncateSql(t: TableSchema): string;
  /** The target table's columns against the source's: missing ones added when `addMissing`, any other drift refused (a missing primary key too, unless `keyLater`). */
  protected abstract reconcileColumns(c: C, t: TableSchema, addMissing: boolean, keyLater: boolean): Promise<void>;
  /** Bulk-loads snapshot rows (values in `table.columns` order) inside the chunk's transaction. */
  protected abstract loadRows(c: C, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void>;
  protected abstract closeConnections(): Promise<void>;
  /** A connection of its own for one apply transaction. */
  protected abstract checkout(): Promise<C>;
  protected abstract openTransaction(c: C): SqlTransaction<C>;

  abstract finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void>;
  abstract createIndexes(tables: readonly TableSchema[]): Promise<void>;
  abstract advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void>;
  abstract verifySide(): Promise<VerifySide>;
  abstract countRows(table: TableSchema): Promise<number>;
  abstract readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]>;

  get reader(): TargetReader {
    return this;
  }

  claim(): Promise<void> {
    return this.lock.acquire();
  }

  /** Runs `work` in one target transaction on one connection: committed when it resolves, rolled back when it throws. */
  protected async transaction<T>(work: (c: C) => Promise<T>): Promise<T> {
    const c = await this.checkout();
    let broken = false;
    try {
      await this.run(c, 'BEGIN');
      const result = await work(c);
      await this.run(c, 'COMMIT');
      return result;
    } catch (err) {
      await this.run(c, 'ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      this.giveBack(c, broken);
    }
  }

  /** Creates, empties or checks the target tables as `prep` says (DDL that commits by itself on MySQL is idempotent). */
  async prepare(tables: readonly TableSchema[], prep: TablePrep, purpose: 'snapshot' | 'stream' = 'stream'): Promise<void> {
    const keyLater = purpose === 'snapshot';
    for (const t of tables) this.tables.set(tableKey(t.source), t);
    await this.transaction(async (c) => {
      await this.lockDdl(c);
      for (const schema of new Set(tables.map((t) => t.target.schema))) await this.run(c, this.createSchemaSql(schema));
      for (const t of tables) {
        if (prep === 'none') {
          if (!(await this.tableExists(c, t))) throw missingTableError(tableKey(t.target));
          await this.reconcileColumns(c, t, false, keyLater);
          continue;
        }
        await this.createTable(c, t, prep === 'drop-and-create', keyLater);
        await this.reconcileColumns(c, t, true, keyLater);
        if (prep === 'truncate') await this.run(c, this.truncateSql(t));
      }
    }).catch((err) => {
      throw coerceError(err, 'target table preparation');
    });
  }

  /** The checkpoint, remembering its overlap for the transactions that stream from it. */
  async loadCheckpoint(): Promise<Checkpoint | null> {
    const checkpoint = await this.store.read();
    this.overlap.end = checkpoint?.overlapEnd ?? null;
    return checkpoint;
  }

  loadSnapshotProgress(): Promise<SnapshotProgress[]> {
    return this.store.readProgress();
  }

  async beginSnapshot(): Promise<void> {
    await this.transaction(async (c) => {
      await this.store.clearProgress(c);
      await this.store.write(c, { phase: 'snapshot', position: null, tables: [] });
    });
  }

  async loadChunk(table: TableSchema, rows: readonly (readonly Value[])[], progress: SnapshotProgress): Promise<void> {
    await this.transaction(async (c) => {
      await this.store.assertOwner(c);
      if (rows.length > 0) await this.loadRows(c, table, rows);
      await this.store.writeProgress(c, progress);
    }).catch((err) => {
      throw coerceError(err, `target snapshot load of ${tableKey(table.target)}`);
    });
  }

  async begin(): Promise<SqlTransaction<C>> {
    const c = await this.checkout().catch((err) => {
      throw coerceError(err, 'target connection');
    });
    const tx = this.openTransaction(c);
    await tx.start().catch((err) => {
      throw coerceError(err, 'target BEGIN');
    });
    return tx;
  }

  /** Claims the pipeline (the stream that held it has stopped) and writes the terminal checkpoint, fenced by owner. */
  async recordCutover(final: Position): Promise<void> {
    await this.claim();
    await this.transaction(async (c) => {
      await this.store.assertOwner(c);
      await this.store.write(c, cutOverCheckpoint(await this.store.read(), final));
    }).catch((err) => {
      throw coerceError(err, 'recording the cutover in the target checkpoint');
    });
  }

  /** The switch to streaming, recording the snapshotted tables, in `c`'s transaction. */
  protected async recordStreaming(c: C, tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    const streaming = carryOverlap(checkpoint, null);
    await this.store.clearProgress(c);
    await this.store.write(c, { ...streaming, tables: tables.map((t) => tableKey(t.source)) });
    this.overlap.end = streaming.overlapEnd ?? null;
  }

  async close(): Promise<void> {
    await this.lock.release();
    await this.closeConnections();
  }
}

/**
 * One open target transaction: coalesced, set-based writes per table, and the checkpoint written
 * with the commit. Subclasses bring the statements.
 *
 * Deletes and column-only updates by key must find their row (coalesce.ts), except where the change
 * may be a replay: up to the overlap's end, or anywhere in a Kafka partition, whose messages come at
 * least once. A miss elsewhere stops the stream, naming the table and the key, like a change of a
 * table without a key that finds no equal row.
 */
export abstract class SqlTransaction<C> implements PartitionTransaction {
  #done = false;
  /** A Kafka partition's transaction: any change may be one applied before. */
  #atLeastOnce = false;
  /** The position of the last source transaction written so far: what a DDL that commits by itself would commit up to. */
  #writtenUpTo: Position | null = null;

  constructor(
    protected readonly conn: C,
    protected readonly tables: Map<string, TableSchema>,
    private readonly store: CheckpointStore<C>,
    private readonly overlap: Overlap,
  ) {}

  /** Runs a statement without results (COMMIT, ROLLBACK). */
  protected abstract execute(sql: string): Promise<void>;
  protected abstract truncate(t: TableSchema): Promise<void>;
  /**
   * Deletes, then patches, then upserts of one table (coalesce.ts). With `checked`, every delete and
   * patch must find its row, or fail with missingRow(); without, the changes may be replays.
   */
  protected abstract applyRows(t: TableSchema, w: RowsWrite, checked: boolean): Promise<void>;
  /** One change of a table without a primary key: an insert, or the delete or update of one row equal to `before` in every column. */
  protected abstract applyExact(t: TableSchema, e: ChangeEvent): Promise<void>;
  /** Returns the connection to its pool, or closes it when its state is unknown. */
  protected abstract release(destroy: boolean): void;
  /** The statements of referential actions, on this transaction's connection. */
  protected abstract referencingRows(): ReferencingRows;
  abstract addColumns(table: TableId, columns: readonly Column[]): Promise<void>;

  /** BEGIN; a connection that cannot begin is closed. */
  async start(): Promise<void> {
    try {
      await this.execute('BEGIN');
    } catch (err) {
      this.#finish(true);
      throw err;
    }
  }

  protected table(id: TableId): TableSchema {
    const t = this.tables.get(tableKey(id));
    if (!t) throw new FerryError('fatal', `no target mapping for source table ${tableKey(id)}`);
    return t;
  }

  /** The table with `columns` added, as later writes must see it. */
  protected withColumns(id: TableId, columns: readonly Column[]): TableSchema {
    const known = this.table(id);
    const updated = { ...known, columns: [...known.columns, ...columns.filter((c) => !known.columns.some((k) => k.name === c.name))] };
    this.tables.set(tableKey(id), updated);
    return updated;
  }

  async setForeignKeys(id: TableId, foreignKeys: readonly ForeignKey[]): Promise<void> {
    this.tables.set(tableKey(id), { ...this.table(id), foreignKeys });
  }

  async write(transactions: readonly Transaction[]): Promise<void> {
    if (transactions.length === 0) return;
    this.#writtenUpTo = transactions[transactions.length - 1]!.position;
    // Positions only grow: the transactions that may be replays come first.
    let replays = 0;
    while (replays < transactions.length && (this.#atLeastOnce || mayBeApplied(transactions[replays]!.position, this.overlap.end))) replays++;
    if (replays > 0) await this.#write(replays === transactions.length ? transactions : transactions.slice(0, replays), false);
    if (replays < transactions.length) await this.#write(replays === 0 ? transactions : transactions.slice(replays), true);
  }

  async #write(transactions: readonly Transaction[], checked: boolean): Promise<void> {
    const events = transactions.length === 1 ? transactions[0]!.events : transactions.flatMap((t) => t.events);
    const actions = new ReferentialActions(this.tables.values());
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
      const parent = this.table(e.table);
      await rejected(parent, 'a referential action of a change to', () => actions.apply(parent, events.slice(i, end), this.referencingRows()));
      start = end;
      i = end - 1;
    }
    await this.#writeEvents(start === 0 ? events : events.slice(start), checked);
  }

  async #writeEvents(events: readonly ChangeEvent[], checked: boolean): Promise<void> {
    for (const w of coalesce(events, (id) => this.table(id).primaryKey)) {
      const t = this.table(w.table);
      await rejected(t, 'a change to', () => {
        if (w.kind === 'truncate') return this.truncate(t);
        if (w.kind === 'exact') return this.applyExact(t, w.event);
        return this.applyRows(t, w, checked);
      });
    }
  }

  /** Commits with `checkpoint`, which keeps the overlap while the stream is short of its end. */
  async commit(checkpoint: Checkpoint): Promise<void> {
    const committed = carryOverlap(checkpoint, this.overlap.end);
    await this.#commitWith(() => this.store.write(this.conn, committed));
    if (this.overlap.end && !committed.overlapEnd) this.overlap.end = null;
  }

  /**
   * Before a DDL that commits the open transaction by itself (MySQL): what this transaction wrote
   * so far commits ahead of the checkpoint, so the checkpoint's overlap is extended over it. A
   * crash before this transaction's own commit then replays those changes as replays, not misses.
   */
  protected async extendOverlapOverWrites(): Promise<void> {
    const upTo = this.#writtenUpTo;
    if (!upTo || this.#atLeastOnce) return;
    const checkpoint = await this.store.read();
    if (checkpoint?.phase !== 'stream' || !checkpoint.position) return;
    const end = checkpoint.overlapEnd && comparePositions(checkpoint.overlapEnd, upTo) > 0 ? checkpoint.overlapEnd : upTo;
    await this.store.write(this.conn, { ...checkpoint, overlapEnd: end });
  }

  claimPartition(topic: string, partition: number): Promise<bigint> {
    this.#atLeastOnce = true;
    return this.store.lockPartition(this.conn, topic, partition).catch((err) => {
      throw coerceError(err, 'target partition offset');
    });
  }

  commitPartition(topic: string, partition: number, next: bigint): Promise<void> {
    return this.#commitWith(() => this.store.writePartition(this.conn, topic, partition, next));
  }

  /** Writes where the stream stands (`record`) and commits: both or neither. */
  async #commitWith(record: () => Promise<void>): Promise<void> {
    try {
      await record();
      await this.execute('COMMIT');
    } catch (err) {
      await this.rollback();
      throw coerceError(err, 'target commit');
    }
    this.#finish(false);
  }

  async rollback(): Promise<void> {
    if (this.#done) return;
    await this.execute('ROLLBACK').catch(() => {});
    this.#finish(true);
  }

  #finish(destroy: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.release(destroy);
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

/** A target table that tablePrep none expects but that does not exist. */
function missingTableError(target: string): FerryError {
  return new FerryError('config', `target table ${target} does not exist and snapshot.tablePrep is none`, {
    hint: 'create it yourself, or set snapshot.tablePrep: create',
  });
}
