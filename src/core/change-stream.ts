import type { Transaction } from './change-event.js';
import type { Position } from './position.js';
import type { TableSchema } from './schema.js';

/** The change stream: the log's committed transactions, and telling the source what it may release. */
export interface ChangeStream {
  /**
   * Committed transactions after `from`, in commit order, until `signal` aborts.
   * Delivery is at-least-once across reconnects; the sink's checkpoint makes it exactly-once.
   */
  stream(from: Position, tables: readonly TableSchema[], signal: AbortSignal): AsyncIterable<Transaction>;
  /**
   * The target has durably applied everything up to `upTo`: the source may release it. Absent where
   * the source keeps nothing for ferry to release (a binlog keeps no per-replica state).
   */
  acknowledge?(upTo: Position): Promise<void>;
}
