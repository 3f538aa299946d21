import type { Transaction } from './change-event.js';
import type { Position } from './position.js';
import type { QueueProducer } from './queue.js';
import type { TableSchema } from './schema.js';

/** The change stream: the log's committed transactions, and telling the source what it may release. */
export interface ChangeStream {
  /**
   * Fills `into` with the committed transactions after `from`, in commit order, until `signal` aborts;
   * returns at once, reading in the background. The caller owns the queue (its capacity bounds memory)
   * and consumes it. A transaction larger than the source's piece size arrives in pieces (`partial`).
   * The source stops reading while `push` returns false, until `whenSpace()`; it ends the queue when
   * `signal` aborts, and fails it with any error, also one while starting, so the consumer sees it.
   * Delivery is at-least-once across reconnects; the sink's checkpoint makes it exactly-once.
   */
  stream(from: Position, tables: readonly TableSchema[], into: QueueProducer<Transaction>, signal: AbortSignal): void;
  /**
   * The target has durably applied everything up to `upTo`: the source may release it. Absent where
   * the source keeps nothing for ferry to release (a binlog keeps no per-replica state).
   */
  acknowledge?(upTo: Position): Promise<void>;
}
