import type { CheckProblem } from './check-problem.js';
import type { TableSchema } from './schema.js';

/** Table key (`schema.table`) → column → the next value its sequence would give. */
export type NextKeyValues = ReadonlyMap<string, ReadonlyMap<string, bigint>>;

/**
 * What the source says about itself and its selected tables, read from its catalogue with no effect on
 * the log: preflight, the snapshot's and verify's row estimates, the cutover's sequences. Every command
 * that touches a source reads it, so it is one capability rather than one per command.
 */
export interface SourceCatalogue {
  /** Preflight: connectivity, grants, log settings, keys. Empty when all is well. */
  check(): Promise<CheckProblem[]>;
  /** The selected tables, as the source describes them now. */
  describeTables(): Promise<TableSchema[]>;
  estimateRows(table: TableSchema): Promise<number>;
  /** Which server (and Postgres database) this is, whatever URL reached it: tells a target on the same server. */
  serverIdentity(): Promise<string>;
  /**
   * What each table's sequence or AUTO_INCREMENT column would hand out next at the source, by table
   * key and column: the target's must not hand out less (numbers the source used on rows since deleted).
   * Empty when the source will not tell (no privilege on its sequences).
   */
  nextKeyValues(tables: readonly TableSchema[]): Promise<NextKeyValues>;
}
