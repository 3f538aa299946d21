import type { Row } from './change-event.js';
import { FerryError } from './errors.js';
import type { TableSchema } from './schema.js';
import type { Sink } from './sink.js';
import type { Verifiable } from './verify-side.js';

/**
 * Reading a target back (Sink.reader): what `ferry verify` compares, and whether a table is empty
 * before a snapshot. A database target has it; a stream (Kafka) has no rows to read.
 */
export interface TargetReader extends Verifiable {
  /** Target rows in primary-key order after `afterKey`, each value as the target's text form (what the sink contract tests read back). */
  readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]>;
}

/** The sink's reader, or the operator's error for a target that cannot be read back (verify, counts). */
export function readerOf(sink: Sink): TargetReader {
  if (sink.reader) return sink.reader;
  throw new FerryError('config', 'a kafka target cannot be read back (verify, counts)', {
    hint: 'verify against the database the applying processes write: a config with this source and that target',
  });
}
