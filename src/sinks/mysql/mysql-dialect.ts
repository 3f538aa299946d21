import { pickKey, type Row, type TableId, type Value } from '../../core/change-event.js';
import type { Column, ColumnType, TableSchema } from '../../core/schema.js';
import type { Translation } from '../../core/schema-fidelity.js';
import { FerryError } from '../../core/errors.js';
import { exactColumn, indexName, qualified, quoteIdent, quoteString } from '../../engines/mysql/quoting.js';
import { arrayJson, parseArrayLiteral } from '../../core/pg-array-literal.js';
import { bitBytes } from '../../core/bit-string.js';
import { backfillValue } from '../row-writes.js';
import { isNonFinite, nonFiniteError } from './mysql-non-finite.js';
import { knownBackfill } from '../column-drift.js';

/** Bytes of an InnoDB index key, shared by the text key columns (utf8mb4: 4 bytes a character), with room for the others. */
const KEY_BYTES = 3072 - 64;
/** Longest string kept as VARCHAR: indexable, and a row of many such columns still fits 65,535 bytes more often; longer ones become LONGTEXT. */
const MAX_VARCHAR = 768;

/**
 * The MySQL type for one of ferry's column types, for tables from another engine. A table read from
 * MySQL keeps its own column types (sourceType). docs/type-mapping.md's Postgres → MySQL table lists these.
 */
export function mysqlType(t: ColumnType, textKeyColumns = 0): string {
  const isKey = textKeyColumns > 0;
  const keyChars = Math.floor(KEY_BYTES / 4 / Math.max(1, textKeyColumns));
  switch (t.kind) {
    case 'int': {
      const name = { 1: 'tinyint', 2: 'smallint', 3: 'mediumint', 4: 'int', 8: 'bigint' }[t.bytes];
      return t.unsigned ? `${name} unsigned` : name;
    }
    case 'bool':
      return 'tinyint(1)';
    case 'decimal': {
      if (t.precision === null) return 'decimal(65,30)';
      // Postgres allows a negative scale (rounding to tens, hundreds) and a scale above the precision.
      const scale = t.scale ?? 0;
      const digits = scale < 0 ? t.precision - scale : Math.max(t.precision, scale);
      return `decimal(${Math.min(digits, 65)},${Math.min(Math.max(scale, 0), 30)})`;
    }
    case 'float':
      return 'float';
    case 'double':
      return 'double';
    case 'date':
      return 'date';
    case 'datetime':
    case 'timestamp':
      return t.fsp > 0 ? `datetime(${Math.min(t.fsp, 6)})` : 'datetime';
    case 'time':
      return t.fsp > 0 ? `time(${Math.min(t.fsp, 6)})` : 'time';
    case 'year':
      return 'year(4)';
    case 'string':
      if (isKey) return `varchar(${Math.min(t.maxLength ?? keyChars, keyChars)})`;
      return t.maxLength !== null && t.maxLength <= MAX_VARCHAR ? `varchar(${t.maxLength})` : 'longtext';
    case 'binary':
      if (t.fixedLength !== null && t.fixedLength <= 255) return `binary(${t.fixedLength})`;
      return isKey ? `varbinary(${keyChars * 4})` : 'longblob';
    case 'json':
    case 'array':
      return 'json';
    case 'enum':
      return `enum(${t.values.map(quoteString).join(',')})`;
    case 'set':
      return `set(${t.values.map(quoteString).join(',')})`;
    case 'bit':
      return `bit(${t.length})`;
    case 'uuid':
      return 'char(36)';
    case 'interval':
      return 'varchar(100)';
    case 'inet':
      return 'varchar(43)';
    case 'other':
      return isKey ? `varchar(${keyChars})` : 'longtext';
  }
}

/** The target column type: the source's own spelling when it is MySQL too, else the mapped type. */
export function columnTypeSql(t: TableSchema, c: Column): string {
  if (t.engine === 'mysql') return c.sourceType;
  if (!t.primaryKey.includes(c.name)) return mysqlType(c.type);
  const textKeys = t.primaryKey.filter((k) => ['string', 'binary', 'other'].includes(t.columns.find((col) => col.name === k)!.type.kind));
  return mysqlType(c.type, Math.max(1, textKeys.length));
}

/** The column type with the source's collation, when the source is MySQL too (COLUMN_TYPE does not carry it). */
function columnTypeWithCollation(t: TableSchema, c: Column): string {
  const type = columnTypeSql(t, c);
  return t.engine === 'mysql' && c.collation ? `${type} COLLATE ${c.collation}` : type;
}

