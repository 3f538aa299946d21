import type { Connection, RowDataPacket } from 'mysql2/promise';
import { tableKey, type TableId } from '../../core/change-event.js';
import { type NotCarried, partitionNotCarried, plural, routineActions, severedForeignKey } from '../../core/not-carried.js';
import type { CatalogueColumn, CatalogueReader, CatalogueTable, PlanCatalogue } from '../../core/plan-catalogue.js';
import type { Column, TableSchema, TargetEngine } from '../../core/schema.js';
import { targetTableId } from '../../core/table-mapping.js';
import { documented, type Assessment } from '../../core/verdict.js';
import { serverFlavor } from '../../engines/mysql/binlog-position.js';
import { connect } from '../../engines/mysql/connection.js';
import { parseColumnType } from '../../engines/mysql/types.js';
import { describeTables, type DescribeOptions } from './mysql-schema.js';

const GENERATED = /\b(VIRTUAL|STORED|PERSISTENT)\b/i;
const CASCADING = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT']);

/** What the MySQL objects ferry does not carry become on a target engine. */
interface OnTarget {
  /** The SQL a MySQL definition is translated to there; null: the target runs it as it is. */
  readonly translatedTo: string | null;
  /** A FULLTEXT, SPATIAL, prefix or functional index of `table`. */
  index(table: string): string;
  /** Scheduled event `name`. */
  event(name: string): string;
  /** A generated column: `type AS (expr) stored` (STORED or VIRTUAL). */
  generated(c: { readonly table: string; readonly column: string; readonly type: string; readonly expr: string; readonly stored: string }): string;
  /** The target declares a column ON UPDATE CURRENT_TIMESTAMP as the source does (mysql-dialect columnDef). */
  readonly keepsOnUpdate: boolean;
}

/** Each target engine's: a new engine does not compile until it says what becomes of these. */
const ON_TARGET: { readonly [E in TargetEngine]: OnTarget } = {
  mysql: {
    translatedTo: null,
    index: (table) => `create it on the target before the cutover (SHOW CREATE TABLE ${table} at the source has it)`,
    event: (name) => `after the cutover, create it on the target (SHOW CREATE EVENT ${name}) and disable it at the source`,
    generated: (c) => `after the cutover: ALTER TABLE ${c.table} MODIFY ${c.column} ${c.type} AS (${c.expr}) ${c.stored}`,
    keepsOnUpdate: true,
  },
  postgres: {
    translatedTo: 'Postgres',
    index: () => 'create its counterpart on the target before the cutover (full text: a GIN index on to_tsvector(…); prefix: a plain or expression index)',
    event: () => 'after the cutover, schedule its work on the target (pg_cron or an external scheduler), and disable it at the source',
    generated: (c) =>
      `after the cutover, replace it with a generated column: ALTER TABLE … DROP COLUMN ${c.column}, ADD COLUMN ${c.column} … GENERATED ALWAYS AS (<the expression in Postgres SQL>) STORED`,
    keepsOnUpdate: false,
  },
  mssql: {
    translatedTo: 'SQL Server',
    index: () =>
      'create a SQL Server counterpart on the target before the cutover (a full-text or spatial index, or an index on a computed column for a prefix or an expression), or do without',
    event: () =>
      'after the cutover, schedule its work on the target (a SQL Server Agent job; on Azure SQL Database, elastic jobs), and disable it at the source',
    generated: (c) =>
      `after the cutover, replace it with a computed column: ALTER TABLE ${c.table} DROP COLUMN ${c.column}; ALTER TABLE ${c.table} ADD ${c.column} AS (<the expression in T-SQL>)${c.stored === 'STORED' ? ' PERSISTED' : ''}`,
    // SQL Server has no ON UPDATE clause: a trigger would do it, and ferry writes no triggers.
    keepsOnUpdate: false,
  },
};

/** A read-only session on a MySQL/MariaDB source that reads its catalogue for the plan. */
export async function openMysqlCatalogue(url: string): Promise<CatalogueReader> {
  const conn = await connect(url);
  return {
    read: async (options, target) => readMysqlCatalogue(conn, { ...options, flavor: await serverFlavor(conn) }, ON_TARGET[target]),
    close: () => conn.end().catch(() => {}),
  };
}

/** Temporal kinds MySQL lets hold zero dates, which ferry writes as NULL. */
const ZERO_DATE_KINDS = new Set(['date', 'datetime', 'timestamp']);

/** What a MySQL column loses on any target: zero dates. */
export function mysqlColumnCaveat(c: Column): Assessment | null {
  return ZERO_DATE_KINDS.has(c.type.kind) ? documented('zero dates (0000-00-00, 2024-00-10) arrive as NULL') : null;
}

/**
 * Reads a MySQL/MariaDB source's catalogue for the plan: every selected table with every column
 * (those whose type ferry cannot map too, which describe refuses), and what ferry will not carry.
 * Only SELECTs on information_schema, on a read-only session.
 */
