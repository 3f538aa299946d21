import type { TableSchema } from '../core/schema.js';
import type { NextKeyValues } from '../core/source-catalogue.js';

/** What one engine adds to target tables after their rows: keys, indexes, sequences and constraints (Sink's contracts). */
export interface SchemaFinish<C> {
  /** The snapshot's keys, indexes and sequences; `streaming` records the switch to streaming in the last transaction, on its connection. */
  finishSnapshot(tables: readonly TableSchema[], streaming: (c: C) => Promise<void>): Promise<void>;
  createIndexes(tables: readonly TableSchema[]): Promise<void>;
  advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void>;
  finalizeSchema(tables: readonly TableSchema[]): Promise<void>;
}
