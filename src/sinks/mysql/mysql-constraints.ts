import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { tableKey, type Value } from '../../core/change-event.js';
import { printCheck } from '../../core/check-expression.js';
import { type CheckConstraint, type Column, type ForeignKey, type Index, REFERENTIAL_ACTION_SQL, type TableSchema } from '../../core/schema.js';
import {
  referencedTable,
  VIOLATION_ROWS,
  violationError,
  type ConstraintViolation,
  type SchemaTranslations,
  type Translation,
} from '../../core/schema-fidelity.js';
import type { Flavor } from '../../engines/mysql/binlog-position.js';
import { columnDef, columnTypeSql, defaultSql, indexable, normalizeColumnType, notNullAtCreate } from './mysql-dialect.js';
import { indexName, qualified, quoteIdent, quoteString } from '../../engines/mysql/quoting.js';

/**
 * What the cutover's finalizing step adds to a MySQL/MariaDB target (DESIGN §1.3, §3 rule 9): NOT
 * NULL where the zero-date policy deferred it, unique indexes in place of the non-unique ones the
 * stream needs, CHECK constraints and foreign keys, and any default a table made by an older ferry
 * lacks. MySQL DDL commits by itself, so the rows that would break a constraint are looked for
 * first, and any found fail the step before a statement changes anything. Each step looks at the
 * catalog first: a cutover tried again does not trip over what the first attempt created.
 */

/** The unique index in place of the stream's non-unique one (MariaDB keys TEXT/BLOB columns by a hash; MySQL 8 cannot). */
export function uniqueIndexSql(t: TableSchema, i: Index, flavor: Flavor): Translation & { name: string } {
  const name = indexName(t.target.name, i.name);
  const long = i.columns.filter((n) => !indexable(t, t.columns.find((c) => c.name === n)!));
  if (long.length > 0 && flavor !== 'mariadb')
    return {
      name,
      reason: `MySQL cannot index the TEXT/BLOB/JSON column${long.length > 1 ? 's' : ''} ${long.join(', ')} without a prefix, so it cannot be unique: enforce it another way`,
    };
  return { name, sql: `UNIQUE INDEX ${quoteIdent(name)} (${i.columns.map(quoteIdent).join(', ')})` };
}

