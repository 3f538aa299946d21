import type { Logger } from 'pino';
import { tableKey, type Value } from '../../core/change-event.js';
import type { Column, Index, TableSchema } from '../../core/schema.js';
import { type ConstraintViolation, referencedTable, VIOLATION_ROWS } from '../../core/schema-fidelity.js';
import { indexName, qualified, quoteIdent } from '../../engines/mssql/quoting.js';
import { addConstraintSql, checkSql, dropIndexSql, foreignKeySql, impliedByColumn, ruleName, setNotNullSql, uniqueIndexSql } from './mssql-constraints.js';
import { defaultName, defaultSql, secondaryIndexes } from './mssql-dialect.js';
import type { MssqlSession } from './mssql-session.js';
import { TABLE_EXISTS_SQL } from './mssql-tables.js';

/**
 * What the cutover's finalizing step adds to a SQL Server target (DESIGN §1.3, §3 rule 9), in the
 * caller's one transaction (SQL Server's DDL is transactional: all of it or none): NOT NULL where the
 * zero-date policy deferred it, unique indexes in place of the stream's non-unique ones, checks and
 * foreign keys (ADD CONSTRAINT checks the rows already there), the trust of the column checks a bulk
 * load skipped, and any default a table lacks. Each step looks at the catalog first: a cutover tried
 * again keeps what an earlier attempt created.
 */

/** The target's state of one table. */
interface TableCatalog {
  readonly nullable: Set<string>;
  readonly defaulted: ReadonlySet<string>;
  /** Index name → unique. */
  readonly indexes: Map<string, boolean>;
  /** Check and foreign-key names → not trusted (added, or bulk-loaded past, without checking the rows). */
  readonly constraints: ReadonlyMap<string, boolean>;
}

export const CATALOG_COLUMNS_SQL =
  'SELECT c.name AS name, c.is_nullable AS nullable, c.default_object_id AS defaultId FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@p1)';
export const CATALOG_INDEXES_SQL =
  'SELECT i.name AS name, i.is_unique AS isUnique FROM sys.indexes AS i WHERE i.object_id = OBJECT_ID(@p1) AND i.name IS NOT NULL';
export const CATALOG_CONSTRAINTS_SQL =
  'SELECT name, is_not_trusted AS untrusted FROM sys.check_constraints WHERE parent_object_id = OBJECT_ID(@p1) ' +
  'UNION ALL SELECT name, is_not_trusted AS untrusted FROM sys.foreign_keys WHERE parent_object_id = OBJECT_ID(@p1)';

async function readCatalog(c: MssqlSession, t: TableSchema): Promise<TableCatalog> {
  const at = [qualified(t.target)];
  const cols = await c.query<{ name: string; nullable: boolean; defaultId: number }>(CATALOG_COLUMNS_SQL, at);
  const idx = await c.query<{ name: string; isUnique: boolean }>(CATALOG_INDEXES_SQL, at);
  const cons = await c.query<{ name: string; untrusted: boolean }>(CATALOG_CONSTRAINTS_SQL, at);
  return {
    nullable: new Set(cols.filter((r) => r.nullable).map((r) => r.name)),
    defaulted: new Set(cols.filter((r) => r.defaultId !== 0).map((r) => r.name)),
    indexes: new Map(idx.map((r) => [r.name, Boolean(r.isUnique)])),
    constraints: new Map(cons.map((r) => [r.name, Boolean(r.untrusted)])),
  };
}

/** The tables of `tables` that exist in the target (a table created at the source after the snapshot is not replicated). */
export async function presentTables(c: MssqlSession, tables: readonly TableSchema[]): Promise<TableSchema[]> {
  const present: TableSchema[] = [];
  for (const t of tables) if ((await c.query(TABLE_EXISTS_SQL, [qualified(t.target)])).length > 0) present.push(t);
  return present;
}

/** How many rows hold NULL in each of `columns`. */
export function nullCountsSql(t: TableSchema, columns: readonly Column[]): string {
  return `SELECT ${columns.map((c, i) => `SUM(CASE WHEN ${quoteIdent(c.name)} IS NULL THEN 1 ELSE 0 END) AS n${i}`).join(', ')} FROM ${qualified(t.target)}`;
}

