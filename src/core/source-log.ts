import type { Position } from './position.js';
import type { TableSchema } from './schema.js';

/**
 * The source log looked at, never consumed: where it ends, what the source keeps of it, and what it
 * holds after a position. Status, the heartbeat's lag and the cutover's last checks read it while the
 * stream (ChangeStream) consumes the same log elsewhere.
 */
export interface SourceLog {
  /** The log's current end, for status and lag. No side effects. */
  headPosition(): Promise<Position>;
  /** Log the source keeps for this pipeline (Postgres: WAL the slot retains); absent where it keeps none (a binlog). */
  retainedBytes?(): Promise<number | null>;
  /**
   * Changes to `tables` in the source log after `from`, as far as it goes now, read without
   * consuming anything: the cutover's check, once the stream has stopped, that nothing replicated
   * was written after the position it stopped at.
   */
  changesAfter(from: Position, tables: readonly TableSchema[]): Promise<number>;
}
