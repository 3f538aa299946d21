import { tableKey, type Row, type Value } from '../core/change-event.js';
import { carryOverlap, cutOverCheckpoint, withHolds, type Checkpoint, type SnapshotProgress } from '../core/checkpoint.js';
import type { CheckpointStore, PipelineLock } from '../core/checkpoint-store.js';
import { coerceError, FerryError } from '../core/errors.js';
import type { Position } from '../core/position.js';
import type { TableSchema } from '../core/schema.js';
import type { DatabaseSink, TablePrep } from '../core/sink.js';
import type { ErrorPolicy } from '../core/error-policy.js';
import type { LetterKey, StoredDeadLetter } from '../core/dead-letter.js';
import type { ChunkText } from '../core/snapshot-reader.js';
import type { NextKeyValues } from '../core/source-catalogue.js';
import type { TargetReader } from '../core/target-reader.js';
import type { RowWrites } from './row-writes.js';
import type { SchemaFinish } from './schema-finish.js';
import { inTransaction, type SqlDriver, type TextLoad } from './sql-driver.js';
import { LetteredKeys } from './lettered-keys.js';
import { SqlTransaction, type TransactionContext } from './sql-transaction.js';
import type { TargetTables } from './target-tables.js';

/** What one SQL engine hands the SQL sink (src/sinks/<db>/<db>-sink.ts assembles it). */
export interface SqlTarget<C> {
  readonly driver: SqlDriver<C>;
  readonly tables: TargetTables<C>;
  readonly writes: RowWrites<C>;
  readonly finish: SchemaFinish<C>;
  readonly reader: TargetReader;
  /** ferry's checkpoint tables on this target; their rows commit in the sink's transactions. */
  readonly store: CheckpointStore<C>;
  readonly lock: PipelineLock;
  /** The error policy of each source table; `stop` for all when absent. */
  readonly errorPolicy?: (table: string) => ErrorPolicy;
}

/**
 * The sink of every SQL target, whatever the engine: the checkpoint and the snapshot progress
 * through a CheckpointStore, in the transaction of the data they describe, fenced by the pipeline's
 * owner; the engine's parts (SqlTarget) bring the connections, the statements and the DDL.
 */
export class SqlSink<C> implements DatabaseSink {
  readonly reader: TargetReader;
  /** Only where the engine loads source text (Postgres to Postgres): Sink.loadsSourceText. */
  readonly loadsSourceText?: (table: TableSchema) => boolean;
  readonly loadChunkText?: (table: TableSchema, chunk: ChunkText, progress: (read: { rows: number; lastKey: Row | null }) => SnapshotProgress) => Promise<void>;
  readonly #target: SqlTarget<C>;
  /** Shared with every transaction this sink opens. */
  readonly #context: TransactionContext<C>;