/** Brings the target's constraints to the source's in `c`'s transaction; what SQL Server cannot carry is logged, as `ferry plan` lists it. */
export async function finalizeConstraints(c: MssqlSession, tables: readonly TableSchema[], log: Logger): Promise<void> {
  const present = await presentTables(c, tables);
  const catalogs = new Map<TableSchema, TableCatalog>();
  for (const t of present) catalogs.set(t, await readCatalog(c, t));
  const notCarried = (t: TableSchema, what: string, reason: string) =>
    log.warn({ table: tableKey(t.target) }, `${what} of ${tableKey(t.source)} is not carried to the target: ${reason}`);
  for (const t of present) {
    const cat = catalogs.get(t)!;
    await setDeferredNotNulls(c, t, cat, log);
    for (const col of t.columns) {
      const d = defaultSql(t, col);
      if (d && 'sql' in d && !cat.defaulted.has(col.name))
        await c.run(`ALTER TABLE ${qualified(t.target)} ADD CONSTRAINT ${quoteIdent(defaultName(t, col))} DEFAULT ${d.sql} FOR ${quoteIdent(col.name)}`);
    }
    for (const i of t.indexes.filter((x) => x.unique)) {
      const u = uniqueIndexSql(t, i);
      if ('reason' in u) notCarried(t, `unique index ${i.name}`, u.reason);
      if ('reason' in u || cat.indexes.get(u.name) === true) continue;
      if (cat.indexes.has(u.name)) await c.run(dropIndexSql(t, u.name));
      await c.run(u.sql);
    }
    // A bulk load without CHECK_CONSTRAINTS leaves the column checks (JSON, ENUM) untrusted: checking them now trusts them again.
    if ([...cat.constraints.values()].some((untrusted) => untrusted)) await c.run(`ALTER TABLE ${qualified(t.target)} WITH CHECK CHECK CONSTRAINT ALL`);
  }
  // Checks, then foreign keys, which may reference the unique indexes just made.
  for (const t of present) {
    const cat = catalogs.get(t)!;
    const wanted = [
      ...(t.checks ?? []).filter((ck) => !impliedByColumn(t, ck)).map((ck) => ({ kind: 'check' as const, name: ck.name, def: checkSql(t, ck) })),
      ...(t.foreignKeys ?? []).map((fk) => ({ kind: 'foreign key' as const, name: fk.name, def: foreignKeySql(t, fk, present) })),
    ];
    for (const w of wanted) {
      const what = `${w.kind} ${w.name}`;
      if ('reason' in w.def) notCarried(t, what, w.def.reason);
      else if (w.def.note) log.warn({ table: tableKey(t.target) }, `${what} of ${tableKey(t.source)}: ${w.def.note}`);
      if ('reason' in w.def || cat.constraints.has(ruleName(t, w.kind, w.name))) continue;
      await c.run(addConstraintSql(t, w.kind, w.name, w.def.sql));
    }
  }
}

/**
 * NOT NULL for the columns the zero-date policy left nullable, where no NULL arrived. SQL Server does
 * not alter a column an index uses: ferry's indexes over it are dropped first and made again after
 * (unique ones by the unique step, which finds them missing).
 */
async function setDeferredNotNulls(c: MssqlSession, t: TableSchema, cat: TableCatalog, log: Logger): Promise<void> {
  const deferred = t.columns.filter((col) => !col.nullable && cat.nullable.has(col.name));
  if (deferred.length === 0) return;
  const [counts] = await c.query<Record<string, number>>(nullCountsSql(t, deferred));
  const ready = deferred.filter((col, i) => {
    const nulls = Number(counts?.[`n${i}`] ?? 0);
    if (nulls > 0)
      log.warn(
        { table: tableKey(t.target), column: col.name, nulls },
        `${tableKey(t.target)}.${col.name} stays nullable: NOT NULL at the source, but ${nulls} row(s) hold NULL in the target (zero dates, which ferry writes as NULL)`,
      );
    return nulls === 0;
  });
  const over = (i: Index) => i.columns.some((name) => ready.some((col) => col.name === name));
  const dropped = t.indexes.filter((i) => over(i) && cat.indexes.has(indexName(t.target.name, i.name)));
  for (const i of dropped) {
    await c.run(dropIndexSql(t, indexName(t.target.name, i.name)));
    cat.indexes.delete(indexName(t.target.name, i.name));
  }
  for (const col of ready) {
    await c.run(setNotNullSql(t, col));
    cat.nullable.delete(col.name);
  }
  for (const index of secondaryIndexes({ ...t, indexes: dropped.filter((i) => !i.unique) })) {
    await c.run(index.sql);
    cat.indexes.set(index.name, false);
  }
}

