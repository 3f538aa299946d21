import type { Row } from './change-event.js';
import { encodeKey } from './checkpoint-codec.js';
import { FerryError } from './errors.js';
import { formatPosition } from './position.js';
import type { TableHold, TableHolds } from './table-hold.js';
import type { Rejection } from './target-rejection.js';

/**
 * The target rejected a row of a table whose error policy is `quarantine-table`: the target
 * transaction is rolled back, and the stream quarantines the table and starts again from the
 * checkpoint (pipeline/quarantine.ts). Fatal where nothing quarantines (it then stops as `stop` would).
 */
export class RowOfQuarantineTable extends FerryError {
  constructor(
    /** The source table, `schema.table`. */
    readonly table: string,
    readonly key: Row,
    readonly rejection: Rejection,
    message: string,
    cause: unknown,
  ) {
    super('fatal', message, { cause, hint: resyncHint(table) });
  }
}

/**
 * The admin API route resyncing `table`, in both forms: where the text is made, whether the process
 * runs one pipeline or several is not known.
 */
export function resyncRoute(table: string): string {
  return `POST /tables/${table}/resync (POST /pipelines/{name}/tables/${table}/resync in a process of several pipelines)`;
}

/** What the operator does about a quarantined table. */
export function resyncHint(table: string): string {
  return `fix the target (what made it reject the row), then ${resyncRoute(table)} to copy the table again while the others stream`;
}

/** The tables held as quarantined, in name order. */
export function quarantinedTables(holds: TableHolds | undefined): string[] {
  return Object.entries(holds ?? {})
    .filter(([, hold]) => hold.state === 'quarantined')
    .map(([table]) => table)
    .sort();
}

/** A hold as JSON shows it (GET /status, ferry status --json): a quarantine's position formatted and its key as JSON. */
export function holdJson(hold: TableHold): Record<string, unknown> {
  return hold.state === 'quarantined' ? { ...hold, position: formatPosition(hold.position), key: JSON.parse(encodeKey(hold.key)!) } : hold;
}

/** One table's hold in words, for the log, verify and /readyz. */
export function holdText(table: string, hold: TableHold): string {
  if (hold.state === 'resyncing') return `${table} is being resynced (since ${hold.since})`;
  return `${table} is quarantined since ${hold.since} at ${formatPosition(hold.position)}: the target rejected the row with key ${encodeKey(hold.key)} (${hold.reason}: ${hold.message})`;
}
