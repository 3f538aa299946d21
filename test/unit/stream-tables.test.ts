import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { PgTable } from '../../src/sources/postgres/pg-schema.js';
import { streamTables } from '../../src/sources/postgres/stream-tables.js';

const col = (name: string, sourceType = 'integer'): Column => ({
  name,
  type: { kind: 'int', bytes: 4, unsigned: false },
  sourceType,
  nullable: true,
  autoIncrement: false,
  backfill: { value: null },
});
const schema = (columns: Column[]): TableSchema => ({
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'public', name: 'items' },
  columns,
  primaryKey: ['id'],
  indexes: [],
});
/** The catalogue's reading: type OIDs 100 + the column's position. */
const catalogued = (columns: Column[]): PgTable => ({
  schema: schema(columns),
  oid: 16384,
  replicaIdentity: 'd',
  identityColumns: ['id'],
  owned: true,
  types: new Map(columns.map((c, i) => [c.name, { oid: 100 + i, typmod: -1 }])),
});

describe('streamTables', () => {
  it("keeps the pipeline's description, without a column added since, and takes the OIDs from the catalogue", () => {
    const described = schema([col('id'), col('qty')]);
    const [t] = streamTables([described], [catalogued([col('id'), col('qty'), col('price', 'numeric(8,2)')])]);
    expect(t!.schema).toBe(described);
    expect(t!.oid).toBe(16384);
    expect([...t!.types]).toEqual([
      ['id', { oid: 100, typmod: -1 }],
      ['qty', { oid: 101, typmod: -1 }],
    ]);
  });

  it('refuses, to be retried, a table dropped, a column dropped or retyped since the description', () => {
    const described = schema([col('id'), col('qty')]);
    const refusal = (current: PgTable[]) => {
      try {
        streamTables([described], current);
      } catch (err) {
        return { kind: (err as { kind: string }).kind, message: (err as Error).message };
      }
      return null;
    };
    expect(refusal([])).toEqual({ kind: 'retriable', message: 'table public.items changed at the source while the stream was starting: it no longer exists' });
    expect(refusal([catalogued([col('id'), col('price')])])?.message).toMatch(/column qty was dropped or renamed$/);
    expect(refusal([catalogued([col('id')])])?.message).toMatch(/column qty was dropped or renamed$/);
    expect(refusal([catalogued([col('id'), col('qty', 'bigint')])])?.message).toMatch(/column qty changed its type from integer to bigint$/);
  });
});
