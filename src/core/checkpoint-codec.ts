import type { Row } from './change-event.js';
import type { Checkpoint } from './checkpoint.js';
import { positionFromJson, positionToJson } from './position.js';
import type { TableHold, TableHolds } from './table-hold.js';

/**
 * JSON forms of snapshot keys for the checkpoint store. Binary key values are tagged
 * so a resumed snapshot continues after exactly the same key.
 */
export function encodeKey(key: Row | null): string | null {
  if (key === null) return null;
  return JSON.stringify(Object.fromEntries(Object.entries(key).map(([k, v]) => [k, Buffer.isBuffer(v) ? { $hex: v.toString('hex') } : v])));
}

export function decodeKey(json: unknown): Row | null {
  if (json === null || json === undefined) return null;
  const obj = (typeof json === 'string' ? JSON.parse(json) : json) as Record<string, unknown>;
  const row: Row = {};
  for (const [k, v] of Object.entries(obj)) {
    row[k] = v && typeof v === 'object' && '$hex' in v ? Buffer.from(String((v as { $hex: string }).$hex), 'hex') : (v as Row[string]);
  }
  return row;
}

/**
 * The checkpoint's holds as JSON text for its `holds` column, null when no table is held (so a
 * checkpoint written without holds lifts them all). Positions and binary key values keep their
 * exact forms (a Postgres LSN past 2^53, a bytea key).
 */
export function encodeHolds(holds: TableHolds | undefined): string | null {
  if (!holds || Object.keys(holds).length === 0) return null;
  const json = Object.fromEntries(
    Object.entries(holds).map(([table, hold]) => [
      table,
      hold.state === 'quarantined' ? { ...hold, position: positionToJson(hold.position), key: JSON.parse(encodeKey(hold.key)!) } : hold,
    ]),
  );
  return JSON.stringify(json);
}

/** The `holds` column as encodeHolds wrote it (text, or parsed already: Postgres jsonb); absent when null. */
export function decodeHolds(json: unknown): { holds?: TableHolds } {
  if (json === null || json === undefined) return {};
  const obj = (typeof json === 'string' ? JSON.parse(json) : json) as Record<string, Record<string, unknown>>;
  const holds: Record<string, TableHold> = {};
  for (const [table, hold] of Object.entries(obj)) {
    holds[table] =
      hold.state === 'quarantined' ? ({ ...hold, position: positionFromJson(hold.position), key: decodeKey(hold.key) } as TableHold) : (hold as TableHold);
  }
  return Object.keys(holds).length > 0 ? { holds } : {};
}

/** A checkpoint row whose position, tables, overlap end and holds are JSON text (MySQL, SQL Server); `cutOverAt` is its update time. */
export function checkpointFromText(
  row: { phase: Checkpoint['phase']; position: string | null; tables: string | null; overlap_end: string | null; holds: string | null },
  cutOverAt: () => Date,
): Checkpoint {
  return {
    phase: row.phase,
    position: row.position ? positionFromJson(JSON.parse(row.position)) : null,
    ...(row.tables ? { tables: JSON.parse(row.tables) as string[] } : {}),
    ...(row.overlap_end ? { overlapEnd: positionFromJson(JSON.parse(row.overlap_end)) } : {}),
    ...decodeHolds(row.holds),
    // A cut-over row is never written again: its update time is when the cutover completed.
    ...(row.phase === 'cut-over' ? { cutOverAt: cutOverAt() } : {}),
  };
}
