import type { Row, Transaction, Value } from './change-event.js';
import type { Position } from './position.js';
import type { TableSchema } from './schema.js';
import type { VerifySide } from './verify-side.js';

/** Table key (`schema.table`) → column → the next value its sequence would give. */
export type NextKeyValues = ReadonlyMap<string, ReadonlyMap<string, bigint>>;

/** A problem found by a preflight check, with the fix. */
export interface CheckProblem {
  readonly check: string;
  readonly message: string;
  readonly hint: string;
  /** Worth knowing, but ferry can run. */
  readonly warning?: boolean;
}

/** A reader of one table's rows inside one consistent view of the source. */
export interface TableReader {
  /** Source log position at which this reader's view was taken. */
  readonly position: Position;
  /** Rows in primary-key order after `afterKey`, at most `limit` of them, each as its values in `table.columns` order. */
  readChunk(table: TableSchema, afterKey: Row | null, limit: number): Promise<Value[][]>;
  /**
   * The same rows as the source's own bulk text (Postgres COPY text), for a sink that loads it as it
   * comes (`Sink.loadsSourceText`); only for tables with a primary key.
   */
  readChunkText?(table: TableSchema, afterKey: Row | null, limit: number): ChunkText;
  close(): Promise<void>;
}

/** A chunk as the source's bulk text: `text` streams it; `read` settles, once it has ended, with what it held. */
export interface ChunkText {
  readonly text: NodeJS.ReadableStream;
  readonly read: Promise<{ rows: number; lastKey: Row | null }>;
}

export type SnapshotPurpose = 'fresh' | 'resume';

/** The source side of one snapshot: readers of one consistent state, or of states streaming can start before. */
export interface SnapshotSession {
  openReader(): Promise<TableReader>;
  close(): Promise<void>;
}

export interface Source {
  /** Preflight: connectivity, grants, log settings, keys. Empty when all is well. */
  check(): Promise<CheckProblem[]>;
  /** The selected tables, as the source describes them now. */
  describeTables(): Promise<TableSchema[]>;
  estimateRows(table: TableSchema): Promise<number>;
  countRows(table: TableSchema): Promise<number>;
  /** A read-only session of its own on which `ferry verify` runs its checksum statements (tables by their source names). */
  verifySide(): Promise<VerifySide>;
  /**
   * Starts snapshot reading (DESIGN §3.5). 'fresh' starts over (a Postgres source recreates its slot
   * with an exported snapshot), 'resume' continues an interrupted snapshot from the source's replication
   * state.
   */
  openSnapshot(purpose: SnapshotPurpose): Promise<SnapshotSession>;
  /** The log's current end, for status and lag. No side effects. */
  headPosition(): Promise<Position>;
  /** Prepares a change stream that starts now (cdc-only, or a snapshot of no tables) and returns where it starts. */
  streamStartNow(): Promise<Position>;
  /** Which server (and Postgres database) this is, whatever URL reached it: tells a target on the same server. */
  serverIdentity(): Promise<string>;
  /** Log the source keeps for this pipeline (Postgres: WAL the slot retains), when it keeps any. */
  retainedBytes?(): Promise<number | null>;
  /**
   * Writes ferry's heartbeat into the source log as a transaction of its own, carrying `marker` when
   * given (the stream hands it on as Transaction.marker).
   */
  beat(marker?: string): Promise<void>;
  /** The source's clock now, in one short round trip (lag is measured on it). */
  clock(): Promise<Date>;
  /**
   * Cutover: makes the source refuse application writes (read-only), ending the sessions that would
   * write, then writes `marker` as the last transaction the stream will carry.
   */
  fence(marker: string, timeoutSeconds: number): Promise<void>;
  /** Lifts the fence again; resolves false when none was up (nothing to lift: the source was writable). */
  unfence(): Promise<boolean>;
  /** The source refuses application writes now: a fence (ferry's, or one left behind) is up. */
  fenced(): Promise<boolean>;
  /**
   * What each table's sequence or AUTO_INCREMENT column would hand out next at the source, by table
   * key and column: the target's must not hand out less (numbers the source used on rows since deleted).
   * Empty when the source will not tell (no privilege on its sequences).
   */
  nextKeyValues(tables: readonly TableSchema[]): Promise<NextKeyValues>;
  /**
   * Changes to `tables` in the source log after `from`, as far as it goes now, read without
   * consuming anything: the cutover's check, once the stream has stopped, that nothing replicated
   * was written after the position it stopped at.
   */
  changesAfter(from: Position, tables: readonly TableSchema[]): Promise<number>;
  /**
   * Committed transactions after `from`, in commit order, until `signal` aborts.
   * Delivery is at-least-once across reconnects; the sink's checkpoint makes it exactly-once.
   */
  stream(from: Position, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<Transaction>;
  /** The target has durably applied everything up to `upTo`: the source may release it. */
  acknowledge(upTo: Position): Promise<void>;
  close(): Promise<void>;
}
