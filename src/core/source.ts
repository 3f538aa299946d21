import type { Row, Transaction } from './change-event.js';
import type { Position } from './position.js';
import type { TableSchema } from './schema.js';

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
  /** Rows in primary-key order after `afterKey`, at most `limit` of them. */
  readChunk(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]>;
  close(): Promise<void>;
}

export interface Source {
  /** Preflight: connectivity, grants, log settings, keys. Empty when all is well. */
  check(): Promise<CheckProblem[]>;
  /** The selected tables, as the source describes them now. */
  describeTables(): Promise<TableSchema[]>;
  estimateRows(table: TableSchema): Promise<number>;
  countRows(table: TableSchema): Promise<number>;
  /** Opens a consistent view of the source for snapshot reading (DESIGN §3.5). */
  openReader(): Promise<TableReader>;
  /** The log's current end: where a cdc-only stream starts. */
  headPosition(): Promise<Position>;
  /**
   * Committed transactions after `from`, in commit order, until `signal` aborts.
   * Delivery is at-least-once across reconnects; the sink's checkpoint makes it exactly-once.
   */
  stream(from: Position, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<Transaction>;
  /** The target has durably applied everything up to `upTo`: the source may release it. */
  acknowledge(upTo: Position): Promise<void>;
  close(): Promise<void>;
}
