import type { Row, TableId, Transaction, Value } from './change-event.js';
import type { Checkpoint, SnapshotProgress } from './checkpoint.js';
import type { Position } from './position.js';
import type { Column, ForeignKey, TableSchema } from './schema.js';
import type { ChunkText } from './snapshot-reader.js';
import type { NextKeyValues } from './source-catalogue.js';
import type { TargetReader } from './target-reader.js';
import type { RejectionReason } from './target-rejection.js';
import type { LetterKey, StoredDeadLetter } from './dead-letter.js';

export type TablePrep = 'create' | 'drop-and-create' | 'truncate' | 'none';

/** One open target transaction. Nothing is visible, and no checkpoint moves, before commit. */
export interface SinkTransaction {
  /**
   * Applies the changes of these source transactions, in order; may be called many times (pieces of
   * one large source transaction). A sink that records where each change came from reads it there.
   */
  write(transactions: readonly Transaction[]): Promise<void>;
  /** Adds columns to the target table of source table `table`, inside this transaction where the target allows. */
  addColumns(table: TableId, columns: readonly Column[]): Promise<void>;
  /** Source table `table` now has these foreign keys: changes after this one act through them (referential actions). */
  setForeignKeys(table: TableId, foreignKeys: readonly ForeignKey[]): Promise<void>;
  /** Commits the data together with the checkpoint: both or neither. */
  commit(checkpoint: Checkpoint): Promise<void>;
  rollback(): Promise<void>;
  /** Rows the target rejected and this transaction dead-lettered (the `dead-letter` error policy), per table and reason. */
  deadLettered?(): DeadLettered[];
  /** Letters this transaction marked replayed (Transaction.replayed), per table, with the rows of them the target rejected again. */
  replayed?(): ReplayedLetters[];
}

/** Dead letters of a source table (`schema.table`) a committed transaction marked replayed, at the replay's watermark `marker`. */
export interface ReplayedLetters {
  readonly marker: string | undefined;
  readonly table: string;
  readonly letters: number;
  /** Rows the replay injected that the target rejected again: dead-lettered anew under the table's policy. */
  readonly rejected: number;
}

/** Rows of a source table (`schema.table`) dead-lettered for one reason. */
export interface DeadLettered {
  readonly table: string;
  readonly reason: RejectionReason;
  readonly rows: number;
}

/** Loading a snapshot: chunks of rows, each committed with its progress, then the switch to streaming. */
export interface SnapshotLoad {
  loadSnapshotProgress(): Promise<SnapshotProgress[]>;
  /** Starts a fresh snapshot: forgets any earlier progress and records the phase. */
  beginSnapshot(): Promise<void>;
  /** Loads one chunk of snapshot rows (values in `table.columns` order) and its progress record in one target transaction. */
  loadChunk(table: TableSchema, rows: readonly (readonly Value[])[], progress: SnapshotProgress): Promise<void>;
  /** Whether this sink loads `table`'s chunks straight from the source's bulk text (the same engine and types at both ends). */
  loadsSourceText?(table: TableSchema): boolean;
  /** Loads one chunk of source bulk text, then its progress (known once the text has ended), in one target transaction. */
  loadChunkText?(table: TableSchema, chunk: ChunkText, progress: (read: { rows: number; lastKey: Row | null }) => SnapshotProgress): Promise<void>;
  /** Primary keys and secondary indexes, sequences past the max key, and then the switch to streaming (recording `tables`). */
  finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void>;
}

/** The cutover's last steps on the target; a target without sequences or constraints (Kafka) lacks the optional ones. */
export interface CutoverFinish {
  /**
   * Cutover: every sequence or identity (AUTO_INCREMENT) of the target tables moves past the largest
   * value in its column, and at least to what the source would hand out next; never back.
   */
  advanceSequences?(tables: readonly TableSchema[], next: NextKeyValues): Promise<void>;
  /**
   * Cutover, drained and before the stream stops: what the snapshot and the stream deferred becomes
   * the source's schema in the target (DESIGN §3 rule 9): NOT NULL, unique indexes, foreign keys (to
   * replicated tables) and CHECK constraints, and defaults a table lacks. Tables the target does not
   * have are passed over. Target rows that break a constraint fail it, named, with nothing of it
   * left half-made where the engine allows (a Postgres transaction; MySQL looks for them before any
   * DDL). Idempotent: what an earlier attempt created is left as it is.
   */
  finalizeSchema?(tables: readonly TableSchema[]): Promise<void>;
  /**
   * Cutover, once the stream has stopped at `final`: records that the pipeline is cut over for good
   * (phase 'cut-over', `final`, now), claiming the pipeline first, so that only its owner writes it.
   * Nothing is written to the target for this pipeline afterwards.
   */
  recordCutover(final: Position): Promise<void>;
}

export interface Sink extends SnapshotLoad, CutoverFinish {
  /** Claims the pipeline for this process (one applier per pipeline); called again after reconnects. */
  claim?(): Promise<void>;
  /**
   * Creates, empties or checks the target tables as `prep` says; no secondary indexes yet. For a
   * `snapshot`, a sink may create tables without their primary key too (a bulk load into a table
   * without indexes is faster) and accept such tables; finishSnapshot adds the keys.
   */
  prepare(tables: readonly TableSchema[], prep: TablePrep, purpose?: 'snapshot' | 'stream'): Promise<void>;
  loadCheckpoint(): Promise<Checkpoint | null>;
  begin(): Promise<SinkTransaction>;
  /** Reading the target back (verify, counts); absent where the target is a stream of messages. */
  readonly reader?: TargetReader;
  /** The last `limit` rows the target rejected and ferry dead-lettered, oldest first; absent where nothing is dead-lettered (Kafka). */
  readDeadLetters?(limit: number): Promise<StoredDeadLetter[]>;
  /** The dead letters not replayed yet, in id order: what POST /dead-letters/replay reads again. */
  unreplayedLetters?(): Promise<LetterKey[]>;
  close(): Promise<void>;
}

/**
 * A target transaction of the Kafka path (DESIGN §3.2 there): it carries a topic-partition's next
 * offset instead of a source checkpoint, so the data and the offset commit together.
 */
export interface PartitionTransaction extends SinkTransaction {
  /** Locks the partition's offset until this transaction ends and returns its next offset to apply (0 when new). */
  claimPartition(topic: string, partition: number): Promise<bigint>;
  /** Commits the data together with `next`, the partition's next offset to apply. */
  commitPartition(topic: string, partition: number, next: bigint): Promise<void>;
}

/**
 * A database target: every capability of the port is there (claimed by one process, read back, and
 * the cutover's sequences and constraints); the Kafka path's appliers write through it.
 */
export interface DatabaseSink extends Sink {
  claim(): Promise<void>;
  begin(): Promise<PartitionTransaction>;
  readonly reader: TargetReader;
  advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void>;
  finalizeSchema(tables: readonly TableSchema[]): Promise<void>;
  /** The secondary indexes of `tables`, those missing (an applier has no snapshot end to build them at). */
  createIndexes(tables: readonly TableSchema[]): Promise<void>;
}
