import type { ChangeEvent, Row, TableId } from './change-event.js';
import type { Checkpoint, SnapshotProgress } from './checkpoint.js';
import type { Column, TableSchema } from './schema.js';
import type { NextKeyValues } from './source.js';
import type { VerifySide } from './verify-side.js';

export type TablePrep = 'create' | 'drop-and-create' | 'truncate' | 'none';

/** One open target transaction. Nothing is visible, and no checkpoint moves, before commit. */
export interface SinkTransaction {
  /** Applies events in order; may be called many times (pieces of one large source transaction). */
  write(events: readonly ChangeEvent[]): Promise<void>;
  /** Adds columns to the target table of source table `table`, inside this transaction where the target allows. */
  addColumns(table: TableId, columns: readonly Column[]): Promise<void>;
  /** Commits the data together with the checkpoint: both or neither. */
  commit(checkpoint: Checkpoint): Promise<void>;
  rollback(): Promise<void>;
}

export interface Sink {
  /** Claims the pipeline for this process (one applier per pipeline); called again after reconnects. */
  claim?(): Promise<void>;
  /** Creates, empties or checks the target tables as `prep` says; primary keys only, no secondary indexes yet. */
  prepare(tables: readonly TableSchema[], prep: TablePrep): Promise<void>;
  loadCheckpoint(): Promise<Checkpoint | null>;
  loadSnapshotProgress(): Promise<SnapshotProgress[]>;
  /** Starts a fresh snapshot: forgets any earlier progress and records the phase. */
  beginSnapshot(): Promise<void>;
  /** Loads one chunk of snapshot rows and its progress record in one target transaction. */
  loadChunk(table: TableSchema, rows: readonly Row[], progress: SnapshotProgress): Promise<void>;
  /** Secondary indexes, sequences past the max key, and the switch to streaming (recording `tables`), atomically. */
  finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void>;
  begin(): Promise<SinkTransaction>;
  /**
   * Cutover: every sequence or identity (AUTO_INCREMENT) of the target tables moves past the largest
   * value in its column, and at least to what the source would hand out next; never back.
   */
  advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void>;
  countRows(table: TableSchema): Promise<number>;
  /** Target rows in primary-key order after `afterKey`, each value as the target's text form: whether a table is empty before a snapshot, and what the sink contract tests read back. */
  readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]>;
  /** A read-only session on which `ferry verify` runs its checksum statements (tables by their target names). */
  verifySide(): Promise<VerifySide>;
  close(): Promise<void>;
}
