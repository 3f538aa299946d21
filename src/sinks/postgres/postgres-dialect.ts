import type { Row, TableId, Value } from '../../core/change-event.js';
import type { Column, ColumnType, Partitioning, TableSchema } from '../../core/schema.js';
import type { Translation } from '../../core/schema-fidelity.js';
import { FerryError } from '../../core/errors.js';
import { indexName, qualified, quoteIdent } from '../../engines/postgres/quoting.js';
import { knownBackfill } from '../column-drift.js';
import { backfillValue } from '../row-writes.js';

/**
 * The Postgres type for each of ferry's column types, spelled as format_type() prints it, so a
 * target table can be compared with what ferry would create. docs/type-mapping.md's type table lists the same cases.
 */
export function pgType(t: ColumnType): string {
  switch (t.kind) {
    case 'int':
      if (t.bytes === 8) return t.unsigned ? 'numeric(20,0)' : 'bigint';
      if (t.bytes === 4) return t.unsigned ? 'bigint' : 'integer';
      if (t.bytes === 3) return 'integer';
      if (t.bytes === 2) return t.unsigned ? 'integer' : 'smallint';
      return 'smallint';
    case 'bool':
      return 'boolean';
    case 'decimal':
      return t.precision === null ? 'numeric' : `numeric(${t.precision},${t.scale ?? 0})`;
    case 'float':
      return 'real';
    case 'double':
      return 'double precision';
    case 'date':
      return 'date';
    case 'datetime':
      return `timestamp(${t.fsp}) without time zone`;
    case 'timestamp':
      return `timestamp(${t.fsp}) with time zone`;
    case 'time':
      return 'interval';
    case 'year':
      return 'smallint';
    case 'string':
      return t.maxLength === null || t.maxLength === 0 ? 'text' : `character varying(${t.maxLength})`; // Postgres has no varchar(0)
    case 'binary':
      return 'bytea';
    case 'json':
      return 'jsonb';
    case 'enum':
    case 'set':
      return 'text';
    case 'bit':
      return `bit(${t.length})`;
    case 'uuid':
      return 'uuid';
    case 'interval':
      return 'interval';
    case 'inet':
      return 'inet';
    case 'array':
      return `${pgType(t.element)}[]`;
    case 'other':
      return 'text';
  }
}

/** The target column type: the source's own spelling when it is Postgres too (identity), else the mapped type. */
export function columnType(t: TableSchema, c: Column): string {
  return t.engine === 'postgres' ? c.sourceType : pgType(c.type);
}

/**
 * Array columns travel through unnest() as their text literal and are cast back per row: unnest
 * would flatten an array of arrays.
 */
function isArray(t: TableSchema, c: Column): boolean {
  return c.type.kind === 'array' || columnType(t, c).endsWith(']');
}

function paramType(t: TableSchema, c: Column): string {
  return isArray(t, c) ? 'text' : columnType(t, c);
}

function unnestColumn(t: TableSchema, c: Column): string {
  return isArray(t, c) ? `u.${quoteIdent(c.name)}::${columnType(t, c)}` : `u.${quoteIdent(c.name)}`;
}

/** Enum types (of enum and enum-array columns) a Postgres-to-Postgres table needs, with their labels. */
export function enumTypes(t: TableSchema): { name: string; labels: readonly string[] }[] {
  if (t.engine !== 'postgres') return [];
  return t.columns.flatMap((c) => {
    if (c.type.kind === 'enum') return [{ name: c.sourceType, labels: c.type.values }];
    if (c.type.kind === 'array' && c.type.element.kind === 'enum') return [{ name: c.sourceType.replace(/\[\]$/, ''), labels: c.type.element.values }];
    return [];
  });
}

/** `CREATE TYPE … AS ENUM`, and its schema, for a type name as format_type prints it qualified (`public.mood`, `"My S"."T"`). */
export function createEnumSql(name: string, labels: readonly string[]): string[] {
  const schema = /^("(?:[^"]|"")+"|[^."]+)\./.exec(name)?.[1];
  const create = `CREATE TYPE ${name} AS ENUM (${labels.map((l) => `'${l.replace(/'/g, "''")}'`).join(', ')})`;
  return schema ? [`CREATE SCHEMA IF NOT EXISTS ${schema}`, create] : [create];
}