/** COLUMN_TYPE text compared loosely: MySQL 8 drops integer display widths, MariaDB reports JSON as longtext. */
export function normalizeColumnType(type: string): string {
  return type
    .toLowerCase()
    .trim()
    .replace(/^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)/, (m, base: string) => (m === 'tinyint(1)' ? m : base))
    .replace(/^integer/, 'int')
    .replace(/^json$/, 'longtext')
    .replace(/^(bool|boolean)$/, 'tinyint(1)')
    .replace(/^year$/, 'year(4)')
    .replace(/\s+zerofill$/, '');
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

/** Types MySQL can index without a prefix length. */
export function indexable(t: TableSchema, c: Column): boolean {
  return !/text|blob|json/.test(columnTypeSql(t, c).toLowerCase());
}

/**
 * A column's definition: type, NULL or NOT NULL (`notNull`, else as at creation), DEFAULT (`fill`, else
 * the source's where it translates), AUTO_INCREMENT, and MariaDB JSON's own check (LONGTEXT CHECK
 * (json_valid(…)), which is what MariaDB's JSON is) unless `check` is false (it exists already).
 */
export function columnDef(t: TableSchema, c: Column, o: { notNull?: boolean; fill?: string | null; check?: boolean } = {}): string {
  const declared = defaultSql(t, c);
  const def = o.fill !== undefined ? o.fill : declared && 'sql' in declared ? declared.sql : null;
  // InnoDB wants an AUTO_INCREMENT column first in an index: the first key column qualifies.
  const autoIncrement = c.autoIncrement && t.primaryKey[0] === c.name && c.type.kind === 'int';
  const json =
    (o.check ?? true) && t.engine === 'mysql' && c.type.kind === 'json' && /^longtext$/i.test(c.sourceType) ? ` CHECK (json_valid(${quoteIdent(c.name)}))` : '';
  // Only between MySQL engines: the column then behaves on the target as at the source once the application writes there.
  const onUpdate = t.engine === 'mysql' && c.onUpdate ? ` ON UPDATE ${c.onUpdate}` : '';
  return `${quoteIdent(c.name)} ${columnTypeWithCollation(t, c)}${(o.notNull ?? notNullAtCreate(t, c)) ? ' NOT NULL' : ' NULL'}${def === null ? '' : ` DEFAULT ${def}`}${onUpdate}${autoIncrement ? ' AUTO_INCREMENT' : ''}${json}`;
}

/**
 * The DEFAULT the target declares for `c`, or why it has none; null when the source declares none.
 * Constants through the literal writer (BLOB/TEXT/JSON ones parenthesized, as MySQL 8 wants them); the
 * current time as the source spells it from MySQL, from Postgres as CURRENT_TIMESTAMP(n) on a
 * `timestamp` (DATETIME) column and UTC_TIMESTAMP(n) on a `timestamptz` one (ferry stores those in
 * UTC); MySQL expressions as they are, Postgres ones not at all.
 */
export function defaultSql(t: TableSchema, c: Column): Translation | null {
  const d = c.default;
  if (!d) return null;
  const type = columnTypeSql(t, c).toLowerCase();
  switch (d.kind) {
    case 'literal': {
      if (d.value === null) return { reason: `${d.text} is a zero date, which ferry writes as NULL (the column's default in the target)` };
      try {
        return { sql: literalSql(t, c, d.value) };
      } catch (err) {
        return { reason: (err as Error).message };
      }
    }
    case 'now': {
      if (t.engine === 'mysql') return { sql: d.text };
      const fsp = /^datetime(\(\d\))?/.exec(type);
      if (!fsp)
        return {
          reason: `the current time (${d.text}) as the default of a ${type} column, which MySQL allows only on DATETIME and TIMESTAMP: set a default by hand`,
        };
      return { sql: c.type.kind === 'timestamp' ? `(utc_timestamp${fsp[1] ?? '()'})` : `current_timestamp${fsp[1] ?? '()'}` };
    }
    case 'expression':
      if (t.engine === 'mysql') return { sql: `(${d.text})` };
      return { reason: `${d.text} is an expression in Postgres's SQL, which ferry does not translate: set the default by hand` };
  }
}

/** A canonical value as a literal of column `c` (BIT as b'…'; BLOB, TEXT and JSON in parentheses, which MySQL 8 requires of their defaults). */
function literalSql(t: TableSchema, c: Column, value: Exclude<Value, null>): string {
  if (c.type.kind === 'bit' && typeof value === 'string') return `b'${value}'`;
  const v = toMysql(c.type, value, t.target, c.name);
  if (v === null) throw new FerryError('fatal', `${String(value)} has no MySQL equivalent`);
  const lit = literal(v);
  return /text|blob|json/.test(columnTypeSql(t, c).toLowerCase()) ? `(${lit})` : lit;
}