/** Integer types must match exactly in an InnoDB foreign key; string lengths may differ. */
function sameKeyType(child: string, parent: string): boolean {
  const [a, b] = [normalizeColumnType(child), normalizeColumnType(parent)];
  return a === b || (/^(var)?char\(/.test(a) && /^(var)?char\(/.test(b));
}

/** A foreign key's definition in the target, or why InnoDB cannot hold it. */
export function foreignKeySql(t: TableSchema, fk: ForeignKey, tables: readonly TableSchema[]): Translation {
  const parent = referencedTable(fk, tables);
  if (!parent)
    return { reason: `it references ${tableKey(fk.references)}, which the pipeline does not replicate: include that table, or create the key by hand` };
  if (fk.onDelete === 'set default' || fk.onUpdate === 'set default')
    return { reason: 'InnoDB does not support SET DEFAULT actions: create an equivalent (a trigger) by hand' };
  const child = fk.columns.map((n) => t.columns.find((c) => c.name === n)!);
  const referenced = fk.referencedColumns.map((n) => parent.columns.find((c) => c.name === n)!);
  const unindexable = [
    ...child.filter((c) => !indexable(t, c)).map((c) => `${c.name} (${columnTypeSql(t, c)})`),
    ...referenced.filter((c) => !indexable(parent, c)).map((c) => `${tableKey(fk.references)}.${c.name} (${columnTypeSql(parent, c)})`),
  ];
  if (unindexable.length > 0) return { reason: `InnoDB cannot key it on ${unindexable.join(', ')}` };
  const leads = (cols: readonly string[]) => fk.referencedColumns.every((c, j) => cols[j] === c);
  if (!leads(parent.primaryKey) && !parent.indexes.some((i) => leads(i.columns))) {
    return { reason: `no index of ${tableKey(fk.references)} starts with (${fk.referencedColumns.join(', ')}), which InnoDB requires` };
  }
  const mismatch = child.findIndex((c, j) => !sameKeyType(columnTypeSql(t, c), columnTypeSql(parent, referenced[j]!)));
  if (mismatch >= 0) {
    return {
      reason: `${child[mismatch]!.name} is ${columnTypeSql(t, child[mismatch]!)} but ${referenced[mismatch]!.name} is ${columnTypeSql(parent, referenced[mismatch]!)}, which InnoDB refuses in a foreign key`,
    };
  }
  return {
    sql:
      `FOREIGN KEY (${fk.columns.map(quoteIdent).join(', ')}) REFERENCES ${qualified(parent.target)} (${fk.referencedColumns.map(quoteIdent).join(', ')}) ` +
      `ON DELETE ${REFERENTIAL_ACTION_SQL[fk.onDelete]} ON UPDATE ${REFERENTIAL_ACTION_SQL[fk.onUpdate]}`,
  };
}

/** A CHECK's definition in the target: the source's own text from MySQL, the portable form from Postgres, or why not. */
export function checkSql(t: TableSchema, ck: CheckConstraint): Translation {
  if (t.engine === 'mysql') return { sql: `CHECK (${ck.expression})` };
  if (ck.portable) return { sql: `CHECK (${printCheck(ck.portable, quoteIdent, quoteString)})` };
  return { reason: `${ck.expression} does not translate exactly to MySQL (${ck.unportable ?? 'not parsed'}): create an equivalent check by hand` };
}

/** MariaDB's JSON check of a column, which the column's definition carries (columnDef). */
function inColumnDefinition(t: TableSchema, ck: CheckConstraint): boolean {
  return t.engine === 'mysql' && t.columns.some((c) => c.name === ck.name && c.type.kind === 'json' && ck.expression === `json_valid(${quoteIdent(c.name)})`);
}

/** How a MySQL/MariaDB target translates each part of a table's schema (for `ferry plan`'s carriedSchema). */
export function mysqlTranslations(tables: readonly TableSchema[], flavor: Flavor): SchemaTranslations {
  return {
    defaultSql,
    notNullAtCreate,
    uniqueIndexSql: (t, i) => uniqueIndexSql(t, i, flavor),
    foreignKeySql: (t, fk) => foreignKeySql(t, fk, tables),
    check: (t, ck) => ({ tr: checkSql(t, ck), when: inColumnDefinition(t, ck) ? 'create' : 'finalize' }),
  };
}

interface TableCatalog {
  readonly nullable: ReadonlySet<string>;
  readonly defaulted: ReadonlySet<string>;
  /** Index name → unique. */
  readonly indexes: ReadonlyMap<string, boolean>;
  /** Names of the table's foreign keys and checks. */
  readonly constraints: ReadonlySet<string>;
}

async function readCatalog(conn: Connection, t: TableSchema): Promise<TableCatalog> {
  const at = [t.target.schema, t.target.name];
  const [cols] = await conn.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    at,
  );
  const [idx] = await conn.query<RowDataPacket[]>(
    'SELECT DISTINCT INDEX_NAME AS name, NON_UNIQUE AS nonUnique FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    at,
  );
  const [cons] = await conn.query<RowDataPacket[]>(
    "SELECT CONSTRAINT_NAME AS name FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_TYPE IN ('FOREIGN KEY', 'CHECK')",
    at,
  );
  return {
    nullable: new Set(cols.filter((r) => r.nullable === 'YES').map((r) => String(r.name))),
    // MariaDB prints a nullable column's missing default as NULL, MySQL as SQL NULL.
    defaulted: new Set(cols.filter((r) => r.def !== null && r.def !== 'NULL').map((r) => String(r.name))),
    indexes: new Map(idx.map((r) => [String(r.name), Number(r.nonUnique) === 0])),
    constraints: new Set(cons.map((r) => String(r.name))),
  };
}

async function presentTables(conn: Connection, tables: readonly TableSchema[]): Promise<TableSchema[]> {
  if (tables.length === 0) return [];
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES WHERE (TABLE_SCHEMA, TABLE_NAME) IN (${tables.map(() => '(?, ?)').join(', ')})`,
    tables.flatMap((t) => [t.target.schema, t.target.name]),
  );
  const present = new Set(rows.map((r) => `${String(r.s)}.${String(r.n)}`));
  return tables.filter((t) => present.has(`${t.target.schema}.${t.target.name}`));
}

/** One table's pending work: ALTER clauses without foreign keys, then the foreign keys, and the probes that must find nothing first. */
interface TablePlan {
  readonly t: TableSchema;
  readonly clauses: string[];
  readonly foreignKeys: string[];
  readonly probes: { constraint: string; sql: string }[];
}

/**
 * Brings the target's constraints to the source's. `conn` is a session with FOREIGN_KEY_CHECKS=0,
 * so adding a foreign key does not rebuild the table: the probes checked its rows already.
 */
export async function finalizeConstraints(conn: Connection, tables: readonly TableSchema[], flavor: Flavor, log: Logger): Promise<void> {
  const present = await presentTables(conn, tables);
  const plans: TablePlan[] = [];
  for (const t of present) plans.push(await planTable(conn, t, present, flavor, log));
  const violations: ConstraintViolation[] = [];
  for (const p of plans) {
    for (const probe of p.probes) {
      const [rows] = await conn.query<RowDataPacket[]>(probe.sql);
      if (rows.length > 0) violations.push({ table: p.t.target, constraint: probe.constraint, rows: rows.map((r) => ({ ...r }) as Record<string, Value>) });
    }
  }
  if (violations.length > 0) throw violationError(violations);
  for (const p of plans) if (p.clauses.length > 0) await conn.query(`ALTER TABLE ${qualified(p.t.target)} ${p.clauses.join(', ')}`);
  for (const p of plans) if (p.foreignKeys.length > 0) await conn.query(`ALTER TABLE ${qualified(p.t.target)} ${p.foreignKeys.join(', ')}`);
}

async function planTable(conn: Connection, t: TableSchema, present: readonly TableSchema[], flavor: Flavor, log: Logger): Promise<TablePlan> {
  const cat = await readCatalog(conn, t);
  const plan: TablePlan = { t, clauses: [], foreignKeys: [], probes: [] };
  const keyOf = (extra: readonly string[]) => [...new Set([...t.primaryKey, ...extra])].map((c) => `t.${quoteIdent(c)}`).join(', ');
  const notCarried = (what: string, reason: string) =>
    log.warn({ table: tableKey(t.target) }, `${what} of ${tableKey(t.source)} is not carried to the target: ${reason}`);

  const deferred = t.columns.filter((c) => !c.nullable && cat.nullable.has(c.name));
  const nulls = deferred.length > 0 ? await nullCounts(conn, t, deferred) : {};
  const madeNotNull = new Set<Column>();
  for (const c of deferred) {
    if (nulls[c.name] === 0) madeNotNull.add(c);
    else
      log.warn(
        { table: tableKey(t.target), column: c.name, nulls: nulls[c.name] },
        `${tableKey(t.target)}.${c.name} stays nullable: NOT NULL at the source, but ${nulls[c.name]} row(s) hold NULL in the target (zero dates, which ferry writes as NULL)`,
      );
  }
  for (const c of madeNotNull) plan.clauses.push(`MODIFY COLUMN ${columnDef(t, c, { notNull: true, check: false })}`);
  for (const c of t.columns) {
    const d = defaultSql(t, c);
    if (d && 'sql' in d && !cat.defaulted.has(c.name) && !madeNotNull.has(c)) plan.clauses.push(`ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT ${d.sql}`);
  }
  for (const i of t.indexes.filter((x) => x.unique)) {
    const u = uniqueIndexSql(t, i, flavor);
    if ('reason' in u) notCarried(`unique index ${i.name}`, u.reason);
    if ('reason' in u || cat.indexes.get(u.name) === true) continue;
    if (cat.indexes.has(u.name)) plan.clauses.push(`DROP INDEX ${quoteIdent(u.name)}`);
    plan.clauses.push(`ADD ${u.sql}`);
    const cols = i.columns.map(quoteIdent).join(', ');
    plan.probes.push({
      constraint: `unique index ${i.name}`,
      sql:
        `SELECT ${keyOf(i.columns)} FROM ${qualified(t.target)} t WHERE (${i.columns.map((c) => `t.${quoteIdent(c)}`).join(', ')}) IN ` +
        `(SELECT ${cols} FROM ${qualified(t.target)} WHERE ${i.columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')} GROUP BY ${cols} HAVING COUNT(*) > 1) ORDER BY ${[...i.columns, ...t.primaryKey].map((c) => `t.${quoteIdent(c)}`).join(', ')} LIMIT ${VIOLATION_ROWS}`,
    });
  }
  for (const ck of t.checks ?? []) {
    const def = checkSql(t, ck);
    if ('reason' in def) notCarried(`check ${ck.name}`, def.reason);
    if ('reason' in def || cat.constraints.has(ck.name)) continue;
    plan.clauses.push(`ADD CONSTRAINT ${quoteIdent(ck.name)} ${def.sql}`);
    plan.probes.push({
      constraint: `check ${ck.name}`,
      sql: `SELECT ${t.primaryKey.length ? keyOf([]) : 't.*'} FROM ${qualified(t.target)} t WHERE NOT ${def.sql.replace(/^CHECK /, '')} LIMIT ${VIOLATION_ROWS}`,
    });
  }
  for (const fk of t.foreignKeys ?? []) {
    const def = foreignKeySql(t, fk, present);
    if ('reason' in def) notCarried(`foreign key ${fk.name}`, def.reason);
    if ('reason' in def || cat.constraints.has(fk.name)) continue;
    plan.foreignKeys.push(`ADD CONSTRAINT ${quoteIdent(fk.name)} ${def.sql}`);
    const parent = referencedTable(fk, present)!;
    const match = fk.columns.map((c, j) => `p.${quoteIdent(fk.referencedColumns[j]!)} = t.${quoteIdent(c)}`).join(' AND ');
    plan.probes.push({
      constraint: `foreign key ${fk.name}`,
      sql:
        `SELECT ${keyOf(fk.columns)} FROM ${qualified(t.target)} t WHERE ${fk.columns.map((c) => `t.${quoteIdent(c)} IS NOT NULL`).join(' AND ')} ` +
        `AND NOT EXISTS (SELECT 1 FROM ${qualified(parent.target)} p WHERE ${match}) LIMIT ${VIOLATION_ROWS}`,
    });
  }
  return plan;
}

async function nullCounts(conn: Connection, t: TableSchema, columns: readonly Column[]): Promise<Record<string, number>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT ${columns.map((c, i) => `SUM(${quoteIdent(c.name)} IS NULL) AS n${i}`).join(', ')} FROM ${qualified(t.target)}`,
  );
  return Object.fromEntries(columns.map((c, i) => [c.name, Number(rows[0]?.[`n${i}`] ?? 0)]));
}
