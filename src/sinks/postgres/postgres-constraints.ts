import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { tableKey, type Value } from '../../core/change-event.js';
import { printCheck } from '../../core/check-expression.js';
import { type CheckConstraint, type ForeignKey, type Index, REFERENTIAL_ACTION_SQL, type TableSchema } from '../../core/schema.js';
import {
  isUniqueKey,
  referencedTable,
  VIOLATION_ROWS,
  type ConstraintViolation,
  type SchemaTranslations,
  type Translation,
} from '../../core/schema-fidelity.js';
import { defaultSql, foreignName, notNullAtCreate } from './postgres-dialect.js';
import { indexName, qualified, quoteIdent } from '../../engines/postgres/quoting.js';

/**
 * What the cutover's finalizing step adds to a Postgres target (DESIGN §1.3, §3 rule 9): NOT NULL
 * where a MySQL source's zero-date policy deferred it, unique indexes in place of the non-unique ones
 * the stream needs, foreign keys and CHECK constraints (NOT VALID, then VALIDATE), and any default a
 * table made by an older ferry lacks. Each step looks at the catalog first: a cutover tried again
 * does not trip over what the first attempt created.
 */

function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A constraint name within Postgres's 63 bytes (hashed down as indexName does), so it is found again by that name. */
function constraintName(name: string): string {
  if (Buffer.byteLength(name) <= 63) return name;
  let prefix = name;
  while (Buffer.byteLength(prefix) > 54) prefix = prefix.slice(0, -1);
  return `${prefix}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
}

/** The unique index replacing the stream's non-unique one of the same name. */
export function uniqueIndexSql(t: TableSchema, i: Index): { name: string; drop: string; create: string } {
  const name = indexName(t.target.name, i.name);
  return {
    name,
    drop: `DROP INDEX IF EXISTS ${quoteIdent(t.target.schema)}.${quoteIdent(name)}`,
    create: `CREATE UNIQUE INDEX ${quoteIdent(name)} ON ${qualified(t.target)} (${i.columns.map(quoteIdent).join(', ')})`,
  };
}

/** A foreign key's definition in the target, or why the target cannot hold it. */
export function foreignKeySql(fk: ForeignKey, tables: readonly TableSchema[]): Translation {
  const parent = referencedTable(fk, tables);
  if (!parent)
    return { reason: `it references ${tableKey(fk.references)}, which the pipeline does not replicate: include that table, or create the key by hand` };
  if (!isUniqueKey(parent, fk.referencedColumns)) {
    return {
      reason: `it references (${fk.referencedColumns.join(', ')}) of ${tableKey(fk.references)}, neither its primary key nor a unique index, which Postgres requires`,
    };
  }
  return {
    sql:
      `FOREIGN KEY (${fk.columns.map(quoteIdent).join(', ')}) REFERENCES ${qualified(parent.target)} (${fk.referencedColumns.map(quoteIdent).join(', ')}) ` +
      `ON DELETE ${REFERENTIAL_ACTION_SQL[fk.onDelete]} ON UPDATE ${REFERENTIAL_ACTION_SQL[fk.onUpdate]}`,
  };
}

/**
 * A MariaDB `json_valid(col)` check on a column that becomes jsonb: the type itself refuses what the
 * check refused (MariaDB's JSON type is that check on LONGTEXT).
 */
export function impliedByType(t: TableSchema, ck: CheckConstraint): boolean {
  const m = /^json_valid\(`((?:[^`]|``)+)`\)$/.exec(ck.expression);
  return t.engine === 'mysql' && m !== null && t.columns.some((c) => c.name === m[1]!.replace(/``/g, '`') && c.type.kind === 'json');
}

/** A CHECK's definition in the target: the source's own text from Postgres, the portable form from MySQL, or why not. */
export function checkSql(t: TableSchema, ck: CheckConstraint): Translation {
  if (t.engine === 'postgres') {
    const foreign = foreignName(t, ck.expression);
    return foreign
      ? { reason: `it uses ${foreign}, which ferry does not create in the target: create the check by hand after creating it` }
      : { sql: `CHECK (${ck.expression})` };
  }
  if (ck.portable) return { sql: `CHECK (${printCheck(ck.portable, quoteIdent, quoteString)})` };
  return { reason: `${ck.expression} does not translate exactly to Postgres (${ck.unportable ?? 'not parsed'}): create an equivalent check by hand` };
}

/** How a Postgres target translates each part of a table's schema (for `ferry plan`'s carriedSchema). */
export function postgresTranslations(tables: readonly TableSchema[]): SchemaTranslations {
  return {
    defaultSql,
    notNullAtCreate,
    uniqueIndexSql: (t, i) => ({ sql: uniqueIndexSql(t, i).create }),
    foreignKeySql: (_t, fk) => foreignKeySql(fk, tables),
    check: (t, ck) => (impliedByType(t, ck) ? { tr: null, when: 'create', note: 'implied by the jsonb type' } : { tr: checkSql(t, ck), when: 'finalize' }),
  };
}

/** The target's state of one table, read from its catalog. */
interface TableCatalog {
  readonly nullable: ReadonlySet<string>;
  readonly defaulted: ReadonlySet<string>;
  /** Index name → unique. */
  readonly indexes: ReadonlyMap<string, boolean>;
  /** Foreign key or check name → validated. */
  readonly constraints: ReadonlyMap<string, boolean>;
}

async function readCatalog(client: pg.ClientBase, t: TableSchema): Promise<TableCatalog> {
  const rel = qualified(t.target);
  const { rows: cols } = await client.query(
    'SELECT attname, attnotnull, atthasdef FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped',
    [rel],
  );
  const { rows: idx } = await client.query(
    'SELECT c.relname, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass',
    [rel],
  );
  const { rows: cons } = await client.query("SELECT conname, convalidated FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('f', 'c')", [rel]);
  return {
    nullable: new Set(cols.filter((r) => !r.attnotnull).map((r) => String(r.attname))),
    defaulted: new Set(cols.filter((r) => r.atthasdef).map((r) => String(r.attname))),
    indexes: new Map(idx.map((r) => [String(r.relname), Boolean(r.indisunique)])),
    constraints: new Map(cons.map((r) => [String(r.conname), Boolean(r.convalidated)])),
  };
}

/** The tables of `tables` that exist in the target (a table created at the source after the snapshot is not replicated). */
export async function presentTables(client: pg.ClientBase | pg.Pool, tables: readonly TableSchema[]): Promise<TableSchema[]> {
  const { rows } = await client.query('SELECT n AS name FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL', [tables.map((t) => qualified(t.target))]);
  const present = new Set(rows.map((r) => String(r.name)));
  return tables.filter((t) => present.has(qualified(t.target)));
}

/**
 * Brings the target's constraints to the source's, in `client`'s transaction: a violation fails a
 * statement and rolls everything back (findViolations then names the rows). What the target cannot
 * carry is logged, as `ferry plan` lists it.
 */
export async function finalizeConstraints(client: pg.ClientBase, tables: readonly TableSchema[], log: Logger): Promise<void> {
  const present = await presentTables(client, tables);
  const catalogs = new Map<TableSchema, TableCatalog>();
  for (const t of present) catalogs.set(t, await readCatalog(client, t));
  for (const t of present) {
    const cat = catalogs.get(t)!;
    const alter: string[] = [];
    for (const c of t.columns) {
      const d = defaultSql(t, c);
      if (d && 'sql' in d && !cat.defaulted.has(c.name)) alter.push(`ALTER COLUMN ${quoteIdent(c.name)} SET DEFAULT ${d.sql}`);
    }
    const deferred = t.columns.filter((c) => !c.nullable && cat.nullable.has(c.name));
    if (deferred.length > 0) {
      const counts = await nullCounts(
        client,
        t,
        deferred.map((c) => c.name),
      );
      for (const c of deferred) {
        if (counts[c.name] === 0) alter.push(`ALTER COLUMN ${quoteIdent(c.name)} SET NOT NULL`);
        else
          log.warn(
            { table: tableKey(t.target), column: c.name, nulls: counts[c.name] },
            `${tableKey(t.target)}.${c.name} stays nullable: NOT NULL at the source, but ${counts[c.name]} row(s) hold NULL in the target (zero dates, which ferry writes as NULL)`,
          );
      }
    }
    if (alter.length > 0) await client.query(`ALTER TABLE ${qualified(t.target)} ${alter.join(', ')}`);
    for (const i of t.indexes.filter((x) => x.unique)) {
      const sql = uniqueIndexSql(t, i);
      if (cat.indexes.get(sql.name) === true) continue;
      await client.query(sql.drop);
      await client.query(sql.create);
    }
  }
  // Checks, then foreign keys, which may reference the unique indexes just made.
  for (const t of present) {
    const cat = catalogs.get(t)!;
    const wanted = [
      ...(t.checks ?? [])
        .filter((ck) => !impliedByType(t, ck))
        .map((ck) => ({ what: `check ${ck.name}`, name: constraintName(ck.name), def: checkSql(t, ck) })),
      ...(t.foreignKeys ?? []).map((fk) => ({ what: `foreign key ${fk.name}`, name: constraintName(fk.name), def: foreignKeySql(fk, present) })),
    ];
    for (const w of wanted) {
      if ('reason' in w.def) {
        log.warn({ table: tableKey(t.target), constraint: w.name }, `${w.what} of ${tableKey(t.source)} is not carried to the target: ${w.def.reason}`);
        continue;
      }
      // NOT VALID, then VALIDATE: a constraint an earlier attempt left unvalidated is validated as it is.
      // Postgres takes no NOT VALID constraint on a partitioned table: there it is validated as it is added.
      const validated = cat.constraints.get(w.name);
      const partitioned = t.engine === 'postgres' && t.partitioning !== undefined;
      if (validated === undefined)
        await client.query(`ALTER TABLE ${qualified(t.target)} ADD CONSTRAINT ${quoteIdent(w.name)} ${w.def.sql}${partitioned ? '' : ' NOT VALID'}`);
      if (validated === false || (validated === undefined && !partitioned))
        await client.query(`ALTER TABLE ${qualified(t.target)} VALIDATE CONSTRAINT ${quoteIdent(w.name)}`);
    }
  }
}

async function nullCounts(client: pg.ClientBase, t: TableSchema, columns: readonly string[]): Promise<Record<string, number>> {
  const { rows } = await client.query(
    `SELECT ${columns.map((c, i) => `count(*) FILTER (WHERE ${quoteIdent(c)} IS NULL) AS n${i}`).join(', ')} FROM ${qualified(t.target)}`,
  );
  return Object.fromEntries(columns.map((c, i) => [c, Number(rows[0][`n${i}`])]));
}

/** The first rows of the target that break each constraint finalizeConstraints would create: why it failed, by name. */
export async function findViolations(pool: pg.Pool, tables: readonly TableSchema[]): Promise<ConstraintViolation[]> {
  const present = await presentTables(pool, tables);
  const found: ConstraintViolation[] = [];
  const probe = async (t: TableSchema, constraint: string, sql: string) => {
    const { rows } = await pool.query(sql);
    if (rows.length > 0) found.push({ table: t.target, constraint, rows: rows as Record<string, Value>[] });
  };
  for (const t of present) {
    const key = (extra: readonly string[]) => [...new Set([...t.primaryKey, ...extra])].map((c) => `t.${quoteIdent(c)}`).join(', ');
    for (const i of t.indexes.filter((x) => x.unique)) {
      const cols = i.columns.map(quoteIdent).join(', ');
      await probe(
        t,
        `unique index ${i.name}`,
        `SELECT ${key(i.columns)} FROM ${qualified(t.target)} t WHERE (${i.columns.map((c) => `t.${quoteIdent(c)}`).join(', ')}) IN ` +
          `(SELECT ${cols} FROM ${qualified(t.target)} WHERE ${i.columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')} GROUP BY ${cols} HAVING count(*) > 1) ORDER BY ${[...i.columns, ...t.primaryKey].map((c) => `t.${quoteIdent(c)}`).join(', ')} LIMIT ${VIOLATION_ROWS}`,
      );
    }
    for (const ck of t.checks ?? []) {
      const def = checkSql(t, ck);
      if ('sql' in def && !impliedByType(t, ck))
        await probe(
          t,
          `check ${ck.name}`,
          `SELECT ${t.primaryKey.length ? key([]) : 't.*'} FROM ${qualified(t.target)} t WHERE NOT ${def.sql.replace(/^CHECK /, '')} LIMIT ${VIOLATION_ROWS}`,
        );
    }
    for (const fk of t.foreignKeys ?? []) {
      const parent = referencedTable(fk, present);
      if (!parent || 'reason' in foreignKeySql(fk, present)) continue;
      const match = fk.columns.map((c, j) => `p.${quoteIdent(fk.referencedColumns[j]!)} = t.${quoteIdent(c)}`).join(' AND ');
      await probe(
        t,
        `foreign key ${fk.name}`,
        `SELECT ${key(fk.columns)} FROM ${qualified(t.target)} t WHERE ${fk.columns.map((c) => `t.${quoteIdent(c)} IS NOT NULL`).join(' AND ')} ` +
          `AND NOT EXISTS (SELECT 1 FROM ${qualified(parent.target)} p WHERE ${match}) LIMIT ${VIOLATION_ROWS}`,
      );
    }
  }
  return found;
}
