import { tableKey, pickKey, type Row } from '../core/change-event.js';
import type { TableSchema } from '../core/schema.js';
import type { Sink } from '../core/sink.js';
import type { Source, TableReader } from '../core/source.js';
import { canonical, RowSetChecksum } from './canonical.js';

export type VerifyMode = 'counts' | 'checksums';

export interface TableVerdict {
  readonly table: string;
  readonly source: string;
  readonly target: string;
  readonly equal: boolean;
}

const PAGE = 10_000;

async function checksum(table: TableSchema, page: (afterKey: Row | null, limit: number) => Promise<Row[]>): Promise<string> {
  const sum = new RowSetChecksum();
  // A table without a primary key cannot be paged by key: it is read in one page.
  const limit = table.primaryKey.length > 0 ? PAGE : Number.MAX_SAFE_INTEGER;
  let afterKey: Row | null = null;
  for (;;) {
    const rows = await page(afterKey, limit);
    for (const r of rows) sum.add(table.columns.map((c) => canonical(c.type, r[c.name] ?? null)));
    if (rows.length < limit) return sum.toString();
    afterKey = pickKey(rows[rows.length - 1]!, table.primaryKey);
  }
}

/**
 * Compares source and target table by table: row counts, or an order-independent checksum of every
 * row's canonical values (so differing collations and text formats do not matter, values do).
 */
export async function verifyTables(source: Source, sink: Sink, tables: readonly TableSchema[], mode: VerifyMode): Promise<TableVerdict[]> {
  const verdicts: TableVerdict[] = [];
  const session = mode === 'checksums' ? await source.openSnapshot('read') : null;
  const reader: TableReader | null = session ? await session.openReader().catch(async (err) => {
    await session.close();
    throw err;
  }) : null;
  try {
    for (const t of tables) {
      const [s, d] = reader
        ? await Promise.all([checksum(t, (k, n) => reader.readChunk(t, k, n)), checksum(t, (k, n) => sink.readRows(t, k, n))])
        : (await Promise.all([source.countRows(t), sink.countRows(t)])).map(String);
      verdicts.push({ table: tableKey(t.source), source: s!, target: d!, equal: s === d });
    }
  } finally {
    await reader?.close();
    await session?.close();
  }
  return verdicts;
}