/** Integer types Postgres can back with an identity (auto-increment keys). */
function identityCapable(t: ColumnType): boolean {
  return t.kind === 'int' && !(t.bytes === 8 && t.unsigned);
}

/**
 * A canonical value as Postgres input. Only TIMESTAMP needs a change: the source holds UTC
 * wall-clock text, which becomes an explicit UTC instant.
 */
export function toPg(t: ColumnType, v: Value, table: TableId, column: string): Value {
  if (v === null) return null;
  if (typeof v === 'string' && v.includes('\u0000')) {
    throw new FerryError('fatal', `table ${qualified(table)}, column ${column}: the value contains a NUL character, which Postgres text cannot store`, {
      hint: 'clean the value at the source, or exclude the table',
    });
  }
  if (t.kind !== 'timestamp' || String(v).endsWith('infinity')) return v;
  const s = String(v);
  return s.endsWith(' BC') ? `${s.slice(0, -3)}+00 BC` : `${s}+00`;
}

/** Kinds whose values' text never holds a NUL or a character COPY escapes. */
const PLAIN_KINDS: ReadonlySet<ColumnType['kind']> = new Set(['int', 'bool', 'decimal', 'float', 'double', 'date', 'datetime', 'year', 'uuid']);

/** Column `c`'s COPY text encoder: toPg then copyField, without the checks its kind never needs (the hot path of a snapshot). */
export function copyEncoder(t: TableSchema, c: Column): (v: Value) => string {
  if (PLAIN_KINDS.has(c.type.kind)) return (v) => (v === null ? '\\N' : typeof v === 'string' ? v : copyField(v));
  return (v) => copyField(toPg(c.type, v, t.target, c.name));
}

