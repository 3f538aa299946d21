import type pg from 'pg';
import { parseTableKey, tableKey } from '../../core/change-event.js';
import { type NotCarried, partitionNotCarried, plural, routineActions, severedForeignKey } from '../../core/not-carried.js';
import type { CatalogueColumn, CatalogueReader, CatalogueTable, PlanCatalogue } from '../../core/plan-catalogue.js';
import type { TargetEngine } from '../../core/schema.js';
import { connectSource, endClient } from '../../engines/postgres/connection.js';
import { describePgTables, type PgDescribeOptions } from './pg-schema.js';

const CASCADING = new Set(['cascade', 'set null', 'set default']);

/** Objects of extensions are the extension's: installing it on the target brings them. */
const NOT_EXTENSION_MEMBER = `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`;

/** What the Postgres objects ferry does not carry become on a target engine. */
interface OnTarget {
  /** The SQL a Postgres definition is translated to there; null: the target runs it as it is. */
  readonly translatedTo: string | null;
  /** How to add generated column `column` (of `type`, computing `expr`) to `table` after the cutover. */
  generated(table: string, column: string, type: string, expr: string): string;
  /** A column of domain `domain`, whose rules the target column does not have. */
  domain(table: string, column: string, domain: string): string;
  readonly rule: string;
  /** An expression, partial or non-btree index. */
  readonly index: string;
  /** The target keeps a partitioned table's partitioning (postgres-dialect createPartitionedTableSql). */
  readonly keepsPartitioning: boolean;
  /** A sequence no column owns. */
  sequence(name: string): string;
}

/** Each target engine's: a new engine does not compile until it says what becomes of these. */
const ON_TARGET: { readonly [E in TargetEngine]: OnTarget } = {
  postgres: {
    translatedTo: null,
    generated: (table, column, type, expr) => `ALTER TABLE ${table} ADD COLUMN ${column} ${type} GENERATED ALWAYS AS (${expr}) STORED`,
    domain: (table, column, domain) =>
      `after the cutover: create the domain on the target and ALTER TABLE ${table} ALTER COLUMN ${column} TYPE ${domain}, or add its rule as a CHECK`,
    rule: 'create it on the target at the cutover, once ferry has stopped',
    index: "create it on the target before the cutover (the definition above, with the target's schema)",
    keepsPartitioning: true,
    sequence: (name) => `create it on the target, and at the cutover set it past the source's value (SELECT setval('${name}', <last_value at the source>))`,
  },
  mysql: {
    translatedTo: 'MySQL',
    generated: (table, column) => `ALTER TABLE ${table} ADD COLUMN ${column} <type> AS (<the expression in MySQL SQL>) STORED`,
    domain: (table, column) => `after the cutover, add its rule as a CHECK constraint on ${table}.${column}`,
    rule: 'after the cutover, reproduce it with a trigger or in the application',
    index: 'create a MySQL counterpart on the target before the cutover (a functional or FULLTEXT index), or do without',
    keepsPartitioning: false,
    sequence: () =>
      "if the application draws numbers from it, give it a counterpart on the target (a table with an AUTO_INCREMENT, MariaDB's CREATE SEQUENCE) starting past the source's value",
  },
  mssql: {
    translatedTo: 'SQL Server',
    generated: (table, column) => `ALTER TABLE ${table} ADD ${column} AS (<the expression in T-SQL>) PERSISTED`,
    domain: (table, column) => `after the cutover, add its rule as a CHECK constraint on ${table}.${column}`,
    rule: 'after the cutover, reproduce it with an INSTEAD OF trigger or in the application',
    index:
      'create a SQL Server counterpart on the target before the cutover (a filtered index for a partial one, an index on a computed column for an expression), or do without',
    keepsPartitioning: false,
    sequence: (name) =>
      `if the application draws numbers from it, create it on the target (CREATE SEQUENCE ${name} START WITH <last_value at the source + 1>) at the cutover`,
  },
};

/** A read-only session on a Postgres source that reads its catalogue for the plan. */
export async function openPgCatalogue(url: string): Promise<CatalogueReader> {
  const client = await connectSource(url);
  return { read: (options, target) => readPgCatalogue(client, options, ON_TARGET[target]), close: () => endClient(client) };
}

/**
 * Reads a Postgres source's catalogue for the plan: every selected table with every column
 * (generated ones too, which logical decoding does not send), and what ferry will not carry.
 * Only catalogue reads, on a read-only session.
 */