/** Keys of the offending rows: the primary key and the constrained columns, qualified by the alias `t`. */
function keyOf(t: TableSchema, extra: readonly string[]): string {
  const cols = [...new Set([...t.primaryKey, ...extra])];
  return cols.length > 0 ? cols.map((c) => `t.${quoteIdent(c)}`).join(', ') : 't.*';
}

/** The first rows that share a value of unique index `i` (rows with a NULL in it never do). */
export function uniqueProbeSql(t: TableSchema, i: Index): string {
  const cols = i.columns.map(quoteIdent).join(', ');
  return (
    `SELECT TOP (${VIOLATION_ROWS}) ${keyOf(t, i.columns)} FROM ${qualified(t.target)} AS t ` +
    `JOIN (SELECT ${cols} FROM ${qualified(t.target)} WHERE ${i.columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')} GROUP BY ${cols} HAVING COUNT(*) > 1) AS d ` +
    `ON ${i.columns.map((c) => `d.${quoteIdent(c)} = t.${quoteIdent(c)}`).join(' AND ')} ORDER BY ${[...i.columns, ...t.primaryKey].map((c) => `t.${quoteIdent(c)}`).join(', ')}`
  );
}

/** The first rows a check (its `CHECK (…)` definition) refuses: those for which it is false, not unknown. */
export function checkProbeSql(t: TableSchema, definition: string): string {
  return `SELECT TOP (${VIOLATION_ROWS}) ${keyOf(t, [])} FROM ${qualified(t.target)} AS t WHERE NOT ${definition.replace(/^CHECK /, '')}`;
}

/** The first rows whose foreign key finds no referenced row. */
export function foreignKeyProbeSql(t: TableSchema, columns: readonly string[], parent: TableSchema, referenced: readonly string[]): string {
  const match = columns.map((col, j) => `p.${quoteIdent(referenced[j]!)} = t.${quoteIdent(col)}`).join(' AND ');
  return (
    `SELECT TOP (${VIOLATION_ROWS}) ${keyOf(t, columns)} FROM ${qualified(t.target)} AS t WHERE ${columns.map((col) => `t.${quoteIdent(col)} IS NOT NULL`).join(' AND ')} ` +
    `AND NOT EXISTS (SELECT 1 FROM ${qualified(parent.target)} AS p WHERE ${match})`
  );
}

/** A row as the driver returns it, its dates as ISO text (ConstraintViolation holds ferry's values). */
function asValues(row: Record<string, unknown>): Record<string, Value> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : (v as Value)]));
}

/** The first rows of the target that break each constraint finalizeConstraints would create: why it failed, by name. */
export async function findViolations(c: MssqlSession, tables: readonly TableSchema[]): Promise<ConstraintViolation[]> {
  const present = await presentTables(c, tables);
  const found: ConstraintViolation[] = [];
  const probe = async (t: TableSchema, constraint: string, sql: string) => {
    const rows = await c.query(sql);
    if (rows.length > 0) found.push({ table: t.target, constraint, rows: rows.map(asValues) });
  };
  for (const t of present) {
    for (const i of t.indexes.filter((x) => x.unique && 'sql' in uniqueIndexSql(t, x))) await probe(t, `unique index ${i.name}`, uniqueProbeSql(t, i));
    for (const ck of t.checks ?? []) {
      const def = checkSql(t, ck);
      if ('sql' in def && !impliedByColumn(t, ck)) await probe(t, `check ${ck.name}`, checkProbeSql(t, def.sql));
    }
    for (const fk of t.foreignKeys ?? []) {
      if ('reason' in foreignKeySql(t, fk, present)) continue;
      await probe(t, `foreign key ${fk.name}`, foreignKeyProbeSql(t, fk.columns, referencedTable(fk, present)!, fk.referencedColumns));
    }
  }
  return found;
}
