import { describe, expect, it } from 'vitest';
import type { Partitioning, TableSchema } from '../../src/core/schema.js';
import { createPartitionedTableSql } from '../../src/sinks/postgres/postgres-dialect.js';
import { partitionPublishedAsItself, partitionTrees, type PartitionRow } from '../../src/sources/postgres/pg-partitions.js';
import type { PgTable } from '../../src/sources/postgres/pg-schema.js';

/** pg_partition_tree's rows for two roots, in its order (level, then name). */
const ROWS: PartitionRow[] = [
  { root: 1, oid: 1, parent: null, schema: 'public', name: 'events', bound: null, by: 'RANGE (at)' },
  { root: 5, oid: 5, parent: null, schema: 'public', name: 'accounts', bound: null, by: 'LIST (region)' },
  { root: 5, oid: 6, parent: 5, schema: 'public', name: 'accounts_eu', bound: "FOR VALUES IN ('eu', 'uk')", by: 'HASH (id)' },
  { root: 1, oid: 2, parent: 1, schema: 'public', name: 'events_2024', bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", by: null },
  { root: 1, oid: 3, parent: 1, schema: 'public', name: 'events_default', bound: 'DEFAULT', by: null },
  { root: 5, oid: 7, parent: 6, schema: 'public', name: 'accounts_eu_0', bound: 'FOR VALUES WITH (modulus 2, remainder 0)', by: null },
  { root: 5, oid: 8, parent: 6, schema: 'public', name: 'accounts_eu_1', bound: 'FOR VALUES WITH (modulus 2, remainder 1)', by: null },
];

const ACCOUNTS: Partitioning = {
  by: 'LIST (region)',
  partitions: [
    {
      name: 'accounts_eu',
      bound: "FOR VALUES IN ('eu', 'uk')",
      partitioning: {
        by: 'HASH (id)',
        partitions: [
          { name: 'accounts_eu_0', bound: 'FOR VALUES WITH (modulus 2, remainder 0)' },
          { name: 'accounts_eu_1', bound: 'FOR VALUES WITH (modulus 2, remainder 1)' },
        ],
      },
    },
  ],
};

describe('partitionTrees', () => {
  it("builds each root's layout, sub-partitions under their parent, and lists every partition", () => {
    const trees = partitionTrees(ROWS);
    expect(trees.get(1)).toEqual({
      partitioning: {
        by: 'RANGE (at)',
        partitions: [
          { name: 'events_2024', bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" },
          { name: 'events_default', bound: 'DEFAULT' },
        ],
      },
      members: ['public.events_2024', 'public.events_default'],
    });
    expect(trees.get(5)).toEqual({ partitioning: ACCOUNTS, members: ['public.accounts_eu', 'public.accounts_eu_0', 'public.accounts_eu_1'] });
  });

  it('gives a partitioned table without partitions an empty layout', () => {
    expect(partitionTrees([ROWS[0]!]).get(1)).toEqual({ partitioning: { by: 'RANGE (at)', partitions: [] }, members: [] });
  });
});

describe('createPartitionedTableSql', () => {
  const table: TableSchema = {
    engine: 'postgres',
    source: { schema: 'public', name: 'accounts' },
    target: { schema: 'copy', name: 'accounts' },
    columns: [
      { name: 'id', type: { kind: 'int', bytes: 4, unsigned: false }, sourceType: 'integer', nullable: false, autoIncrement: false, backfill: { value: null } },
      { name: 'region', type: { kind: 'string', maxLength: null }, sourceType: 'text', nullable: false, autoIncrement: false, backfill: { value: null } },
    ],
    primaryKey: ['id', 'region'],
    indexes: [],
    partitioning: ACCOUNTS,
  };

  it('creates the table with its key and PARTITION BY, then each partition in the target schema after its parent', () => {
    const [root, ...partitions] = createPartitionedTableSql(table, ACCOUNTS);
    expect(root).toMatch(/^CREATE TABLE IF NOT EXISTS "copy"\."accounts" \(.*PRIMARY KEY \("id", "region"\)\n\) PARTITION BY LIST \(region\)$/s);
    expect(partitions).toEqual([
      `CREATE TABLE IF NOT EXISTS "copy"."accounts_eu" PARTITION OF "copy"."accounts" FOR VALUES IN ('eu', 'uk') PARTITION BY HASH (id)`,
      'CREATE TABLE IF NOT EXISTS "copy"."accounts_eu_0" PARTITION OF "copy"."accounts_eu" FOR VALUES WITH (modulus 2, remainder 0)',
      'CREATE TABLE IF NOT EXISTS "copy"."accounts_eu_1" PARTITION OF "copy"."accounts_eu" FOR VALUES WITH (modulus 2, remainder 1)',
    ]);
  });
});

describe('partitionPublishedAsItself', () => {
  const root = { schema: { source: { schema: 'public', name: 'events' } }, partitions: ['public.events_2024'] } as unknown as PgTable;

  it('stops on a partition of a replicated root, naming the publication fix', () => {
    const err = partitionPublishedAsItself([root], { schema: 'public', name: 'events_2024' }, 'ferry_pub');
    expect(err?.kind).toBe('fatal');
    expect(err?.message).toMatch(/public\.events_2024, a partition of public\.events/);
    expect(err?.hint).toMatch(/ALTER PUBLICATION ferry_pub SET \(publish_via_partition_root = true\)/);
  });

  it('lets any other table pass', () => {
    expect(partitionPublishedAsItself([root], { schema: 'public', name: 'other' }, 'ferry_pub')).toBeNull();
  });
});
