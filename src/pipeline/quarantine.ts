import type { FerryEventBus } from '../core/events.js';
import type { Position } from '../core/position.js';
import type { Sink } from '../core/sink.js';
import type { TableHold } from '../core/table-hold.js';
import type { RowOfQuarantineTable } from '../core/table-quarantine.js';

/**
 * Quarantines the table of a row the target rejected under the `quarantine-table` error policy. The
 * batch that held the row was rolled back; the table's hold is committed in a target transaction of
 * its own at `position`, the checkpoint that batch started from, so the stream starts again there
 * without the table (held-tables.ts) and every other table's changes are applied once. The event
 * tells the log (with the fix), the metrics and /readyz.
 */
export async function quarantineTable(sink: Sink, rejected: RowOfQuarantineTable, position: Position, events: FerryEventBus): Promise<void> {
  const { table, key, rejection } = rejected;
  const hold: TableHold = { state: 'quarantined', since: new Date().toISOString(), position, key, reason: rejection.reason, message: rejection.message };
  const tx = await sink.begin();
  try {
    await tx.write([{ events: [], position, commitTime: new Date(), hold: { table, hold } }]);
    await tx.commit({ phase: 'stream', position });
  } finally {
    await tx.rollback(); // after a failure; nothing once committed
  }
  events.emit('table-hold', { table, hold });
}