export function tableCollation(t: TableSchema, flavor: 'mariadb' | 'mysql'): string | null {
  if (t.engine === 'mysql') return null;
  return flavor === 'mariadb' ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

export function createTableSql(t: TableSchema, collation: string | null): string {
  const cols = t.columns.map((c) => columnDef(t, c));
  const pk = t.primaryKey.length ? [`PRIMARY KEY (${t.primaryKey.map(quoteIdent).join(', ')})`] : [];
  const charset = collation ? ` DEFAULT CHARSET=utf8mb4 COLLATE=${collation}` : '';
  return `CREATE TABLE IF NOT EXISTS ${qualified(t.target)} (\n  ${[...cols, ...pk].join(',\n  ')}\n) ENGINE=InnoDB${charset}`;
}

/**
 * ADD COLUMN: old rows get the source's value for them through a DEFAULT, which then becomes the
 * source's own default (or none); NOT NULL as at the source where every row has a value (rows
 * replayed after a restart that predate the column are written with that value too).
 */
export function addColumnSql(t: TableSchema, c: Column): string[] {
  const backfill = knownBackfill(qualified(t.target), c);
  const declared = defaultSql(t, c);
  const target = declared && 'sql' in declared ? declared.sql : null;
  const notNull = backfill !== null && notNullAtCreate(t, c);
  const add = (fill: string | null) => `ALTER TABLE ${qualified(t.target)} ADD COLUMN ${columnDef(t, c, { notNull, fill })}`;
  const alter = `ALTER TABLE ${qualified(t.target)} ALTER COLUMN ${quoteIdent(c.name)}`;
  // A DEFAULT in the ADD fills the existing rows: it is the backfill's, then the column's own.
  if (backfill === null) return target === null ? [add(null)] : [add(null), `${alter} SET DEFAULT ${target}`];
  if (target !== null && c.default?.kind === 'literal' && sameValue(c.default.value, backfill)) return [add(target)];
  return [add(literalSql(t, c, backfill)), target === null ? `${alter} DROP DEFAULT` : `${alter} SET DEFAULT ${target}`];
}

function sameValue(a: Value, b: Value): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}

function literal(v: Exclude<Value, null>): string {
  if (Buffer.isBuffer(v)) return `X'${v.toString('hex')}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(Number(v));
  return quoteString(v);
}

/** Secondary indexes, non-unique as in the Postgres sink; indexes over TEXT/BLOB/JSON columns are left out (MySQL needs prefixes). */
export function secondaryIndexes(t: TableSchema): { name: string; sql: string }[] {
  return t.indexes
    .filter((i) => i.columns.every((name) => indexable(t, t.columns.find((c) => c.name === name)!)))
    .map((i) => {
      const name = indexName(t.target.name, i.name);
      return { name, sql: `CREATE INDEX ${quoteIdent(name)} ON ${qualified(t.target)} (${i.columns.map(quoteIdent).join(', ')})` };
    });
}

/** A canonical value as MySQL input: booleans as 1/0, bit strings as bytes, Postgres arrays as JSON. */
export function toMysql(t: ColumnType, v: Value, table: TableId, column: string): Value {
  if (v === null) return null;
  switch (t.kind) {
    case 'bool':
      return v === true || v === 1 || v === '1' || v === 't' ? 1 : 0;
    case 'bit':
      return typeof v === 'string' ? bitBytes(v) : v;
    case 'float':
    case 'double':
    case 'decimal':
      if (isNonFinite(t, v)) throw nonFiniteError(table, column, v, null);
      // A Postgres real's shortest text (FLT_MAX: 3.4028235e+38) read as a double lies beyond FLT_MAX, and
      // MySQL refuses it: the float's own value (3.4028234663852886e+38) is exact, denormals included.
      return t.kind === 'float' && typeof v === 'number' ? Math.fround(v) : v;
    case 'array':
      return typeof v === 'string' ? arrayJson(t.element, parseArrayLiteral(v)) : v;
    case 'date':
    case 'datetime':
    case 'timestamp':
      if (typeof v === 'string' && /infinity|BC$/i.test(v)) {
        throw new FerryError('fatal', `table ${qualified(table)}, column ${column}: ${v} has no MySQL DATETIME equivalent`, {
          hint: 'change the value at the source, or exclude the table',
        });
      }
      return v;
    default:
      return v;
  }
}

/** One field of LOAD DATA text (tab-separated, backslash escapes, \N for NULL); binary values go as hex. */
export function loadField(v: Value): string {
  if (v === null) return '\\N';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
  return LOAD_SPECIAL.test(v) ? v.replace(LOAD_SPECIALS, (c) => LOAD_ESCAPES[c]!) : v;
}

const LOAD_SPECIAL = /[\\\n\r\t\0]/;
const LOAD_SPECIALS = /[\\\n\r\t\0]/g;
const LOAD_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' };

/** Columns whose LOAD DATA field is hex (binary data, and BIT, whose values are bytes: loadField writes Buffers as hex). */
function loadsAsHex(c: Column): boolean {
  return c.type.kind === 'binary' || c.type.kind === 'bit';
}

/** LOAD DATA LOCAL for the table's columns; hex fields are decoded with UNHEX into their columns. */
export function loadDataSql(t: TableSchema): string {
  const targets = t.columns.map((c, i) => (loadsAsHex(c) ? `@v${i}` : quoteIdent(c.name)));
  const sets = t.columns.flatMap((c, i) => (loadsAsHex(c) ? [`${quoteIdent(c.name)} = UNHEX(@v${i})`] : []));
  return (
    `LOAD DATA LOCAL INFILE 'ferry' INTO TABLE ${qualified(t.target)} CHARACTER SET utf8mb4 ` +
    "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' " +
    `(${targets.join(', ')})${sets.length ? ` SET ${sets.join(', ')}` : ''}`
  );
}

/**
 * Multi-row insert (rows as nested arrays). Never `ON DUPLICATE KEY UPDATE`: that updates the row of
 * whichever unique key collides, which need not be the primary key (mysql-rows.ts).
 */
export function insertSql(t: TableSchema, columns: readonly Column[]): string {
  return `INSERT INTO ${qualified(t.target)} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) VALUES ?`;
}

/** Set-based delete by key: `WHERE (a, b) IN (?)` with the keys as nested arrays. */
export function deleteSql(t: TableSchema): string {
  const key = t.primaryKey.length === 1 ? quoteIdent(t.primaryKey[0]!) : `(${t.primaryKey.map(quoteIdent).join(', ')})`;
  return `DELETE FROM ${qualified(t.target)} WHERE ${key} IN (?)`;
}

/** Updates the given columns of the row whose key is `match` (Postgres updates that did not send unchanged TOAST values). */
export function patchSql(t: TableSchema, set: readonly Column[]): string {
  return `UPDATE ${qualified(t.target)} SET ${set.map((c) => `${quoteIdent(c.name)} = ?`).join(', ')} WHERE ${t.primaryKey.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')}`;
}

