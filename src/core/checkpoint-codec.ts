import type { Row } from './change-event.js';
import type { Checkpoint } from './checkpoint.js';
import { positionFromJson } from './position.js';

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

/** A checkpoint row whose position, tables and overlap end are JSON text (MySQL, SQL Server); `cutOverAt` is its update time. */
export function checkpointFromText(
  row: { phase: Checkpoint['phase']; position: string | null; tables: string | null; overlap_end: string | null },
  cutOverAt: () => Date,
): Checkpoint {
  return {
    phase: row.phase,
    position: row.position ? positionFromJson(JSON.parse(row.position)) : null,
    ...(row.tables ? { tables: JSON.parse(row.tables) as string[] } : {}),
    ...(row.overlap_end ? { overlapEnd: positionFromJson(JSON.parse(row.overlap_end)) } : {}),
    // A cut-over row is never written again: its update time is when the cutover completed.
    ...(row.phase === 'cut-over' ? { cutOverAt: cutOverAt() } : {}),
  };
}
