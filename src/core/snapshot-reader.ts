import type { Row, Value } from './change-event.js';
import type { Position, StartPosition } from './position.js';
import type { TableSchema } from './schema.js';
import type { RowFilter } from './transform-rules.js';

/** A reader of one table's rows inside one consistent view of the source. */
export interface TableReader {
  /** Source log position at which this reader's view was taken. */
  readonly position: Position;
  /**
   * Rows in primary-key order after `afterKey`, at most `limit` of them, each as its values in
   * `table.columns` order; with `where`, only rows meeting every condition (in the source's SQL, its
   * values bound as parameters; a table without a key may ignore it, as ferry filters the rows again).
   */
  readChunk(table: TableSchema, afterKey: Row | null, limit: number, where?: readonly RowFilter[]): Promise<Value[][]>;
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

/**
 * Where replication starts: a consistent copy whose readers carry the positions the stream starts
 * from, or, when nothing is copied, the log as it is now. Both prepare the source for the stream that
 * follows (a Postgres source creates its slot), which is why they are one capability.
 */
export interface SnapshotReader {
  /**
   * Starts snapshot reading (DESIGN §3.5). 'fresh' starts over (a Postgres source recreates its slot
   * with an exported snapshot), 'resume' continues an interrupted snapshot from the source's replication
   * state.
   */
  openSnapshot(purpose: SnapshotPurpose): Promise<SnapshotSession>;
  /** Prepares a change stream that starts now (cdc-only, or a snapshot of no tables) and returns where it starts. */
  streamStartNow(): Promise<Position>;
  /**
   * Prepares a change stream that starts at the operator's `start` (source.startPosition) and returns
   * it as a Position; fails naming the oldest position the source still has when it has not that one.
   */
  streamStartAt(start: StartPosition): Promise<Position>;
}
