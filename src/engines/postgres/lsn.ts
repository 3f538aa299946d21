import { FerryError } from '../../core/errors.js';

/**
 * Postgres LSNs as bigints. The server and pg-logical-replication print them as `hi/lo` hex, padded
 * or not (`0/1537118`, `00000000/01537198`), so they are parsed, never compared as strings.
 */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new FerryError('fatal', `not a Postgres LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}
