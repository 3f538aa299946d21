import { tableKey, type Transaction } from '../core/change-event.js';
import type { TableHolds } from '../core/table-hold.js';
import { quarantinedTables } from '../core/table-quarantine.js';

/**
 * The stream without the changes of quarantined tables: such a table's rows stay in the target as
 * they were when it was quarantined, while the other tables stream on. Its schema changes (added
 * columns, foreign keys) pass, harmless to rows left as they were: its resync copies the table as
 * the source has it then, and the target's table must have every column of those rows. Held at
 * first are the checkpoint's quarantined tables as the attempt began; a transaction that sets or
 * lifts a table's hold is ferry's own about that table (a resync's start, whose truncate of it must
 * pass) and changes what is held from itself on. Each transaction is kept, emptied or not, for its
 * position and its hold. Runs after the resync stage (which watches every change of the table it
 * copies) and before the transforms, on source table names, as holds are kept.
 */
export async function* withoutHeldTables(stream: AsyncIterable<Transaction>, holds: TableHolds | undefined): AsyncIterable<Transaction> {
  const held = new Set(quarantinedTables(holds));
  for await (const t of stream) {
    if (t.hold?.hold?.state === 'quarantined') held.add(t.hold.table);
    else if (t.hold) held.delete(t.hold.table);
    yield held.size === 0 ? t : without(t, held);
  }
}

function without(t: Transaction, held: ReadonlySet<string>): Transaction {
  return t.events.some((e) => held.has(tableKey(e.table))) ? { ...t, events: t.events.filter((e) => !held.has(tableKey(e.table))) } : t;
}