/** One field in COPY text format. */
export function copyField(v: Value): string {
  if (v === null) return '\\N';
  if (Buffer.isBuffer(v)) return `\\\\x${v.toString('hex')}`;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  return COPY_SPECIAL.test(v) ? v.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]!) : v;
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIALS = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Whether column `c` is NOT NULL from the table's creation on. A MySQL source's zero dates arrive as
 * NULL (ferry's zero-date policy: Postgres has none), so its NOT NULL temporal non-key columns wait
 * for the cutover's finalizing step, which makes them NOT NULL where no NULL arrived.
 */
export function notNullAtCreate(t: TableSchema, c: Column): boolean {
  return !c.nullable && (t.primaryKey.includes(c.name) || t.engine !== 'mysql' || !ZERO_DATE_KINDS.has(c.type.kind));
}

const ZERO_DATE_KINDS = new Set(['date', 'datetime', 'timestamp']);

function columnDef(t: TableSchema, c: Column, isKey: boolean): string {
  const identity = c.autoIncrement && isKey && identityCapable(c.type) ? ' GENERATED BY DEFAULT AS IDENTITY' : '';
  const declared = defaultSql(t, c);
  const def = declared && 'sql' in declared ? ` DEFAULT ${declared.sql}` : '';
  return `${quoteIdent(c.name)} ${columnType(t, c)}${notNullAtCreate(t, c) ? ' NOT NULL' : ''}${def}${identity}`;
}

/**
 * The DEFAULT the target declares for `c`, or why it has none; null when the source declares none.
 * From Postgres, the source's own text, unless it names an object ferry does not create (a function
 * of the database's own, a domain); from MySQL, constants through the literal writer and the current
 * time as CURRENT_TIMESTAMP (TIMESTAMP → timestamptz) or LOCALTIMESTAMP (DATETIME → timestamp);
 * MySQL expressions are not translated.
 */
export function defaultSql(t: TableSchema, c: Column): Translation | null {
  const d = c.default;
  if (!d) return null;
  if (t.engine === 'postgres') {
    const foreign = foreignName(t, d.text);
    if (!foreign) return { sql: d.text };
    return d.kind === 'literal'
      ? literalDefault(t, c, d.value, d.text)
      : { reason: `${d.text} uses ${foreign}, which ferry does not create in the target: set the default by hand after creating it` };
  }
  switch (d.kind) {
    case 'literal':
      return literalDefault(t, c, d.value, d.text);
    case 'now':
      if (c.type.kind === 'timestamp') return { sql: 'CURRENT_TIMESTAMP' };
      if (c.type.kind === 'datetime') return { sql: 'LOCALTIMESTAMP' };
      return { reason: `the current time (${d.text}) as the default of a ${columnType(t, c)} column: set a default by hand` };
    case 'expression':
      return { reason: `${d.text} is an expression in MySQL's SQL, which ferry does not translate: set the default by hand` };
  }
}

function literalDefault(t: TableSchema, c: Column, value: Value, text: string): Translation {
  // ferry's zero-date policy: a zero-date default would be the NULL the column already defaults to.
  if (value === null) return { reason: `${text} is a zero date, which ferry writes as NULL (the column's default in the target)` };
  try {
    return { sql: pgLiteral(c.type, value, t.target, c.name) };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

/** A schema-qualified name in Postgres SQL text (outside its string literals) other than the table's enum types, which ferry creates. */
export function foreignName(t: TableSchema, text: string): string | null {
  const ident = '(?:"(?:[^"]|"")+"|[A-Za-z_][\\w$]*)';
  let code = text.replace(/'(?:[^']|'')*'/g, "''");
  for (const e of enumTypes(t)) code = code.split(e.name).join('');
  return new RegExp(`${ident}\\s*\\.\\s*${ident}`).exec(code)?.[0] ?? null;
}

/** The table, with its primary key unless `keyLater` (primaryKeySql adds it after the snapshot's load). */
export function createTableSql(t: TableSchema, keyLater = false): string {
  const cols = t.columns.map((c) => columnDef(t, c, t.primaryKey.includes(c.name)));
  const pk = t.primaryKey.length && !keyLater ? [`PRIMARY KEY (${t.primaryKey.map(quoteIdent).join(', ')})`] : [];
  return `CREATE TABLE IF NOT EXISTS ${qualified(t.target)} (\n  ${[...cols, ...pk].join(',\n  ')}\n)`;
}

/**
 * A Postgres partitioned table as the source has it: the table, with its primary key (Postgres adds
 * none over an index to a partitioned table later), then each partition after its parent. Partitions
 * go into the table's target schema; IF NOT EXISTS makes only those the target lacks.
 */
export function createPartitionedTableSql(t: TableSchema, p: Partitioning): string[] {
  return [`${createTableSql(t)} PARTITION BY ${p.by}`, ...partitionsSql(t.target, p)];
}

function partitionsSql(parent: TableId, p: Partitioning): string[] {
  return p.partitions.flatMap((part) => {
    const table = { schema: parent.schema, name: part.name };
    const sub = part.partitioning;
    const create = `CREATE TABLE IF NOT EXISTS ${qualified(table)} PARTITION OF ${qualified(parent)} ${part.bound}${sub ? ` PARTITION BY ${sub.by}` : ''}`;
    return [create, ...(sub ? partitionsSql(table, sub) : [])];
  });
}

/** The name of the primary key ferry gives a table it creates, index and constraint alike (Postgres's own default). */
function primaryKeyName(t: TableSchema): string {
  return quoteIdent(indexName(t.target.name, 'pkey'));
}

/**
 * A primary key added after a load, in two steps: the unique index (which may be built while other
 * indexes of the table are), then the constraint over it, which is only a catalog change.
 */
export function primaryKeySql(t: TableSchema): { index: string; constraint: string } {
  return {
    index: `CREATE UNIQUE INDEX IF NOT EXISTS ${primaryKeyName(t)} ON ${qualified(t.target)} (${t.primaryKey.map(quoteIdent).join(', ')})`,
    constraint: `ALTER TABLE ${qualified(t.target)} ADD CONSTRAINT ${primaryKeyName(t)} PRIMARY KEY USING INDEX ${primaryKeyName(t)}`,
  };
}

/** A Postgres literal for a canonical value. */
export function pgLiteral(t: ColumnType, v: Value, table: TableId, column: string): string {
  const pg = toPg(t, v, table, column);
  if (pg === null) return 'NULL';
  if (typeof pg === 'number' || typeof pg === 'boolean') return String(pg);
  const text = Buffer.isBuffer(pg) ? `\\x${pg.toString('hex')}` : pg;
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Adds a column the source added. Rows already in the table get the value the source gave them (its
 * default, or MySQL's implicit one) through a DEFAULT, which then becomes the source's own default
 * (or none). NOT NULL as at the source, where every row has a value: rows replayed after a restart
 * that predate the column are written with that value too (targetValue).
 */
export function addColumnSql(t: TableSchema, c: Column): string[] {
  const backfill = knownBackfill(qualified(t.target), c);
  const declared = defaultSql(t, c);
  const target = declared && 'sql' in declared ? declared.sql : null;
  const notNull = backfill !== null && notNullAtCreate(t, c) ? ' NOT NULL' : '';
  const add = `ALTER TABLE ${qualified(t.target)} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${columnType(t, c)}${notNull}`;
  const alter = `ALTER TABLE ${qualified(t.target)} ALTER COLUMN ${quoteIdent(c.name)}`;
  // A DEFAULT in the ADD would fill the existing rows: it is the backfill's, then the column's own.
  if (backfill === null) return target === null ? [add] : [add, `${alter} SET DEFAULT ${target}`];
  if (target !== null && c.default?.kind === 'literal' && sameValue(c.default.value, backfill)) return [`${add} DEFAULT ${target}`];
  const fill = pgLiteral(c.type, backfill, t.target, c.name);
  return [`${add} DEFAULT ${fill}`, target === null ? `${alter} DROP DEFAULT` : `${alter} SET DEFAULT ${target}`];
}

function sameValue(a: Value, b: Value): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}

/**
 * Secondary indexes, all non-unique: the source enforces uniqueness, and a replica applying
 * set-based batches (or replaying from the earliest snapshot position) passes through states
 * where two rows briefly share a value. Uniqueness belongs to the target after cutover.
 */
export function createIndexSql(t: TableSchema): string[] {
  return t.indexes.map((i) => {
    const name = indexName(t.target.name, i.name);
    return `CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${qualified(t.target)} (${i.columns.map(quoteIdent).join(', ')})`;
  });
}

/** Moves identity sequences past the largest key, so target inserts after cutover do not collide. */
export function resetIdentitySql(t: TableSchema): string[] {
  return t.columns
    .filter((c) => c.autoIncrement && t.primaryKey.includes(c.name) && identityCapable(c.type))
    .map((c) => {
      const col = quoteIdent(c.name);
      return `SELECT setval(pg_get_serial_sequence('${qualified(t.target).replace(/'/g, "''")}', '${c.name.replace(/'/g, "''")}'), GREATEST(max(${col}), 1), max(${col}) IS NOT NULL) FROM ${qualified(t.target)}`;
    });
}

export function copySql(t: TableSchema): string {
  return `COPY ${qualified(t.target)} (${t.columns.map((c) => quoteIdent(c.name)).join(', ')}) FROM STDIN`;
}

/**
 * Set-based upsert, one array parameter per table column. On conflict only `updated` columns are
 * set: a row image that lacks a column was written before the column existed and must not touch it.
 */
export function upsertSql(t: TableSchema, updated: readonly Column[]): string {
  const names = t.columns.map((c) => quoteIdent(c.name));
  const arrays = t.columns.map((c, i) => `$${i + 1}::${paramType(t, c)}[]`);
  return `INSERT INTO ${qualified(t.target)} (${names.join(', ')}) SELECT ${t.columns.map((c) => unnestColumn(t, c)).join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${names.join(', ')}) ${onConflict(t, updated)}`;
}

function onConflict(t: TableSchema, updated: readonly Column[]): string {
  const nonKey = updated.filter((c) => !t.primaryKey.includes(c.name));
  const action = nonKey.length ? `DO UPDATE SET ${nonKey.map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`).join(', ')}` : 'DO NOTHING';
  return `ON CONFLICT (${t.primaryKey.map(quoteIdent).join(', ')}) ${action}`;
}

/**
 * The stage of a large upsert: a temporary table shaped like the target (a session's own, emptied at
 * commit), which COPY fills faster than array parameters can carry the rows. One per table and column
 * list, so a table that gained columns gets a new one.
 */
export function stageTable(t: TableSchema): string {
  const signature = `${qualified(t.target)}(${t.columns.map((c) => quoteIdent(c.name)).join(',')})`;
  let name = stages.get(signature);
  if (!name) stages.set(signature, (name = quoteIdent(`ferry_stage_${stages.size}`)));
  return name;
}

const stages = new Map<string, string>();

export function createStageSql(t: TableSchema): string {
  return `CREATE TEMP TABLE IF NOT EXISTS ${stageTable(t)} (LIKE ${qualified(t.target)}) ON COMMIT DELETE ROWS`;
}

export function copyStageSql(t: TableSchema): string {
  return `COPY ${stageTable(t)} (${t.columns.map((c) => quoteIdent(c.name)).join(', ')}) FROM STDIN`;
}

/** Upserts the staged rows, then empties the stage for the next piece of the same transaction. */
export function upsertFromStageSql(t: TableSchema): string {
  const names = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `INSERT INTO ${qualified(t.target)} (${names}) SELECT ${names} FROM ${stageTable(t)} ${onConflict(t, t.columns)}; TRUNCATE ${stageTable(t)}`;
}

/** The ordinal of each key in the parameter arrays, under a name no table column has. */
const ORDINAL = quoteIdent('ferry ordinal');

/**
 * `statement` (a DELETE … USING or UPDATE … FROM over `source`, the parameter arrays as `alias`, which
 * returns their ordinal) answering with how many keys found no row, and the first of them (1-based).
 */
function missesOf(source: string, alias: string, statement: string): string {
  return `WITH ${alias} AS (SELECT * FROM ${source}), hit AS (${statement} RETURNING ${alias}.${ORDINAL})
    SELECT count(*)::int AS missing, min(${ORDINAL})::int AS first FROM ${alias} WHERE ${ORDINAL} NOT IN (SELECT ${ORDINAL} FROM hit)`;
}

/**
 * Set-based patch: sets `set` columns on the rows matched by key (key arrays first, then the set
 * columns' arrays). Columns not named keep their target values (unchanged TOAST values).
 */
export function patchSql(t: TableSchema, set: readonly Column[]): string {
  const p = patchParts(t, set);
  return `${p.update} FROM unnest(${p.arrays}) AS u(${p.names.join(', ')}) WHERE ${p.match}`;
}

/** patchSql that answers which keys found no row (missing, first): a target in step has every one. */
export function patchMissesSql(t: TableSchema, set: readonly Column[]): string {
  const p = patchParts(t, set);
  return missesOf(`unnest(${p.arrays}) WITH ORDINALITY AS u(${[...p.names, ORDINAL].join(', ')})`, 'u', `${p.update} FROM u WHERE ${p.match}`);
}

function patchParts(t: TableSchema, set: readonly Column[]): { update: string; arrays: string; names: string[]; match: string } {
  const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
  const arrays = [...keyCols, ...set].map((c, i) => `$${i + 1}::${paramType(t, c)}[]`).join(', ');
  // Match columns get names no table column has: a column may be called like any plain alias.
  const matchName = (i: number) => quoteIdent(`ferry match ${i}`);
  const names = [...keyCols.map((_, i) => matchName(i)), ...set.map((c) => quoteIdent(c.name))];
  const match = keyCols.map((c, i) => `t.${quoteIdent(c.name)} = u.${matchName(i)}`).join(' AND ');
  return {
    update: `UPDATE ${qualified(t.target)} AS t SET ${set.map((c) => `${quoteIdent(c.name)} = ${unnestColumn(t, c)}`).join(', ')}`,
    arrays,
    names,
    match,
  };
}

export function deleteSql(t: TableSchema): string {
  const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
  const arrays = keyCols.map((c, i) => `$${i + 1}::${paramType(t, c)}[]`);
  const match = keyCols.map((c) => `t.${quoteIdent(c.name)} = k.${quoteIdent(c.name)}`).join(' AND ');
  return `DELETE FROM ${qualified(t.target)} AS t USING unnest(${arrays.join(', ')}) AS k(${keyCols.map((c) => quoteIdent(c.name)).join(', ')}) WHERE ${match}`;
}

/** deleteSql that answers which keys found no row (missing, first): a target in step has every one. */
export function deleteMissesSql(t: TableSchema): string {
  const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
  const arrays = keyCols.map((c, i) => `$${i + 1}::${paramType(t, c)}[]`);
  const match = keyCols.map((c) => `t.${quoteIdent(c.name)} = k.${quoteIdent(c.name)}`).join(' AND ');
  const source = `unnest(${arrays.join(', ')}) WITH ORDINALITY AS k(${[...keyCols.map((c) => quoteIdent(c.name)), ORDINAL].join(', ')})`;
  return missesOf(source, 'k', `DELETE FROM ${qualified(t.target)} AS t USING k WHERE ${match}`);
}

/**
 * Column-major parameters for upsertSql/deleteSql. A row image without a column predates it (an
 * event written before ADD COLUMN): such a row holds what the source gave existing rows.
 */
export function columnArrays(t: TableSchema, columns: readonly Column[], rows: readonly Row[]): Value[][] {
  return columns.map((c) => rows.map((r) => targetValue(t, c, r)));
}

/** One row's parameters, a value per column, for insertRowSql/deleteRowSql/updateRowSql. */
export function rowParams(t: TableSchema, row: Row): Value[] {
  return t.columns.map((c) => targetValue(t, c, row));
}

function targetValue(t: TableSchema, c: Column, r: Row): Value {
  return toPg(c.type, c.name in r ? r[c.name]! : backfillValue(t, c), t.target, c.name);
}

/**
 * A column as the text its type prints. A cast to text would differ for character(n) (trailing
 * spaces dropped) and inet (a /32 added), so those go through format(), which uses the output function.
 */
function textForm(t: TableSchema, c: Column): string {
  const col = `t.${quoteIdent(c.name)}`;
  return /^(character\(|inet$|cidr$)/.test(columnType(t, c)) ? `CASE WHEN ${col} IS NULL THEN NULL ELSE format('%s', ${col}) END` : `${col}::text`;
}

/** Keyset page of a table with every column as text (verify compares text forms). */
export function readRowsSql(t: TableSchema, after: boolean, limit: number): string {
  const cols = t.columns.map((c) => `${textForm(t, c)} AS ${quoteIdent(c.name)}`).join(', ');
  const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
  // Qualified: the text aliases share the key columns' names and would otherwise order as text.
  const key = keyCols.map((c) => `t.${quoteIdent(c.name)}`).join(', ');
  const where = after ? `WHERE (${key}) > (${keyCols.map((c, i) => `$${i + 1}::${columnType(t, c)}`).join(', ')})` : '';
  const order = key ? `ORDER BY ${key}` : ''; // a table without a key is read in one page
  return `SELECT ${cols} FROM ${qualified(t.target)} AS t ${where} ${order} LIMIT ${Number(limit)}`;
}

/** Parameter `$n` as a value of column `c` (arrays travel as their text literal). */
function param(t: TableSchema, c: Column, n: number): string {
  return isArray(t, c) ? `$${n}::text::${columnType(t, c)}` : `$${n}::${columnType(t, c)}`;
}

/** One row of a table without a primary key. */
export function insertRowSql(t: TableSchema): string {
  return `INSERT INTO ${qualified(t.target)} (${t.columns.map((c) => quoteIdent(c.name)).join(', ')}) VALUES (${t.columns.map((c, i) => param(t, c, i + 1)).join(', ')})`;
}

/**
 * The one row (of possibly several equal ones) whose columns all equal parameters `$first…`, compared
 * as text so that every type, json included, has an equality.
 */
function oneEqualRow(t: TableSchema, first: number): string {
  const match = t.columns.map((c, i) => `${quoteIdent(c.name)}::text IS NOT DISTINCT FROM (${param(t, c, first + i)})::text`).join(' AND ');
  return `ctid = (SELECT ctid FROM ${qualified(t.target)} WHERE ${match} LIMIT 1)`;
}

/** Deletes one row equal to the parameters (one per column). */
export function deleteRowSql(t: TableSchema): string {
  return `DELETE FROM ${qualified(t.target)} WHERE ${oneEqualRow(t, 1)}`;
}

/** Sets every column of one row equal to the old image (parameters after the new image's). */
export function updateRowSql(t: TableSchema): string {
  const set = t.columns.map((c, i) => `${quoteIdent(c.name)} = ${param(t, c, i + 1)}`).join(', ');
  return `UPDATE ${qualified(t.target)} SET ${set} WHERE ${oneEqualRow(t, t.columns.length + 1)}`;
}
