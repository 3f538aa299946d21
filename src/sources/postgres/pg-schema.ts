import type pg from 'pg';
import type { TableId } from '../../core/change-event.js';
import type { Backfill, CheckConstraint, Column, ForeignKey, Index, ReferentialAction, TableSchema } from '../../core/schema.js';
import { FERRY_SCHEMA, targetTableId } from '../../core/table-mapping.js';
import { parseArrayLiteral } from '../../core/pg-array-literal.js';
import { pgCheck } from './pg-checks.js';
import { columnDefault } from '../../engines/postgres/defaults.js';
import { describePartitions } from './pg-partitions.js';
import { columnType, fromPgText } from '../../engines/postgres/types.js';

export interface PgDescribeOptions {
  readonly filter: (t: TableId) => boolean;
  readonly targetSchema: string | undefined;
}

/** A described table plus what only the Postgres source needs: its OID, replica identity, column type OIDs. */
export interface PgTable {
  readonly schema: TableSchema;
  readonly oid: number;
  /** pg_class.relreplident: d default (primary key), f full, i index, n nothing */
  readonly replicaIdentity: string;
  /** The columns that identify a changed row in the WAL: the primary key, the replica identity index, all (FULL) or none. */
  readonly identityColumns: readonly string[];
  /** The user owns the table (may add it to a publication). */
  readonly owned: boolean;
  /** Column name → type OID and typmod, as the stream's Relation messages report them. */
  readonly types: ReadonlyMap<string, { readonly oid: number; readonly typmod: number }>;
  /** A partitioned table's partitions (`schema.name`, at any depth): their changes arrive as the table's own. */
  readonly partitions?: readonly string[];
}

const SYSTEM_SCHEMAS = `('pg_catalog', 'information_schema', 'pg_toast', '${FERRY_SCHEMA}')`;

/**
 * The selected ordinary and partitioned tables with their columns, primary key, plain secondary
 * indexes and replica identity. A partition is not a table of its own: it is replicated through its
 * root (pg-partitions.ts), which the patterns select.
 */
