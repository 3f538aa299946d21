import type { Logger } from 'pino';
import { tableKey } from '../core/change-event.js';
import type { Position } from '../core/position.js';
import type { TableSchema } from '../core/schema.js';
import type { Sink } from '../core/sink.js';
import type { TableHolds } from '../core/table-hold.js';

/**
 * The checkpoint's `holds` of the tables a stream attempt replicates. A held table the configuration
 * no longer selects (tables.exclude) would stay quarantined for good (/readyz 503, the cutover
 * refused, its resync 404), or relaunch a resync the stream cannot serve: its hold is lifted,
 * committed at `position` in a target transaction of its own, and the log names it.
 */
export async function liftUnreplicatedHolds(
  sink: Sink,
  holds: TableHolds | undefined,
  tables: readonly TableSchema[],
  position: Position,
  log: Logger,
): Promise<TableHolds> {
  const replicated = new Set(tables.map((t) => tableKey(t.source)));
  const kept = Object.fromEntries(Object.entries(holds ?? {}).filter(([table]) => replicated.has(table)));
  const gone = Object.keys(holds ?? {}).filter((table) => !replicated.has(table));
  if (gone.length === 0) return kept;
  const tx = await sink.begin();
  try {
    await tx.write(gone.map((table) => ({ events: [], position, commitTime: new Date(), hold: { table, hold: null } })));
    await tx.commit({ phase: 'stream', position });
  } finally {
    await tx.rollback(); // after a failure; nothing once committed
  }
  log.warn({ tables: gone }, `the hold of ${gone.join(', ')} is lifted: no longer replicated (tables.include, tables.exclude)`);
  return kept;
}
