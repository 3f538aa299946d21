import { tableKey } from '../../core/change-event.js';
import { FerryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import type { PgTable } from './pg-schema.js';

/**
 * The tables the WAL stream starts from: the pipeline's descriptions (`described`, which the target
 * was prepared with), with what only the catalogue has (relation OID, column type OIDs, replica
 * identity, partitions) taken from its reading now (`current`). The stream must know a table as
 * the target has it: a column added at the source since the pipeline described it is in `current`
 * already, and would never reach the target as an ADD COLUMN if the stream knew it from the start.
 * It is left out here, and arrives with the table's first Relation message, as any other.
 */
export function streamTables(described: readonly TableSchema[], current: readonly PgTable[]): PgTable[] {
  const now = new Map(current.map((t) => [tableKey(t.schema.source), t]));
  return described.map((schema) => {
    const name = tableKey(schema.source);
    const table = now.get(name);
    const changed = table ? changedColumns(schema, table.schema) : 'it no longer exists';
    if (changed) {
      // Retried: the next attempt describes the table again, and its checks judge the change.
      throw new FerryError('retriable', `table ${name} changed at the source while the stream was starting: ${changed}`);
    }
    return { ...table!, schema, types: new Map(schema.columns.map((c) => [c.name, table!.types.get(c.name)!])) };
  });
}

/**
 * What makes `now`'s type OIDs wrong for `described`'s columns: they must be the first of `now`'s,
 * with the same types (columns added after them are the stream's to find).
 */
function changedColumns(described: TableSchema, now: TableSchema): string | null {
  for (const [i, c] of described.columns.entries()) {
    const n = now.columns[i];
    if (n?.name !== c.name) return `column ${c.name} was dropped or renamed`;
    if (n.sourceType !== c.sourceType) return `column ${c.name} changed its type from ${c.sourceType} to ${n.sourceType}`;
  }
  return null;
}
