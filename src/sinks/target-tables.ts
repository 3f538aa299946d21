import type { TableSchema } from '../core/schema.js';

/** How one engine creates, checks and empties target tables, on a connection `C` in the sink's transaction. */
export interface TargetTables<C> {
  createSchemaSql(schema: string): string;
  /** Serializes catalog changes with other ferry processes on the target, in `c`'s transaction (when the engine needs it). */
  lockDdl(c: C): Promise<void>;
  exists(c: C, t: TableSchema): Promise<boolean>;
  /** Creates the table if missing (dropping it first with `replace`), and what its columns need; without its primary key when `keyLater` and the engine gains by it. */
  create(c: C, t: TableSchema, replace: boolean, keyLater: boolean): Promise<void>;
  truncateSql(t: TableSchema): string;
  /** The target table's columns against the source's: missing ones added when `addMissing`, any other drift refused (a missing primary key too, unless `keyLater`). */
  reconcileColumns(c: C, t: TableSchema, addMissing: boolean, keyLater: boolean): Promise<void>;
}