/** Whether the row with the key in the parameters (one per key column) is there. */
export function rowExistsSql(t: TableSchema): string {
  return `SELECT 1 FROM ${qualified(t.target)} WHERE ${t.primaryKey.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')} LIMIT 1`;
}

/** Keyset page for verify, with BIT as its 0/1 text (the canonical form), FLOAT exact, and the rest as MySQL returns it. */
export function readRowsSql(t: TableSchema, after: boolean, limit: number): string {
  const cols = t.columns.map((c) =>
    c.type.kind === 'bit' ? `LPAD(BIN(${quoteIdent(c.name)}), ${c.type.length}, '0') AS ${quoteIdent(c.name)}` : exactColumn(c.name, c.type.kind),
  );
  const key = t.primaryKey.map(quoteIdent).join(', ');
  const where = after ? `WHERE (${key}) > (${t.primaryKey.map(() => '?').join(', ')})` : '';
  const order = key ? `ORDER BY ${key}` : ''; // a table without a key is read in one page
  return `SELECT ${cols.join(', ')} FROM ${qualified(t.target)} ${where} ${order} LIMIT ${Number(limit)}`;
}

/** The one row (of possibly several equal ones) whose columns all equal the parameters, NULL-safe. */
function oneEqualRow(t: TableSchema): string {
  return `${t.columns.map((c) => `${quoteIdent(c.name)} <=> ?`).join(' AND ')} LIMIT 1`;
}

/** Deletes one row equal to the parameters (one per column) of a table without a primary key. */
export function deleteRowSql(t: TableSchema): string {
  return `DELETE FROM ${qualified(t.target)} WHERE ${oneEqualRow(t)}`;
}

/** Sets every column of one row equal to the old image (parameters after the new image's). */
export function updateRowSql(t: TableSchema): string {
  return `UPDATE ${qualified(t.target)} SET ${t.columns.map((c) => `${quoteIdent(c.name)} = ?`).join(', ')} WHERE ${oneEqualRow(t)}`;
}

/**
 * Row values in `columns` order for mysql2's nested-array expansion; a column the row predates gets its
 * backfill. `key` (the row itself unless given) names the row in an error about one of its values.
 */
export function rowValues(t: TableSchema, columns: readonly Column[], row: Row, key: Row = row): Value[] {
  return columns.map((c) => {
    const v = c.name in row ? row[c.name]! : backfillValue(t, c);
    if (isNonFinite(c.type, v)) throw nonFiniteError(t.source, c.name, v, pickKey(key, t.primaryKey));
    return toMysql(c.type, v, t.target, c.name);
  });
}