async function readMysqlCatalogue(conn: Connection, options: DescribeOptions, target: OnTarget): Promise<PlanCatalogue> {
  await conn.query('SET SESSION TRANSACTION READ ONLY');
  const [[{ v: version }]] = (await conn.query<RowDataPacket[]>('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
  const { tables: described, failed } = await describeTables(conn, options);
  const selected = [...described.map((t) => t.source), ...failed.map((f) => f.table)].sort((a, b) => tableKey(a).localeCompare(tableKey(b)));
  const schemas = [...new Set(selected.map((t) => t.schema))];
  if (schemas.length === 0) return { version, tables: [], notCarried: [] };
  const isSelected = (schema: unknown, name: unknown) => options.filter({ schema: String(schema), name: String(name) });
  const key = (s: unknown, n: unknown) => `${String(s)}.${String(n)}`;

  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, EXTRA AS extra, GENERATION_EXPRESSION AS expr
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    [schemas],
  );
  const [indexRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, INDEX_NAME AS i, COLUMN_NAME AS c, SUB_PART AS sub, INDEX_TYPE AS type
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [schemas],
  );
  const columnsOf = groupBy(
    columnRows.filter((r) => isSelected(r.s, r.n)),
    (r) => key(r.s, r.n),
  );
  const describedByKey = new Map(described.map((t) => [tableKey(t.source), t]));
  const notCarried: NotCarried[] = [];

  const tables: CatalogueTable[] = selected.map((source) => {
    const rows = columnsOf.get(tableKey(source)) ?? [];
    const schema = describedByKey.get(tableKey(source)) ?? partialSchema(source, rows, indexRows, options);
    const columns: CatalogueColumn[] = rows.map((r) => {
      const column = schema.columns.find((c) => c.name === String(r.c));
      const unsupported = column ? undefined : unmappable(String(r.type), options);
      return { name: String(r.c), sourceType: String(r.type), ...(column ? { column } : {}), ...(unsupported ? { unsupported } : {}) };
    });
    for (const r of rows) notCarried.push(...columnNotCarried(source, r, target));
    return { source, target: schema.target, columns, schema, refused: !describedByKey.has(tableKey(source)) };
  });

  // FULLTEXT, SPATIAL, prefix and functional indexes: describe leaves them out.
  const indexes = groupBy(
    indexRows.filter((r) => isSelected(r.s, r.n) && r.i !== 'PRIMARY'),
    (r) => `${key(r.s, r.n)}.${String(r.i)}`,
  );
  for (const [name, parts] of indexes) {
    const first = parts[0]!;
    const why = /FULLTEXT|SPATIAL/i.test(String(first.type))
      ? `a ${String(first.type).toUpperCase()} index`
      : parts.some((p) => p.sub !== null)
        ? 'an index on column prefixes'
        : parts.some((p) => p.c === null)
          ? 'a functional index'
          : null;
    if (!why) continue;
    notCarried.push({
      kind: 'index',
      name,
      table: key(first.s, first.n),
      detail: `${why}: no plain index of the target type covers it, so ferry leaves it out`,
      action: target.index(key(first.s, first.n)),
    });
  }

  const [triggers] = await conn.query<RowDataPacket[]>(
    `SELECT TRIGGER_SCHEMA AS s, TRIGGER_NAME AS name, EVENT_OBJECT_SCHEMA AS ts, EVENT_OBJECT_TABLE AS tn, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event
       FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA IN (?) ORDER BY 1, 2`,
    [schemas],
  );
  const actions = routineActions(target.translatedTo);
  for (const r of triggers.filter((t) => isSelected(t.ts, t.tn))) {
    notCarried.push({
      kind: 'trigger',
      name: key(r.s, r.name),
      table: key(r.ts, r.tn),
      detail: `${String(r.timing)} ${String(r.event)} trigger: ferry copies the rows it produced, not the trigger`,
      action: `${actions.trigger} (SHOW CREATE TRIGGER ${key(r.s, r.name)} at the source)`,
    });
  }
  const [views] = await conn.query<RowDataPacket[]>(
    'SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (?) ORDER BY 1, 2',
    [schemas],
  );
  for (const r of views) {
    notCarried.push({
      kind: 'view',
      name: key(r.s, r.n),
      detail: 'a view: ferry replicates base tables only',
      action: `${actions.view} (SHOW CREATE VIEW ${key(r.s, r.n)} at the source)`,
    });
  }
  const [routines] = await conn.query<RowDataPacket[]>(
    'SELECT ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (?) ORDER BY 1, 2',
    [schemas],
  );
  for (const r of routines) {
    notCarried.push({
      kind: 'routine',
      name: key(r.s, r.n),
      detail: `a stored ${String(r.type).toLowerCase()}: not replicated`,
      action: `${actions.routine} (SHOW CREATE ${String(r.type)} ${key(r.s, r.n)} at the source)`,
    });
  }
  const [events] = await conn.query<RowDataPacket[]>(
    'SELECT EVENT_SCHEMA AS s, EVENT_NAME AS n, STATUS AS status FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (?) ORDER BY 1, 2',
    [schemas],
  );
  for (const r of events) {
    notCarried.push({
      kind: 'event',
      name: key(r.s, r.n),
      detail: `a scheduled event (${String(r.status).toLowerCase()}): the rows it writes at the source are replicated while ferry runs; the schedule is not`,
      action: target.event(key(r.s, r.n)),
    });
  }
  const [partitions] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, PARTITION_METHOD AS method, PARTITION_EXPRESSION AS expr, COUNT(*) AS parts
       FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA IN (?) AND PARTITION_NAME IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2`,
    [schemas],
  );
  for (const r of partitions.filter((p) => isSelected(p.s, p.n))) {
    notCarried.push(partitionNotCarried(key(r.s, r.n), `partitioned BY ${String(r.method)} (${String(r.expr)}) into ${plural(Number(r.parts), 'partition')}`));
  }
  notCarried.push(...(await severedForeignKeys(conn, schemas, isSelected)));
  return { version, tables, notCarried };
}

/** What ferry replicates of a table it cannot describe: the columns whose types map, to show their target types. */
function partialSchema(source: TableId, rows: readonly RowDataPacket[], indexRows: readonly RowDataPacket[], options: DescribeOptions): TableSchema {
  const columns: Column[] = rows.flatMap((r) => {
    try {
      const type = parseColumnType(String(r.type), options);
      return [
        {
          name: String(r.c),
          type,
          sourceType: String(r.type),
          nullable: r.nullable === 'YES',
          autoIncrement: /auto_increment/i.test(String(r.extra)),
          backfill: { value: null },
        },
      ];
    } catch {
      return [];
    }
  });
  const primaryKey = indexRows.filter((r) => r.s === source.schema && r.n === source.name && r.i === 'PRIMARY').map((r) => String(r.c));
  return { engine: 'mysql', source, target: targetTableId(source, options.targetSchema), columns, primaryKey, indexes: [] };
}

/** Why ferry cannot map a column type, or undefined when it can. */
function unmappable(columnType: string, options: DescribeOptions): string | undefined {
  try {
    parseColumnType(columnType, options);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A column's generation expression and ON UPDATE clause: the values arrive, the behaviour does not. */
function columnNotCarried(table: TableId, r: RowDataPacket, target: OnTarget): NotCarried[] {
  const name = `${tableKey(table)}.${String(r.c)}`;
  const extra = String(r.extra);
  const out: NotCarried[] = [];
  if (GENERATED.test(extra)) {
    const stored = /STORED|PERSISTENT/i.test(extra) ? 'STORED' : 'VIRTUAL';
    out.push({
      kind: 'generated column',
      name,
      table: tableKey(table),
      detail: `generated (${stored}) AS (${String(r.expr)}): the target column is a plain column holding the source's values`,
      action: target.generated({ table: tableKey(table), column: String(r.c), type: String(r.type), expr: String(r.expr), stored }),
    });
  }
  const onUpdate = /on update (current_timestamp(\(\d*\))?)/i.exec(extra);
  if (onUpdate && !target.keepsOnUpdate) {
    out.push({
      kind: 'on update',
      name,
      table: tableKey(table),
      detail: `ON UPDATE ${onUpdate[1]}: the target column holds the source's values but is not set by updates made on the target`,
      action: 'after the cutover, add a BEFORE UPDATE trigger that sets it to now(), or set it in the application',
    });
  }
  return out;
}