export async function describePgTables(client: pg.ClientBase, options: PgDescribeOptions, only?: TableId): Promise<PgTable[]> {
  const { rows: tableRows } = await client.query(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relreplident AS ident,
            pg_has_role(c.relowner, 'USAGE') AS owned, c.relkind = 'p' AS partitioned
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p' AND n.nspname NOT IN ${SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg\\_temp%'
        ${only ? 'AND n.nspname = $1 AND c.relname = $2' : ''}
      ORDER BY 2, 3`,
    only ? [only.schema, only.name] : [],
  );
  const selected = tableRows.filter((r) => options.filter({ schema: r.schema, name: r.name }));
  if (selected.length === 0) return [];
  const oids = selected.map((r) => r.oid as number);

  // search_path '' makes format_type qualify every non-catalog type (public.mood), so the type name works in any target schema.
  await client.query("SELECT set_config('search_path', '', false)");
  const { rows: columnRows } = await client.query(
    `SELECT a.attrelid::int AS rel, a.attname AS name, a.attnotnull AS notnull, a.attidentity AS identity,
            a.atttypid::int AS oid, a.atttypmod AS typmod,
            format_type(bt.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) AS formatted,
            CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS basetypmod,
            bt.typname AS typname, bt.typtype AS typtype, eb.typname AS element, eb.typtype AS element_typtype,
            (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = coalesce(eb.oid, bt.oid)) AS labels,
            (t.typtype = 'd' AND t.typdefaultbin IS NOT NULL) AS domain_default,
            pg_get_expr(d.adbin, d.adrelid) AS "default", a.atthasmissing OR rel.relkind = 'p' AS hasmissing,
            -- A partitioned table keeps no missing values: its leaves do (all alike, or ferry cannot tell).
            CASE WHEN rel.relkind = 'p' THEN (SELECT CASE WHEN count(DISTINCT la.attmissingval::text) = 1 THEN min(la.attmissingval::text) END
                                                FROM pg_partition_tree(a.attrelid) pt JOIN pg_attribute la ON la.attrelid = pt.relid AND la.attname = a.attname
                                               WHERE pt.isleaf AND la.atthasmissing)
                 ELSE a.attmissingval::text END AS missing
       FROM pg_attribute a
       JOIN pg_class rel ON rel.oid = a.attrelid
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
       LEFT JOIN pg_type eb ON eb.oid = CASE WHEN et.typtype = 'd' THEN et.typbasetype ELSE et.oid END
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const { rows: constraintRows } = await client.query(
    `SELECT c.conrelid::int AS rel, c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid) AS def,
            rn.nspname AS ref_schema, r.relname AS ref_name, c.confupdtype AS on_update, c.confdeltype AS on_delete,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS ref_columns
       FROM pg_constraint c
       LEFT JOIN pg_class r ON r.oid = c.confrelid
       LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.conrelid = ANY($1::oid[]) AND c.contype IN ('f', 'c')
      ORDER BY c.conrelid, c.conname`,
    [oids],
  );
  const partitions = await describePartitions(
    client,
    selected.filter((r) => r.partitioned).map((r) => r.oid as number),
  );
  await client.query("SELECT set_config('search_path', '\"$user\", public', false)");
  const { rows: indexRows } = await client.query(
    `SELECT i.indrelid::int AS rel, ic.relname AS name, i.indisprimary AS primary, i.indisunique AS unique, i.indisreplident AS replident,
            array_agg(a.attname::text ORDER BY k.ord) AS columns,
            bool_and(a.attname IS NOT NULL) AND i.indexprs IS NULL AND i.indpred IS NULL AND am.amname = 'btree' AS plain
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_am am ON am.oid = ic.relam
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
      WHERE i.indrelid = ANY($1::oid[]) AND k.ord <= i.indnkeyatts
      GROUP BY i.indrelid, ic.relname, i.indisprimary, i.indisunique, i.indisreplident, i.indexprs, i.indpred, am.amname`,
    [oids],
  );

  return selected.map((t) => {
    const cols = columnRows.filter((c) => c.rel === t.oid);
    const idx = indexRows.filter((i) => i.rel === t.oid);
    const columns: Column[] = cols.map((c) => {
      const type = columnType({
        name: c.typname,
        typtype: c.typtype,
        element: c.element,
        elementTyptype: c.element_typtype,
        typmod: c.basetypmod,
        labels: c.labels,
      });
      const declared = columnDefault(type, c.default);
      return {
        name: c.name,
        type,
        sourceType: c.formatted,
        nullable: !c.notnull,
        autoIncrement: c.identity !== '' || /^nextval\(/.test(c.default ?? ''),
        backfill: backfill(type, c),
        ...(declared ? { default: declared } : {}),
      };
    });
    const indexes: Index[] = idx.filter((i) => !i.primary && i.plain).map((i) => ({ name: i.name, columns: i.columns, unique: i.unique }));
    const source = { schema: t.schema, name: t.name };
    const primaryKey: string[] = idx.find((i) => i.primary)?.columns ?? [];
    const partitioned = partitions.get(t.oid);
    const identityColumns =
      { d: primaryKey, f: columns.map((c) => c.name), i: idx.find((i) => i.replident)?.columns ?? [], n: [] }[t.ident as 'd' | 'f' | 'i' | 'n'] ?? [];
    return {
      schema: {
        engine: 'postgres',
        source,
        target: targetTableId(source, options.targetSchema),
        columns,
        primaryKey,
        indexes,
        foreignKeys: constraintRows.filter((k) => k.rel === t.oid && k.type === 'f').map(foreignKey),
        checks: constraintRows.filter((k) => k.rel === t.oid && k.type === 'c').map((k) => check(k, columns)),
        ...(partitioned ? { partitioning: partitioned.partitioning } : {}),
      },
      oid: t.oid,
      replicaIdentity: t.ident,
      identityColumns,
      owned: t.owned,
      types: new Map(cols.map((c) => [c.name, { oid: c.oid, typmod: c.typmod }])),
      ...(partitioned ? { partitions: partitioned.members } : {}),
    } satisfies PgTable;
  });
}

const ACTIONS: Record<string, ReferentialAction> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };

function foreignKey(k: {
  name: string;
  columns: string[];
  ref_schema: string;
  ref_name: string;
  ref_columns: string[];
  on_update: string;
  on_delete: string;
}): ForeignKey {
  return {
    name: k.name,
    columns: k.columns,
    references: { schema: k.ref_schema, name: k.ref_name },
    referencedColumns: k.ref_columns,
    onDelete: ACTIONS[k.on_delete] ?? 'no action',
    onUpdate: ACTIONS[k.on_update] ?? 'no action',
  };
}

/** `CHECK ((price > (0)::numeric)) NOT VALID` → `(price > (0)::numeric)`. */
function check(k: { name: string; def: string }, columns: readonly Column[]): CheckConstraint {
  const m = /^CHECK \((.*)\)( NOT VALID)?$/s.exec(k.def);
  return pgCheck(k.name, m ? m[1]! : k.def, columns);
}

/**
 * What rows already in the table hold for this column, were it just added: Postgres keeps a constant
 * default as the "missing value" of the old rows; a column with a default and no missing value was
 * filled by a table rewrite with values ferry cannot see.
 */
function backfill(
  type: Column['type'],
  c: { hasmissing: boolean; missing: string | null; default: string | null; identity: string; domain_default: boolean },
): Backfill {
  if (c.hasmissing && c.missing !== null) {
    const [value] = parseArrayLiteral(c.missing);
    return { value: fromPgText(type, typeof value === 'string' ? value : null) };
  }
  // Without a missing value, any default (the column's, its domain's, an identity's sequence) means
  // the ADD COLUMN rewrote the table with values ferry cannot see. A default set only after the ADD
  // is indistinguishable here, so it stops the pipeline too: never a silent NULL.
  if (c.default !== null) return { expression: `DEFAULT ${c.default}` };
  if (c.identity !== '') return { expression: 'an identity column' };
  if (c.domain_default) return { expression: "its domain's default" };
  return { value: null };
}