  constructor(target: SqlTarget<C>) {
    this.#target = target;
    this.reader = withPipelineRecords(target.reader, target.store);
    this.#context = {
      driver: target.driver,
      writes: target.writes,
      store: target.store,
      tables: new Map(),
      overlap: { end: null },
      holds: { current: {} },
      letters: new LetteredKeys(),
      ...(target.errorPolicy ? { errorPolicy: target.errorPolicy } : {}),
    };
    const text = target.driver.textLoad;
    if (text) {
      this.loadsSourceText = (table) => text.accepts(table);
      this.loadChunkText = (table, chunk, progress) => this.#loadText(text, table, chunk, progress);
    }
  }

  claim(): Promise<void> {
    return this.#target.lock.acquire();
  }

  #transaction<T>(work: (c: C) => Promise<T>): Promise<T> {
    return inTransaction(this.#target.driver, work);
  }

  /** Creates, empties or checks the target tables as `prep` says (DDL that commits by itself on MySQL is idempotent). */
  async prepare(tables: readonly TableSchema[], prep: TablePrep, purpose: 'snapshot' | 'stream' = 'stream'): Promise<void> {
    const keyLater = purpose === 'snapshot';
    const { driver, tables: ddl } = this.#target;
    for (const t of tables) this.#context.tables.set(tableKey(t.source), t);
    await this.#transaction(async (c) => {
      await ddl.lockDdl(c);
      for (const schema of new Set(tables.map((t) => t.target.schema))) await driver.run(c, ddl.createSchemaSql(schema));
      for (const t of tables) {
        if (prep === 'none') {
          if (!(await ddl.exists(c, t))) throw missingTableError(tableKey(t.target));
          await ddl.reconcileColumns(c, t, false, keyLater);
          continue;
        }
        await ddl.create(c, t, prep === 'drop-and-create', keyLater);
        await ddl.reconcileColumns(c, t, true, keyLater);
        if (prep === 'truncate') await driver.run(c, ddl.truncateSql(t));
      }
    }).catch((err) => {
      throw coerceError(err, 'target table preparation');
    });
  }

  /** The checkpoint, remembering its overlap, holds and dead-lettered keys for the transactions that stream from it. */
  async loadCheckpoint(): Promise<Checkpoint | null> {
    const { store } = this.#target;
    const checkpoint = await store.read();
    this.#context.overlap.end = checkpoint?.overlapEnd ?? null;
    this.#context.holds.current = checkpoint?.holds ?? {};
    this.#context.letters.load(await store.unreplayedLetters());
    return checkpoint;
  }

  loadSnapshotProgress(): Promise<SnapshotProgress[]> {
    return this.#target.store.readProgress();
  }

  /** A fresh snapshot copies every table again: no table stays held. */
  async beginSnapshot(): Promise<void> {
    const { store } = this.#target;
    await this.#transaction(async (c) => {
      await store.clearProgress(c);
      await store.write(c, { phase: 'snapshot', position: null, tables: [] });
    });
    this.#context.holds.current = {};
  }

  loadChunk(table: TableSchema, rows: readonly (readonly Value[])[], progress: SnapshotProgress): Promise<void> {
    return this.#loadChunk(table, async (c) => {
      if (rows.length > 0) await this.#target.driver.loadRows(c, table, rows);
      return progress;
    });
  }

  #loadText(
    text: TextLoad<C>,
    table: TableSchema,
    chunk: ChunkText,
    progress: (read: { rows: number; lastKey: Row | null }) => SnapshotProgress,
  ): Promise<void> {
    return this.#loadChunk(table, async (c) => {
      await text.load(c, table, chunk.text);
      return progress(await chunk.read);
    });
  }

  /** One chunk and its progress record in one transaction, by the pipeline's owner only. */
  async #loadChunk(table: TableSchema, load: (c: C) => Promise<SnapshotProgress>): Promise<void> {
    const { store } = this.#target;
    await this.#transaction(async (c) => {
      await store.assertOwner(c);
      await store.writeProgress(c, await load(c));
    }).catch((err) => {
      throw coerceError(err, `target snapshot load of ${tableKey(table.target)}`);
    });
  }

  finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    return this.#target.finish.finishSnapshot(tables, (c) => this.#recordStreaming(c, tables, checkpoint));
  }

  /** The switch to streaming, recording the snapshotted tables, in `c`'s transaction. */
  async #recordStreaming(c: C, tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    const streaming = carryOverlap(checkpoint, null);
    await this.#target.store.clearProgress(c);
    await this.#target.store.write(c, withHolds({ ...streaming, tables: tables.map((t) => tableKey(t.source)) }, this.#context.holds.current));
    this.#context.overlap.end = streaming.overlapEnd ?? null;
  }

  createIndexes(tables: readonly TableSchema[]): Promise<void> {
    return this.#target.finish.createIndexes(tables);
  }

  advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void> {
    return this.#target.finish.advanceSequences(tables, next);
  }

  finalizeSchema(tables: readonly TableSchema[]): Promise<void> {
    return this.#target.finish.finalizeSchema(tables);
  }

  async begin(): Promise<SqlTransaction<C>> {
    const c = await this.#target.driver.checkout().catch((err) => {
      throw coerceError(err, 'target connection');
    });
    const tx = new SqlTransaction(c, this.#context);
    await tx.start().catch((err) => {
      throw coerceError(err, 'target BEGIN');
    });
    return tx;
  }

  /** Claims the pipeline (the stream that held it has stopped) and writes the terminal checkpoint, fenced by owner. */
  async recordCutover(final: Position): Promise<void> {
    const { store } = this.#target;
    await this.claim();
    await this.#transaction(async (c) => {
      await store.assertOwner(c);
      await store.write(c, cutOverCheckpoint(await store.read(), final));
    }).catch((err) => {
      throw coerceError(err, 'recording the cutover in the target checkpoint');
    });
  }

  readDeadLetters(limit: number): Promise<StoredDeadLetter[]> {
    return this.#target.store.readDeadLetters(limit);
  }

  unreplayedLetters(): Promise<LetterKey[]> {
    return this.#target.store.unreplayedLetters();
  }

  async close(): Promise<void> {
    await this.#target.lock.release();
    await this.#target.driver.close();
  }
}

/** The target's reader, which also tells verify the rows dead-lettered per table and the tables held. */
function withPipelineRecords<C>(reader: TargetReader, store: CheckpointStore<C>): TargetReader {
  return {
    countRows: (t) => reader.countRows(t),
    readRows: (t, afterKey, limit) => reader.readRows(t, afterKey, limit),
    verifySide: () => reader.verifySide(),
    deadLetters: () => store.deadLetterCounts(),
    holds: async () => (await store.read())?.holds ?? {},
  };
}

/** A target table that tablePrep none expects but that does not exist. */
function missingTableError(target: string): FerryError {
  return new FerryError('config', `target table ${target} does not exist and snapshot.tablePrep is none`, {
    hint: 'create it yourself, or set snapshot.tablePrep: create',
  });
}
