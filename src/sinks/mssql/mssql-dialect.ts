import type { Value } from '../../core/change-event.js';
import { FerryError } from '../../core/errors.js';
import type { Column, ColumnType, Engine, TableSchema } from '../../core/schema.js';
import type { Translation } from '../../core/schema-fidelity.js';
import { constraintName, indexName, qualified, quoteIdent, textLiteral } from '../../engines/mssql/quoting.js';
import { knownBackfill } from '../column-drift.js';

/**
 * The collation of every text column ferry creates: code-point equality and order, as Postgres and
 * MySQL's `_bin` collations compare, so `'a'` and `'A'` stay two keys (the database's default is
 * usually case-insensitive). SQL Server ignores trailing spaces in `=` whatever the collation.
 */
export const TEXT_COLLATION = 'Latin1_General_100_BIN2';

/** nvarchar(n) counts UTF-16 code units, at most 4000 (8000 bytes); longer is nvarchar(max). */
const MAX_NVARCHAR = 4000;
const MAX_BINARY = 8000;
/** Index key limits: 900 bytes for a clustered index (the primary key), 1700 for a nonclustered one. */
export const CLUSTERED_KEY_BYTES = 900;
export const NONCLUSTERED_KEY_BYTES = 1700;
/** decimal's 38 digits; an unconstrained Postgres numeric gets 10 of them after the point. */
const DECIMAL_DIGITS = 38;
const UNCONSTRAINED_SCALE = 10;

/** A string of at most `units` UTF-16 code units, or of at most `keyBytes` bytes as part of an index key. */
function nvarchar(units: number | null, keyBytes: number | null): string {
  if (keyBytes !== null) {
    const fit = Math.max(1, Math.floor(keyBytes / 2));
    return `nvarchar(${units === null ? fit : Math.max(1, Math.min(units, fit))})`;
  }
  return units === null || units > MAX_NVARCHAR ? 'nvarchar(max)' : `nvarchar(${Math.max(1, units)})`;
}

/**
 * The SQL Server type for one of ferry's column types (docs/type-mapping.md's SQL Server tables).
 * Lengths in characters become UTF-16 code units, two per character, so characters beyond the BMP
 * (emoji) fit as they do in MySQL and Postgres. `keyBytes` is the room a primary-key column has in
 * the clustered index key: text and binary key columns are narrowed to it.
 */
export function mssqlType(t: ColumnType, keyBytes: number | null = null): string {
  switch (t.kind) {
    case 'int':
      if (t.bytes === 1) return t.unsigned ? 'tinyint' : 'smallint'; // SQL Server's tinyint is 0…255
      if (t.bytes === 2) return t.unsigned ? 'int' : 'smallint';
      if (t.bytes <= 4) return t.unsigned && t.bytes === 4 ? 'bigint' : 'int';
      return t.unsigned ? 'decimal(20,0)' : 'bigint';
    case 'bool':
      return 'bit';
    case 'decimal': {
      if (t.precision === null) return `decimal(${DECIMAL_DIGITS},${UNCONSTRAINED_SCALE})`;
      // Postgres allows a negative scale (rounding to tens, hundreds) and a scale above the precision.
      const scale = t.scale ?? 0;
      const digits = scale < 0 ? t.precision - scale : Math.max(t.precision, scale);
      return `decimal(${Math.min(Math.max(digits, 1), DECIMAL_DIGITS)},${Math.min(Math.max(scale, 0), DECIMAL_DIGITS)})`;
    }
    case 'float':
      return 'real';
    case 'double':
      return 'float';
    case 'date':
      return 'date';
    case 'datetime':
      return `datetime2(${Math.min(t.fsp, 7)})`;
    case 'timestamp':
      return `datetimeoffset(${Math.min(t.fsp, 7)})`;
    case 'time':
      return `time(${Math.min(t.fsp, 7)})`;
    case 'year':
      return 'smallint';
    case 'string':
      return nvarchar(t.maxLength === null ? null : 2 * t.maxLength, keyBytes);
    case 'binary':
      if (keyBytes !== null) return `varbinary(${Math.max(1, Math.min(t.fixedLength ?? keyBytes, keyBytes))})`;
      return t.fixedLength !== null && t.fixedLength <= MAX_BINARY ? `binary(${Math.max(1, t.fixedLength)})` : 'varbinary(max)';
    case 'json':
    case 'array':
    case 'other':
      return nvarchar(null, keyBytes);
    case 'enum':
      return nvarchar(Math.max(1, ...t.values.map((v) => v.length)), keyBytes);
    case 'set':
      return nvarchar(
        t.values.reduce((n, v) => n + v.length + 1, 0),
        keyBytes,
      );
    case 'bit':
      return t.length === 1 ? 'bit' : nvarchar(t.length, keyBytes);
    case 'uuid':
      return 'uniqueidentifier';
    case 'interval':
      return nvarchar(100, keyBytes);
    case 'inet':
      return nvarchar(43, keyBytes);
  }
}