async function readPgCatalogue(client: pg.ClientBase, options: PgDescribeOptions, target: OnTarget): Promise<PlanCatalogue> {
  await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  const {
    rows: [{ version }],
  } = await client.query("SELECT current_setting('server_version') AS version");
  const described = await describePgTables(client, options);
  const oids = described.map((t) => t.oid);
  const schemas = [...new Set(described.map((t) => t.schema.source.schema))];
  const actions = routineActions(target.translatedTo);
  const notCarried: NotCarried[] = [];

  const { rows: columnRows } = await client.query(
    `SELECT a.attrelid::int AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attgenerated AS generated,
            pg_get_expr(d.adbin, d.adrelid) AS expr, t.typtype = 'd' AS is_domain,
            (SELECT array_agg(pg_get_constraintdef(k.oid) ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid) AS domain_checks
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );

  const tables: CatalogueTable[] = described.map(({ schema, oid }) => {
    const table = tableKey(schema.source);
    const columns: CatalogueColumn[] = columnRows
      .filter((r) => r.rel === oid)
      .map((r) => {
        const column = schema.columns.find((c) => c.name === r.name);
        if (r.generated !== '') {
          notCarried.push({
            kind: 'generated column',
            name: `${table}.${r.name}`,
            table,
            detail: `generated ALWAYS AS (${r.expr}) STORED: logical decoding does not send generated columns, so the target table has no such column`,
            action: `after the cutover (ferry refuses target columns it does not replicate): ${target.generated(tableKey(schema.target), r.name, r.type, r.expr)}`,
          });
          return { name: r.name, sourceType: r.type, skipped: 'a generated column: logical decoding does not send it' };
        }
        if (r.is_domain && r.domain_checks?.length) {
          notCarried.push({
            kind: 'domain constraint',
            name: r.type,
            table,
            detail: `column ${table}.${r.name} has domain ${r.type} (${r.domain_checks.join(', ')}): the target column has the base type, without the domain's rules`,
            action: target.domain(tableKey(schema.target), r.name, r.type),
          });
        }
        return { name: r.name, sourceType: r.type, ...(column ? { column } : {}), ...(r.is_domain ? { domain: r.type } : {}) };
      });
    return { source: schema.source, target: schema.target, columns, schema, refused: false };
  });
  if (schemas.length === 0) return { version, tables, notCarried };

  const { rows: triggers } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS def
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal AND t.tgrelid = ANY($1::oid[]) ORDER BY 1, 2, 3`,
    [oids],
  );
  for (const r of triggers) {
    notCarried.push({
      kind: 'trigger',
      name: `${r.schema}.${r.table}.${r.name}`,
      table: `${r.schema}.${r.table}`,
      detail: `${r.def}: ferry copies the rows it produced, not the trigger`,
      action: `${actions.trigger} (with its function)`,
    });
  }
  const { rows: views } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1::text[]) AND ${NOT_EXTENSION_MEMBER} ORDER BY 1, 2`,
    [schemas],
  );
  for (const r of views) {
    const materialized = r.kind === 'm';
    notCarried.push({
      kind: materialized ? 'materialized view' : 'view',
      name: `${r.schema}.${r.name}`,
      detail: materialized ? 'a materialized view: neither its definition nor its rows are replicated' : 'a view: ferry replicates tables only',
      action: `${actions.view} (pg_get_viewdef('${r.schema}.${r.name}'::regclass) at the source)${materialized ? ', then REFRESH it' : ''}`,
    });
  }
  const { rows: routines } = await client.query(
    `SELECT n.nspname AS schema, c.proname AS name, pg_get_function_identity_arguments(c.oid) AS args, c.prokind AS kind
       FROM pg_proc c JOIN pg_namespace n ON n.oid = c.pronamespace
      WHERE c.prokind IN ('f', 'p') AND n.nspname = ANY($1::text[]) AND ${NOT_EXTENSION_MEMBER} ORDER BY 1, 2`,
    [schemas],
  );
  for (const r of routines) {
    const kind = r.kind === 'p' ? 'procedure' : 'function';
    notCarried.push({
      kind: 'routine',
      name: `${r.schema}.${r.name}(${r.args})`,
      detail: `a ${kind}: not replicated`,
      action: `${actions.routine} (pg_get_functiondef at the source)`,
    });
  }
  const { rows: rules } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS table, r.rulename AS name, pg_get_ruledef(r.oid) AS def
       FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE r.ev_class = ANY($1::oid[]) AND r.rulename <> '_RETURN' ORDER BY 1, 2, 3`,
    [oids],
  );
  for (const r of rules) {
    notCarried.push({
      kind: 'rule',
      name: `${r.schema}.${r.table}.${r.name}`,
      table: `${r.schema}.${r.table}`,
      detail: `a rewrite rule: ${r.def}`,
      action: target.rule,
    });
  }
  const { rows: indexes } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS table, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = ANY($1::oid[]) AND NOT i.indisprimary
        AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL OR am.amname <> 'btree') ORDER BY 1, 2, 3`,
    [oids],
  );
  for (const r of indexes) {
    notCarried.push({
      kind: 'index',
      name: `${r.schema}.${r.name}`,
      table: `${r.schema}.${r.table}`,
      detail: `${r.def}: an expression, partial or non-btree index, which ferry leaves out`,
      action: target.index,
    });
  }
  notCarried.push(...(await partitioning(client, options, target, new Set(described.map((t) => tableKey(t.schema.source))))));

  // Foreign keys to tables not replicated, and from them. Postgres logs the rows its referential actions change.
  for (const { schema } of described) {
    for (const fk of schema.foreignKeys ?? []) {
      if (options.filter(fk.references)) continue;
      const cascading = (
        [
          ['ON DELETE', fk.onDelete],
          ['ON UPDATE', fk.onUpdate],
        ] as const
      )
        .filter(([, a]) => CASCADING.has(a))
        .map(([when, a]) => `${when} ${a.toUpperCase()}`);
      notCarried.push(
        severedForeignKey({
          name: `${tableKey(schema.source)}.${fk.name}`,
          child: tableKey(schema.source),
          parent: tableKey(fk.references),
          childSelected: true,
          cascading,
          logsCascades: true,
        }),
      );
    }
  }
  const { rows: children } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS table, k.conname AS name, rn.nspname AS ref_schema, r.relname AS ref_table
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE k.contype = 'f' AND k.confrelid = ANY($1::oid[]) AND NOT k.conrelid = ANY($1::oid[])
        AND k.conparentid = 0 -- a partition's copy of its root's key: the root is what is replicated
      ORDER BY 1, 2, 3`,
    [oids],
  );
  for (const r of children) {
    notCarried.push(
      severedForeignKey({
        name: `${r.schema}.${r.table}.${r.name}`,
        child: `${r.schema}.${r.table}`,
        parent: `${r.ref_schema}.${r.ref_table}`,
        childSelected: false,
        cascading: [],
        logsCascades: true,
      }),
    );
  }

  const { rows: sequences } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'S' AND n.nspname = ANY($1::text[]) AND ${NOT_EXTENSION_MEMBER}
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
      ORDER BY 1, 2`,
    [schemas],
  );
  for (const r of sequences) {
    notCarried.push({
      kind: 'sequence',
      name: `${r.schema}.${r.name}`,
      detail: 'a sequence no column owns: ferry moves only the sequences of replicated columns past their values',
      action: target.sequence(`${r.schema}.${r.name}`),
    });
  }
  const { rows: unlogged } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence = 'u' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  );
  for (const r of unlogged.filter((u) => options.filter({ schema: u.schema, name: u.name }))) {
    notCarried.push({
      kind: 'unlogged table',
      name: `${r.schema}.${r.name}`,
      table: `${r.schema}.${r.name}`,
      detail: 'an unlogged table: its changes never reach the WAL, so ferry cannot replicate it',
      action: `ALTER TABLE ${r.schema}.${r.name} SET LOGGED to replicate it, or exclude it (tables.exclude) and recreate it on the target`,
    });
  }
  return { version, tables, notCarried };
}

