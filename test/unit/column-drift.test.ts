import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { columnDrift } from '../../src/sinks/column-drift.js';

const col = (name: string): Column => ({
  name,
  type: { kind: 'int', bytes: 8, unsigned: false },
  sourceType: 'bigint',
  nullable: false,
  autoIncrement: false,
  backfill: { value: null },
});
const t: TableSchema = {
  engine: 'postgres',
  source: { schema: 'app', name: 'items' },
  target: { schema: 'app', name: 'items' },
  columns: [col('id'), col('qty')],
  primaryKey: ['id'],
  indexes: [],
};
const types = new Map([
  ['id', 'bigint'],
  ['qty', 'bigint'],
]);
const drift = (key: string[], keyLater?: boolean) =>
  columnDrift(
    t,
    types,
    key,
    () => 'bigint',
    (a, b) => a === b,
    keyLater,
  );

describe('columnDrift', () => {
  it('refuses a target whose primary key differs from the source', () => {
    expect(drift(['qty']).problems).toEqual(['the primary key is (qty) in the target, but (id) at the source']);
    expect(drift([]).problems).toEqual(['the primary key is (none) in the target, but (id) at the source']);
  });

  it('accepts a table still loading its snapshot without a key, but never a different key', () => {
    expect(drift([], true).problems).toEqual([]);
    expect(drift(['qty'], true).problems).toHaveLength(1);
    expect(drift(['id'], true).problems).toEqual([]);
  });
});
