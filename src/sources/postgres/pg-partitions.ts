import type pg from 'pg';
import { tableKey, type TableId } from '../../core/change-event.js';
import type { PartitionedTable, Partitioning } from '../../core/schema.js';
import type { CheckProblem } from '../../core/check-problem.js';
import { FerryError } from '../../core/errors.js';
import type { PgTable } from './pg-schema.js';

/**
 * Partitioned tables. Logical decoding writes a partitioned table's changes as changes of its leaf
 * partitions; a publication with publish_via_partition_root turns them back into changes of the
 * root. So ferry replicates the root as one table, reads its rows through it (a SELECT on the root
 * returns every partition's), and never treats a partition as a table of its own.
 */

/** One member of a partition tree, as the catalogue lists it (a root's row has no parent). */
export interface PartitionRow {
  readonly root: number;
  readonly oid: number;
  readonly parent: number | null;
  readonly schema: string;
  readonly name: string;
  readonly bound: string | null;
  /** The PARTITION BY clause of a partitioned member, null for a leaf. */
  readonly by: string | null;
}

/** A partitioned root's layout and the names (`schema.name`) of all its partitions, at any depth. */
export interface RootPartitions {
  readonly partitioning: Partitioning;
  readonly members: readonly string[];
}

/**
 * The partition trees of the partitioned tables `roots`. Run it with an empty search_path: names in
 * partition key expressions then come schema-qualified, valid in any target schema.
 */
export async function describePartitions(client: pg.ClientBase, roots: readonly number[]): Promise<Map<number, RootPartitions>> {
  if (roots.length === 0) return new Map();
  const { rows } = await client.query<PartitionRow>(
    `SELECT r.oid::int AS root, t.relid::int AS oid, t.parentrelid::int AS parent, n.nspname AS schema, c.relname AS name,
            pg_get_expr(c.relpartbound, c.oid) AS bound, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS by
       FROM unnest($1::oid[]) r(oid)
      CROSS JOIN LATERAL pg_partition_tree(r.oid) t
       JOIN pg_class c ON c.oid = t.relid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY t.level, n.nspname, c.relname`,
    [roots],
  );
  return partitionTrees(rows);
}

/** Builds each root's tree from the catalogue's rows, parents before their partitions. */
export function partitionTrees(rows: readonly PartitionRow[]): Map<number, RootPartitions> {
  const layouts = new Map<number, { by: string; partitions: { name: string; bound: string; partitioning?: Partitioning }[] }>();
  const trees = new Map<number, { partitioning: Partitioning; members: string[] }>();
  for (const r of rows) {
    const layout = r.by === null ? undefined : { by: r.by, partitions: [] };
    if (layout) layouts.set(r.oid, layout);
    if (r.parent === null) {
      if (layout) trees.set(r.root, { partitioning: layout, members: [] });
      continue;
    }
    layouts.get(r.parent)?.partitions.push({ name: r.name, bound: r.bound ?? 'DEFAULT', ...(layout ? { partitioning: layout } : {}) });
    trees.get(r.root)?.members.push(`${r.schema}.${r.name}`);
  }
  return trees;
}

/**
 * A Relation message for a partition of a replicated root: the publication publishes the partitions
 * as tables of their own, so their changes would never reach the root's target table.
 */
export function partitionPublishedAsItself(tables: Iterable<PgTable>, relation: TableId, publication: string): FerryError | null {
  const key = tableKey(relation);
  for (const t of tables) {
    if (!t.partitions?.includes(key)) continue;
    const root = tableKey(t.schema.source);
    return new FerryError(
      'fatal',
      `changes to ${key}, a partition of ${root}, arrive as changes of the partition itself: publication ${publication} does not publish through the root (publish_via_partition_root is off), and ferry replicates ${root} as one table`,
      {
        hint: `ALTER PUBLICATION ${publication} SET (publish_via_partition_root = true); then take a new snapshot (snapshot.mode: always): the partition's changes so far were not replicated`,
      },
    );
  }
  return null;
}

const FLATTENED_HINT =
  'nothing to do, unless the application needs the partitions: create the target table partitioned yourself before the first run (snapshot.tablePrep: create keeps it)';

/** What becomes of a partitioned table on each kind of target, and what to do about it. */
const ON_TARGET: { readonly [P in PartitionedTable]: { readonly layout: string; readonly hint: string } } = {
  partitions: {
    layout: 'the Postgres target gets the same partitions',
    hint: 'partitions added or dropped at the source later are not replicated: ferry creates new ones on the target when it starts again; detach or drop old ones on the target yourself',
  },
  'one topic': { layout: 'its changes go to one topic (an applier into Postgres makes the same partitions)', hint: FLATTENED_HINT },
  'one table': { layout: "the target gets one plain table holding every partition's rows", hint: FLATTENED_HINT },
};

/**
 * `ferry check` on partitioned tables: what becomes of each selected one (a warning: the layout is
 * kept or flattened), and partitions the patterns select without their root (refused: a partition's
 * rows are replicated through its root only).
 */
export async function checkPartitions(
  client: pg.ClientBase,
  roots: readonly { readonly source: TableId; readonly partitioning?: Partitioning }[],
  filter: (t: TableId) => boolean,
  partitionedTable: PartitionedTable = 'one table',
): Promise<CheckProblem[]> {
  const target = ON_TARGET[partitionedTable];
  const problems: CheckProblem[] = [];
  for (const r of roots) {
    if (!r.partitioning) continue;
    const name = tableKey(r.source);
    const count = countPartitions(r.partitioning);
    problems.push({
      check: 'partitioned table',
      warning: true,
      message: `${name} is partitioned (${r.partitioning.by}, ${count} partition${count === 1 ? '' : 's'}): replicated as one table through its root; ${target.layout}`,
      hint: target.hint,
    });
  }
  const { rows } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name, rn.nspname AS root_schema, r.relname AS root_name
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
       JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.relispartition
      ORDER BY 1, 2`,
  );
  const stray = rows.filter((p) => filter({ schema: p.schema, name: p.name }) && !filter({ schema: p.root_schema, name: p.root_name }));
  for (const [root, partitions] of groupBy(stray, (p) => `${p.root_schema}.${p.root_name}`)) {
    const names = partitions.map((p) => `${p.schema}.${p.name}`);
    problems.push({
      check: 'partitioned table',
      message: `tables.include selects ${names.join(', ')}, partition${names.length === 1 ? '' : 's'} of ${root}, which is not selected: ferry replicates a partitioned table whole, through its root, and a partition never as a table of its own`,
      hint: `include ${root} (its partitions come with it), or exclude the partitions too (tables.exclude: [${names.map((n) => `"${n}"`).join(', ')}])`,
    });
  }
  return problems;
}

function countPartitions(p: Partitioning): number {
  return p.partitions.reduce((n, part) => n + 1 + (part.partitioning ? countPartitions(part.partitioning) : 0), 0);
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}
