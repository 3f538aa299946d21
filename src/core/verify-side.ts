import type { TableId } from './change-event.js';
import type { TableSchema, TargetEngine } from './schema.js';
import type { TableHolds } from './table-hold.js';

/**
 * One end of `ferry verify`: a read-only SQL session on the source or on the target, on which verify
 * runs the checksum statements it writes for the side's engine (src/verify/). Every statement sees
 * the latest committed state (no long snapshot), so a chunk re-compared later sees a live source move on.
 */
export interface VerifySide {
  readonly engine: TargetEngine;
  /** Where `table` is on this side: the source's own name, or where the sink put it (`target.schema`). */
  tableId(table: TableSchema): TableId;
  /**
   * Runs one statement (placeholders `$1…` on Postgres, `?` on MySQL; parameters are text) in a session
   * in UTC with ISO dates, and returns its rows as arrays of text in select-list order, NULL as null.
   */
  query(sql: string, params?: readonly string[]): Promise<(string | null)[][]>;
  close(): Promise<void>;
}

/** What an end (the source, or a database target) offers `ferry verify` and the cutover's verification. */
export interface Verifiable {
  /** Exact row count (count(*)): verify's `counts` mode. */
  countRows(table: TableSchema): Promise<number>;
  /** A read-only session of its own on which `ferry verify` runs its checksum statements. */
  verifySide(): Promise<VerifySide>;
  /** Rows of each source table (`schema.table`) the target rejected and ferry dead-lettered, not replayed yet; absent where a side keeps none. */
  deadLetters?(): Promise<ReadonlyMap<string, number>>;
  /** The tables held (quarantined or being resynced) in the pipeline's checkpoint; absent where a side keeps none. */
  holds?(): Promise<TableHolds>;
}