/**
 * Partitioned tables: a root the patterns select is replicated as one table (partitioned alike in a
 * Postgres target, plain in a MySQL one); a partition is replicated only through its root.
 */
async function partitioning(client: pg.ClientBase, options: PgDescribeOptions, target: OnTarget, described: ReadonlySet<string>): Promise<NotCarried[]> {
  const { rows } = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_partkeydef(c.oid) AS key,
            (SELECT array_agg(ln.nspname || '.' || l.relname ORDER BY l.relname) FROM pg_partition_tree(c.oid) p
               JOIN pg_class l ON l.oid = p.relid JOIN pg_namespace ln ON ln.oid = l.relnamespace WHERE p.level > 0) AS members
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'p' AND NOT c.relispartition ORDER BY 1, 2`,
  );
  return rows.flatMap((r): NotCarried[] => {
    const root = `${r.schema}.${r.name}`;
    const members: string[] = r.members ?? [];
    if (described.has(root)) {
      return target.keepsPartitioning ? [] : [partitionNotCarried(root, `partitioned BY ${r.key} into ${plural(members.length, 'partition')}`)];
    }
    const selected = members.filter((m) => options.filter(parseTableKey(m)));
    if (selected.length === 0) return [];
    return [
      {
        kind: 'partitioning',
        name: root,
        table: root,
        detail: `${selected.join(', ')} ${selected.length === 1 ? 'is a partition' : 'are partitions'} of ${root}, which tables.include/exclude do not select: ferry replicates partitions only through their root, so ${selected.length === 1 ? 'it is' : 'they are'} not replicated`,
        action: `include ${root} (its partitions come with it), or exclude ${selected.join(', ')}`,
      },
    ];
  });
}