/** Foreign keys between a selected table and one that is not: they cannot exist on the target. */
async function severedForeignKeys(conn: Connection, schemas: readonly string[], isSelected: (s: unknown, n: unknown) => boolean): Promise<NotCarried[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT DISTINCT k.TABLE_SCHEMA AS s, k.TABLE_NAME AS n, k.CONSTRAINT_NAME AS name, k.REFERENCED_TABLE_SCHEMA AS rs, k.REFERENCED_TABLE_NAME AS rn,
            rc.DELETE_RULE AS onDelete, rc.UPDATE_RULE AS onUpdate
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS rc ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.TABLE_NAME = k.TABLE_NAME AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME
      WHERE k.REFERENCED_TABLE_NAME IS NOT NULL AND (k.TABLE_SCHEMA IN (?) OR k.REFERENCED_TABLE_SCHEMA IN (?))
      ORDER BY 1, 2, 3`,
    [schemas, schemas],
  );
  return rows.flatMap((r) => {
    const child = isSelected(r.s, r.n);
    const parent = isSelected(r.rs, r.rn);
    if (child === parent) return [];
    const rules = [`ON DELETE ${String(r.onDelete)}`, `ON UPDATE ${String(r.onUpdate)}`].filter((rule) => CASCADING.has(rule.replace(/^ON \w+ /, '')));
    return [
      severedForeignKey({
        name: `${String(r.s)}.${String(r.n)}.${String(r.name)}`,
        child: `${String(r.s)}.${String(r.n)}`,
        parent: `${String(r.rs)}.${String(r.rn)}`,
        childSelected: child,
        cascading: rules,
        logsCascades: false,
      }),
    ];
  });
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
