import type { Row } from './change-event.js';

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
