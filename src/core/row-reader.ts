import type { Row, Value } from './change-event.js';
import type { TableSchema } from './schema.js';

/**
 * Reads of a table's latest committed rows, each one statement outside any transaction: what a
 * resync reads between two of its watermarks in the source log (pipeline/resync-stage.ts), so that
 * every row it returns is as the source held it at some instant between them.
 */
export interface RowReader {
  /** Rows in primary-key order after `afterKey`, at most `limit`, each as its values in `table.columns` order. */
  readChunk(table: TableSchema, afterKey: Row | null, limit: number): Promise<Value[][]>;
  /** The rows whose primary key is one of `keys` (those the source still has), in `table.columns` order. */
  readKeys(table: TableSchema, keys: readonly Row[]): Promise<Value[][]>;
  close(): Promise<void>;
}

/** A source's reads of its present rows, on a connection of their own (the stream's and the heartbeat's stay free). */
export interface LiveRows {
  openRowReader(): Promise<RowReader>;
}