/** Bytes a value of `type` (as mssqlType spells it) takes in an index key at most; Infinity for a (max) type. */
export function keyBytesOf(type: string): number {
  const m = /^([a-z0-9]+)(?:\((max|\d+)(?:,(\d+))?\))?$/.exec(type);
  if (!m) return Number.POSITIVE_INFINITY;
  const [, base, arg] = m;
  if (arg === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(arg ?? 0);
  const scaled = (small: number) => small + (n < 3 ? 0 : n < 5 ? 1 : 2); // time's precision: 0-2, 3-4, 5-7
  switch (base) {
    case 'bit':
    case 'tinyint':
      return 1;
    case 'smallint':
      return 2;
    case 'int':
    case 'real':
      return 4;
    case 'bigint':
    case 'float':
      return 8;
    case 'decimal':
      return n <= 9 ? 5 : n <= 19 ? 9 : n <= 28 ? 13 : 17;
    case 'date':
      return 3;
    case 'time':
      return scaled(3);
    case 'datetime2':
      return scaled(6);
    case 'datetimeoffset':
      return scaled(8);
    case 'uniqueidentifier':
      return 16;
    case 'nvarchar':
      return 2 * n;
    case 'binary':
    case 'varbinary':
      return n;
    default:
      return Number.POSITIVE_INFINITY;
  }
}

/** Whether SQL Server stores `type` at its declared size or less, so narrowing it to an index key's room changes nothing else. */
function variableLength(type: string): boolean {
  return /^(nvarchar|varbinary)\(/.test(type);
}

/**
 * The types of `t`'s primary-key columns within the clustered key's 900 bytes: fixed-size columns
 * keep theirs, and the text and binary ones share what is left, the shortest first (a varchar(10)
 * keeps its 10 characters, an unbounded text gets the rest).
 */
function keyTypes(t: TableSchema): Map<string, string> {
  const cols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
  const types = new Map(cols.map((c) => [c.name, mssqlType(c.type)]));
  const variable = cols.filter((c) => variableLength(types.get(c.name)!));
  const fixed = cols.filter((c) => !variable.includes(c)).reduce((n, c) => n + keyBytesOf(types.get(c.name)!), 0);
  let room = CLUSTERED_KEY_BYTES - fixed;
  const byNeed = [...variable].sort((a, b) => keyBytesOf(types.get(a.name)!) - keyBytesOf(types.get(b.name)!));
  byNeed.forEach((c, i) => {
    const need = keyBytesOf(types.get(c.name)!);
    const share = Math.floor(room / (byNeed.length - i));
    if (need > share) types.set(c.name, mssqlType(c.type, share));
    room -= Math.min(need, share);
  });
  return types;
}

/** The target column type of `c`; within table `t`, a primary-key column's type fits the clustered key. */
export function columnType(c: Column, t?: TableSchema): string {
  if (t?.primaryKey.includes(c.name)) return keyTypes(t).get(c.name)!;
  return mssqlType(c.type);
}

/**
 * Whether the source tells apart text that differs only in trailing spaces, which SQL Server's `=`
 * takes as equal: Postgres, and MySQL's NO PAD collations (`utf8mb4_0900_*`, `*_nopad_*`).
 */
export function trailingSpacesDiffer(t: TableSchema, c: Column): boolean {
  return t.engine === 'postgres' || (c.collation !== undefined && /_0900_|nopad/i.test(c.collation));
}

/** Whether `type` holds text, which ferry creates with TEXT_COLLATION. */
export function isText(type: string): boolean {
  return type.startsWith('nvarchar(');
}

/**
 * Whether column `c` is NOT NULL from the table's creation on: as at the source, except a MySQL
 * source's temporal non-key columns, whose zero dates arrive as NULL (ferry's zero-date policy); the
 * cutover's finalizing step makes those NOT NULL where no NULL arrived.
 */
export function notNullAtCreate(t: TableSchema, c: Column): boolean {
  return !c.nullable && (t.primaryKey.includes(c.name) || t.engine !== 'mysql' || !ZERO_DATE_KINDS.has(c.type.kind));
}

const ZERO_DATE_KINDS = new Set(['date', 'datetime', 'timestamp']);

/**
 * The column that becomes the table's IDENTITY: its auto-increment (MySQL) or identity/serial
 * (Postgres) column when it is part of the primary key, the first such. SQL Server allows one per
 * table; another auto-increment column is a plain integer.
 */
export function identityColumn(t: TableSchema): Column | undefined {
  return t.columns.find((c) => c.autoIncrement && c.type.kind === 'int' && t.primaryKey.includes(c.name));
}

/**
 * The CHECK a column's type carries in SQL Server: JSON text must parse, and an ENUM holds one of its
 * labels (and MySQL's '' for an invalid value, which a non-strict MySQL stores). ISJSON without a type
 * argument, the form every version since 2016 knows, accepts objects and arrays only, so the value is
 * tested inside [ ]: JSON scalars, which MySQL and Postgres allow at the top, pass too.
 */
export function columnCheck(c: Column): string | null {
  const col = quoteIdent(c.name);
  if (c.type.kind === 'json') return `ISJSON(N'[' + ${col} + N']') = 1`;
  if (c.type.kind === 'enum') {
    const labels = /^enum\(/i.test(c.sourceType) ? ['', ...c.type.values] : c.type.values;
    return `${col} IN (${labels.map(textLiteral).join(', ')})`;
  }
  return null;
}

/**
 * A column's definition: `[name] type [COLLATE …] NULL|NOT NULL [IDENTITY(1,1)] [CONSTRAINT … DEFAULT … [WITH VALUES]] [CHECK (…)]`.
 * Within table `t`, the type fits the primary key, NOT NULL and the IDENTITY are the table's, and the
 * DEFAULT is named (defaultName) so ferry finds it again; without it, the source's NOT NULL and an
 * unnamed DEFAULT. `o` overrides NOT NULL and the DEFAULT (`fill`: the expression, or null for none;
 * `fillName`: its name); `withValues` (ALTER TABLE … ADD only) is the DEFAULT's own clause, which
 * SQL Server reads right after its expression and not after a CHECK.
 */
export function columnDefinition(
  c: Column,
  t?: TableSchema,
  o: { notNull?: boolean; fill?: string | null; fillName?: string; withValues?: boolean } = {},
): string {
  const type = columnType(c, t);
  const identity = t !== undefined && identityColumn(t) === c;
  const declared = t ? defaultSql(t, c) : null;
  const def = identity ? null : o.fill !== undefined ? o.fill : declared && 'sql' in declared ? declared.sql : null;
  const name = o.fillName ?? (t ? defaultName(t, c) : null);
  const notNull = o.notNull ?? (t ? notNullAtCreate(t, c) : !c.nullable);
  const check = columnCheck(c);
  return (
    `${quoteIdent(c.name)} ${type}${isText(type) ? ` COLLATE ${TEXT_COLLATION}` : ''}${notNull ? ' NOT NULL' : ' NULL'}` +
    `${identity ? ' IDENTITY(1,1)' : ''}${def === null ? '' : `${name ? ` CONSTRAINT ${quoteIdent(name)}` : ''} DEFAULT ${def}${o.withValues ? ' WITH VALUES' : ''}`}` +
    `${check ? ` CHECK (${check})` : ''}`
  );
}

/**
 * The DEFAULT the target declares for `c`, or why it has none; null when the source declares none.
 * Constants through the literal writer; the current time as SYSDATETIMEOFFSET() on a datetimeoffset
 * (an instant, like the source's TIMESTAMP/timestamptz) and SYSUTCDATETIME() on a datetime2; other
 * expressions are the source engine's SQL, which ferry does not translate.
 */
export function defaultSql(t: TableSchema, c: Column): Translation | null {
  const d = c.default;
  if (!d) return null;
  switch (d.kind) {
    case 'literal':
      if (d.value === null) return { reason: `${d.text} is a zero date, which ferry writes as NULL (the column's default in the target)` };
      try {
        return { sql: literalSql(c.type, d.value) };
      } catch (err) {
        return { reason: (err as Error).message };
      }
    case 'now':
      if (c.type.kind === 'timestamp') return { sql: 'SYSDATETIMEOFFSET()' };
      if (c.type.kind === 'datetime') return { sql: 'SYSUTCDATETIME()' };
      return { reason: `the current time (${d.text}) as the default of a ${columnType(c, t)} column: set a default by hand` };
    case 'expression':
      return {
        reason: `${d.text} is an expression in ${SOURCE_SQL[t.engine]}, which ferry does not translate: set the default by hand`,
      };
  }
}

/** Whose SQL a source's default expression is. */
const SOURCE_SQL: Record<Engine, string> = { mysql: "MySQL's SQL", postgres: "Postgres's SQL" };

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A canonical value (change-event.ts) as a T-SQL literal of a column of type `t`; throws where SQL Server has no such value. */
export function literalSql(t: ColumnType, v: Exclude<Value, null>): string {
  const refuse = (why: string) => new FerryError('fatal', `${String(v)} ${why}`);
  switch (t.kind) {
    case 'int':
    case 'decimal':
    case 'float':
    case 'double':
    case 'year': {
      const text = String(v);
      if (!NUMBER.test(text)) throw refuse('has no SQL Server number value');
      return text;
    }
    case 'bool':
      return v === true || v === 1 || v === '1' || v === 't' || v === 'true' ? '1' : '0';
    case 'bit':
      return t.length === 1 ? (String(v) === '1' ? '1' : '0') : textLiteral(String(v));
    case 'binary':
      return Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : textLiteral(String(v));
    case 'date':
    case 'datetime':
    case 'timestamp': {
      const text = String(v);
      if (/infinity|BC$/i.test(text)) throw refuse(`has no SQL Server ${mssqlType(t)} value`);
      // The T separator reads the same whatever the session's language and DATEFORMAT.
      const iso = text.replace(' ', 'T');
      return textLiteral(t.kind === 'timestamp' ? `${iso}+00:00` : iso);
    }
    case 'time': {
      const text = String(v);
      if (!/^([01]\d|2[0-3]):/.test(text)) throw refuse('is outside SQL Server time (00:00:00 to 23:59:59.9999999)');
      return textLiteral(text);
    }
    default:
      return textLiteral(Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
  }
}

/** The name of the primary key ferry gives a table, constraint and clustered index alike. */
export function primaryKeyName(t: TableSchema): string {
  return constraintName(t.target.name, 'primary key', '');
}

function keyColumns(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/**
 * The table, with its clustered primary key unless `keyLater`: a snapshot loads a heap, and the
 * clustered key built once after the load (primaryKeySql) sorts it once, where loading into it would
 * keep it ordered row by row.
 */
export function createTableSql(t: TableSchema, keyLater = false): string {
  const cols = t.columns.map((c) => columnDefinition(c, t));
  const pk = t.primaryKey.length > 0 && !keyLater ? [`CONSTRAINT ${quoteIdent(primaryKeyName(t))} PRIMARY KEY CLUSTERED (${keyColumns(t.primaryKey)})`] : [];
  return `CREATE TABLE ${qualified(t.target)} (\n  ${[...cols, ...pk].join(',\n  ')}\n)`;
}

/** The clustered primary key added after the snapshot's load. */
export function primaryKeySql(t: TableSchema): string {
  return `ALTER TABLE ${qualified(t.target)} ADD CONSTRAINT ${quoteIdent(primaryKeyName(t))} PRIMARY KEY CLUSTERED (${keyColumns(t.primaryKey)})`;
}

/**
 * Adds a column the source added. Rows already in the table get the value the source gave them (its
 * default, or MySQL's implicit one) through a DEFAULT … WITH VALUES, which then becomes the source's
 * own default (or none); NOT NULL as at the source where every row has a value (rows replayed after a
 * restart that predate the column are written with that value too).
 */
export function addColumnSql(t: TableSchema, c: Column): string[] {
  const backfill = knownBackfill(qualified(t.target), c);
  const declared = defaultSql(t, c);
  const target = declared && 'sql' in declared ? declared.sql : null;
  const notNull = backfill !== null && notNullAtCreate(t, c);
  const table = qualified(t.target);
  const setDefault =
    target === null ? [] : [`ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(defaultName(t, c))} DEFAULT ${target} FOR ${quoteIdent(c.name)}`];
  if (backfill === null) return [`ALTER TABLE ${table} ADD ${columnDefinition(c, t, { notNull, fill: null })}`, ...setDefault];
  const fill = literalSql(c.type, backfill);
  if (target === fill) return [`ALTER TABLE ${table} ADD ${columnDefinition(c, t, { notNull, withValues: true })}`];
  // The fill's DEFAULT has a name of its own, dropped once it has filled the rows.
  const fillName = constraintName(t.target.name, 'fill', c.name);
  return [
    `ALTER TABLE ${table} ADD ${columnDefinition(c, t, { notNull, fill, fillName, withValues: true })}`,
    `ALTER TABLE ${table} DROP CONSTRAINT ${quoteIdent(fillName)}`,
    ...setDefault,
  ];
}

/** The name of a column's DEFAULT constraint ferry adds after the column. */
export function defaultName(t: TableSchema, c: Column): string {
  return constraintName(t.target.name, 'default', c.name);
}

/** An index over `columns` fits SQL Server's nonclustered key (1700 bytes, no (max) column), or why not. */
export function indexableColumns(t: TableSchema, columns: readonly string[]): string | null {
  const types = columns.map((name) => ({ name, type: columnType(t.columns.find((c) => c.name === name)!, t) }));
  const max = types.filter((c) => keyBytesOf(c.type) === Number.POSITIVE_INFINITY);
  if (max.length > 0) return `SQL Server cannot index ${max.map((c) => `${c.name} (${c.type})`).join(', ')}`;
  const bytes = types.reduce((n, c) => n + keyBytesOf(c.type), 0);
  if (bytes > NONCLUSTERED_KEY_BYTES)
    return `its columns take up to ${bytes} bytes, over SQL Server's ${NONCLUSTERED_KEY_BYTES}-byte nonclustered index key, so longer rows would be refused`;
  return null;
}

/**
 * Secondary indexes, all non-unique, as on the other targets (uniqueness comes at the cutover); an
 * index SQL Server could refuse a row for (over an (max) column, or wider than its 1700-byte key) is
 * left out, as MySQL leaves out indexes over TEXT.
 */
export function secondaryIndexes(t: TableSchema): { name: string; sql: string }[] {
  return t.indexes
    .filter((i) => indexableColumns(t, i.columns) === null)
    .map((i) => {
      const name = indexName(t.target.name, i.name);
      return { name, sql: `CREATE INDEX ${quoteIdent(name)} ON ${qualified(t.target)} (${keyColumns(i.columns)})` };
    });
}
