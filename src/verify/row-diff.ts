import { createHash } from 'node:crypto';
import type { ColumnType } from '../core/schema.js';
import { canonical } from './canonical.js';

/** missing: the source has the row and the target not; extra: the other way round; changed: values differ. */
export type Difference = 'missing' | 'extra' | 'changed';

export interface DifferingKey {
  /** The key's text (`42`, `(7, a)` for a composite key), or the whole row for a table without a key. */
  readonly key: string;
  readonly difference: Difference;
}

/** How each column's value is compared in Node: as SQL's field text, or as its raw text through canonical(). */
export interface NodeColumn {
  readonly type: ColumnType;
  readonly raw: boolean;
}

/** One row of a chunk, encoded once for matching and hashing: its key texts and its comparable values, as JSON. */
export interface EncodedRow {
  readonly key: string;
  readonly values: string;
}

/**
 * Encodes a row as rowsSql reads it (one text per key column, then one value per column): raw
 * columns go through canonical(), field columns stay as SQL wrote them.
 */
export function encodeRow(row: readonly (string | null)[], keyColumns: readonly NodeColumn[], columns: readonly NodeColumn[]): EncodedRow {
  const comparable = (c: NodeColumn, v: string | null | undefined) => (c.raw ? canonical(c.type, v ?? null) : (v ?? null));
  const keyCount = keyColumns.length;
  const values = columns.map((c, i) => comparable(c, row[keyCount + i]));
  return { key: keyCount > 0 ? JSON.stringify(keyColumns.map((c, i) => comparable(c, row[i]))) : '', values: JSON.stringify(values) };
}

function display(json: string): string {
  const values = JSON.parse(json) as (string | null)[];
  return values.length === 1 ? String(values[0]) : `(${values.map((v) => (v === null ? 'NULL' : v)).join(', ')})`;
}

/**
 * The differences between a chunk's rows on the two sides. Keyed rows are matched by key; rows of a
 * table without a key (empty keys) are compared as multisets, so a duplicate counts.
 */
export function diffRows(source: readonly EncodedRow[], target: readonly EncodedRow[]): DifferingKey[] {
  if (source.concat(target).every((r) => r.key === '')) return diffMultisets(source, target);
  const targetRows = new Map(target.map((r) => [r.key, r.values]));
  const out: DifferingKey[] = [];
  for (const r of source) {
    const values = targetRows.get(r.key);
    if (values === undefined) out.push({ key: display(r.key), difference: 'missing' });
    else if (values !== r.values) out.push({ key: display(r.key), difference: 'changed' });
    targetRows.delete(r.key);
  }
  for (const key of targetRows.keys()) out.push({ key: display(key), difference: 'extra' });
  return out;
}

function diffMultisets(source: readonly EncodedRow[], target: readonly EncodedRow[]): DifferingKey[] {
  const balance = new Map<string, number>();
  for (const r of source) balance.set(r.values, (balance.get(r.values) ?? 0) + 1);
  for (const r of target) balance.set(r.values, (balance.get(r.values) ?? 0) - 1);
  const out: DifferingKey[] = [];
  for (const [values, n] of balance) {
    for (let i = 0; i < Math.abs(n); i++) out.push({ key: display(values), difference: n > 0 ? 'missing' : 'extra' });
  }
  return out;
}

/**
 * A fingerprint of a chunk's rows, equal on both sides when their rows are: keyed rows arrive in the
 * chunk's key order on both sides; rows without a key are sorted first. The first 64 bits of a sha1.
 */
export function chunkDigest(rows: readonly EncodedRow[]): bigint {
  const texts = rows.map((r) => r.values);
  if (rows.every((r) => r.key === '')) texts.sort();
  const h = createHash('sha1');
  for (const t of texts) h.update(`${t}\n`);
  return h.digest().readBigUInt64BE(0);
}
