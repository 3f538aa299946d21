import type { ColumnType, Engine } from '../core/schema.js';

/**
 * The canonical text of a value, written once per engine in SQL, so that a value and its copy on the
 * other engine hash alike (docs/verify.md):
 *
 * | kind                  | canonical text                                     |
 * |-----------------------|----------------------------------------------------|
 * | int, year             | decimal digits                                     |
 * | bool                  | 1 / 0 (MySQL: any non-zero TINYINT is 1)           |
 * | decimal               | exact, trailing fractional zeros and '.' dropped   |
 * | date                  | YYYY-MM-DD                                         |
 * | datetime, timestamp   | YYYY-MM-DD HH:MM:SS.ffffff (timestamptz in UTC)    |
 * | time                  | signed microseconds                                |
 * | binary                | lower-case hex (long values: md5 of the bytes)     |
 * | bit                   | the 0/1 digits                                     |
 * | uuid                  | lower-case 8-4-4-4-12                              |
 * | string, enum, set     | the text itself (UTF-8)                            |
 * | interval, inet, other | Postgres's output text (what a MySQL target holds) |
 *
 * MySQL zero dates count as NULL (ferry writes them as NULL). Kinds whose text the engines print
 * differently (float, double, json, arrays) are compared in Node with canonical() across engines
 * (comparedInNode); between two servers of one engine the same expression is exact for them too.
 */

/** A column as one side's catalog describes it. */
export interface PhysicalColumn {
  /** The type as the catalog prints it (Postgres format_type, MySQL COLUMN_TYPE in lower case): `character(5)`, `bigint(20) unsigned`. */
  readonly type: string;
  /** Its text collation, null for other types. */
  readonly collation: string | null;
  /** Text compares in byte (code point) order here: a binary type, or a C-like or `_bin` collation. */
  readonly bytewise: boolean;
}

/** Kinds whose texts differ between the engines for equal values: read raw and compared by canonical() in Node. */
const RAW_KINDS = new Set<ColumnType['kind']>(['float', 'double', 'json', 'array']);

/** Whether rows read into Node carry this column's raw text, for canonical(), rather than its SQL field. */
export function readRaw(type: ColumnType): boolean {
  return RAW_KINDS.has(type.kind);
}

/** Whether a table with this column is compared in Node throughout: its SQL text differs between the engines. */
export function comparedInNode(type: ColumnType, sourceEngine: Engine, targetEngine: Engine): boolean {
  return sourceEngine !== targetEngine && readRaw(type);
}

/** Values longer than this may be hashed on their own rather than inlined in the row's text. */
const INLINE_CHARS = 255;

/**
 * How a canonical text goes into a row's text (fields joined by '|'): `fixed` texts (numbers, dates,
 * hex, bits, uuids) never contain '|' and are never 'N'; `text` may hold anything, so it is
 * length-prefixed; `digest` values may be long and are hashed by themselves, as MySQL string functions
 * return NULL for results beyond max_allowed_packet. NULL is 'N' in every form.
 */
type Form = 'fixed' | 'text' | 'digest';

function formOf(t: ColumnType): Form {
  switch (t.kind) {
    case 'string': return t.maxLength === null || t.maxLength > INLINE_CHARS ? 'digest' : 'text';
    case 'binary': return t.fixedLength === null || t.fixedLength > INLINE_CHARS ? 'digest' : 'fixed';
    case 'enum': case 'set': case 'interval': case 'inet': return 'text';
    case 'json': case 'array': case 'other': return 'digest';
    default: return 'fixed';
  }
}

/** The output text of a Postgres value (a cast to text differs for inet and some others), NULL kept. */
function pgOutput(x: string): string {
  return `CASE WHEN ${x} IS NULL THEN NULL ELSE format('%s', ${x}) END`;
}

function pgTimestampText(x: string): string {
  // Outside year 1 … infinity (BC, ±infinity) only Postgres holds the value: its own text is exact there.
  return `CASE WHEN isfinite(${x}) AND ${x} >= '0001-01-01' THEN to_char(${x}, 'YYYY-MM-DD HH24:MI:SS.US') ELSE ${x}::text END`;
}

function pgCanonical(t: ColumnType, p: PhysicalColumn, x: string): string {
  switch (t.kind) {
    case 'bool': return p.type === 'boolean' ? `${x}::int::text` : `(${x} <> 0)::int::text`;
    case 'decimal': return `trim_scale(${x})::text`;
    case 'float': return `${x}::real::text`; // a target column widened to double precision prints the real it holds
    case 'datetime': return pgTimestampText(x);
    case 'timestamp': return pgTimestampText(p.type.includes('with time zone') ? `(${x} AT TIME ZONE 'UTC')` : x);
    case 'time': return `(extract(epoch from ${x}) * 1000000)::bigint::text`;
    case 'binary': return `encode(${x}, 'hex')`;
    case 'string': {
      // character(n) keeps its padding in ferry's copies (its output text); a cast to text drops it.
      const n = /^character\((\d+)\)$/.exec(p.type)?.[1];
      return n ? `rpad(${x}::text, ${n})` : `${x}::text`;
    }
    case 'uuid': return p.type === 'uuid' ? `${x}::text` : `lower(${x}::text)`;
    case 'inet': case 'other': return pgOutput(x);
    default: return `${x}::text`;
  }
}

/** MySQL zero dates (month or day 0) are NULL in ferry's copies. */
function myUnlessZeroDate(x: string, text: string): string {
  return `IF(MONTH(${x}) = 0 OR DAYOFMONTH(${x}) = 0, NULL, ${text})`;
}

function myCanonical(t: ColumnType, x: string): string {
  switch (t.kind) {
    case 'int': case 'year': return `CAST(${x} + 0 AS CHAR)`; // + 0: no ZEROFILL padding, YEAR 0 as 0
    case 'bool': return `CAST(${x} <> 0 AS CHAR)`;
    case 'decimal': {
      const s = `CAST(${x} + 0 AS CHAR)`;
      return `IF(LOCATE('.', ${s}) = 0, ${s}, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${s})))`;
    }
    case 'float': return `CAST(${x} + 0e0 AS CHAR)`; // widened: FLOAT's own text has six digits
    case 'double': return `CAST(${x} AS CHAR)`;
    case 'date': return myUnlessZeroDate(x, `CAST(${x} AS CHAR)`);
    case 'datetime': case 'timestamp': return myUnlessZeroDate(x, `DATE_FORMAT(${x}, '%Y-%m-%d %H:%i:%s.%f')`);
    case 'time':
      return `CAST(IF(${x} < TIME '00:00:00', -1, 1) * ((HOUR(${x}) * 3600 + MINUTE(${x}) * 60 + SECOND(${x})) * 1000000 + MICROSECOND(${x})) AS CHAR)`;
    case 'binary': return `LOWER(HEX(${x}))`;
    case 'bit': return `LPAD(BIN(${x}), ${t.length}, '0')`;
    case 'uuid': return `LOWER(CONVERT(${x} USING utf8mb4))`;
    default: return `CONVERT(${x} USING utf8mb4)`;
  }
}

/** The canonical text of column expression `x` on `engine` (NULL stays NULL). */
export function canonicalSql(engine: Engine, t: ColumnType, p: PhysicalColumn, x: string): string {
  return engine === 'postgres' ? pgCanonical(t, p, x) : myCanonical(t, x);
}

/** The column's field in a row's text: never NULL, and no two values give the same field. */
export function fieldSql(engine: Engine, t: ColumnType, p: PhysicalColumn, x: string): string {
  const pg = engine === 'postgres';
  const coalesce = (v: string) => `${pg ? 'coalesce' : 'COALESCE'}(${v}, 'N')`;
  const form = formOf(t);
  if (form === 'digest') return coalesce(`${pg ? 'md5' : 'MD5'}(${t.kind === 'binary' ? x : canonicalSql(engine, t, p, x)})`);
  const v = canonicalSql(engine, t, p, x);
  if (form === 'fixed') return coalesce(v);
  return coalesce(pg ? `length(${v}) || ':' || ${v}` : `CONCAT(CHAR_LENGTH(${v}), ':', ${v})`);
}

/**
 * An order-independent fingerprint term per row: the first 60 bits of the md5 of its fields, as an
 * integer both engines sum exactly (Postgres to numeric, MySQL to DECIMAL).
 */
export function rowHashSql(engine: Engine, fields: readonly string[]): string {
  return engine === 'postgres'
    ? `('x' || substr(md5(${fields.join(" || '|' || ")}), 1, 15))::bit(60)::bigint`
    : `CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', ${fields.join(', ')})), 1, 15), 16, 10) AS UNSIGNED)`;
}

/** A column compared in Node, as text canonical() reads (FLOAT widened, as its own text has six digits). */
export function rawSql(engine: Engine, t: ColumnType, x: string): string {
  if (engine === 'postgres') return `${x}::text`;
  return t.kind === 'float' ? `${x} + 0e0` : x;
}

/** Kinds ordered as text: compared by the byte order of their canonical text wherever their own order may differ. */
const TEXT_ORDERED = new Set<ColumnType['kind']>(['string', 'binary', 'enum', 'set', 'uuid', 'inet', 'interval', 'other', 'json', 'array']);

/**
 * Whether a key column's own order on this side is the byte order of its canonical text (for kinds
 * ordered as text), or the numeric or temporal order both engines share (for the others).
 */
export function ownOrderIsByteOrder(engine: Engine, t: ColumnType, p: PhysicalColumn): boolean {
  if (!TEXT_ORDERED.has(t.kind)) return true;
  if (engine === 'postgres') return /^(uuid|bytea)$/.test(p.type) || (p.bytewise && /^(text|character varying)\b/.test(p.type));
  return /^(binary|varbinary|tinyblob|blob|mediumblob|longblob)\b/.test(p.type) || (p.bytewise && /^(char|varchar|tinytext|text|mediumtext|longtext)\b/.test(p.type));
}

/** How range predicates treat one key column on one side. */
export interface KeySql {
  /** The key's text: boundaries are read from the source, passed to both sides and printed as it. */
  readonly text: string;
  /** The key's canonical text: rows of the two sides are matched by it. */
  readonly match: string;
  /** What range predicates compare: the column itself (its index serves the range) or its text in byte order. */
  readonly expr: string;
  /** A boundary (placeholder `p`, a key text) as a value `expr` compares with. */
  param(p: string): string;
}

export function keySql(engine: Engine, t: ColumnType, p: PhysicalColumn, x: string, own: boolean): KeySql {
  const pg = engine === 'postgres';
  const match = canonicalSql(engine, t, p, x);
  // Microseconds would not read back as a time: a time boundary travels as the time's own text.
  const text = t.kind === 'time' ? (pg ? `${x}::text` : `CAST(${x} AS CHAR)`) : match;
  if (!own) {
    return pg
      ? { text, match, expr: `(${text}) COLLATE "C"`, param: (v) => `${v}::text COLLATE "C"` }
      : { text, match, expr: `CAST(${text} AS BINARY)`, param: (v) => `CAST(${v} AS BINARY)` };
  }
  if (pg) {
    const base = p.type.replace(/\(.*?\)/g, '');
    const param = (v: string): string => {
      switch (t.kind) {
        case 'bool': return p.type === 'boolean' ? `${v}::int::boolean` : `${v}::int`;
        case 'timestamp': return base.includes('with time zone') ? `(${v}::timestamp AT TIME ZONE 'UTC')` : `${v}::timestamp`;
        case 'binary': return `decode(${v}, 'hex')`;
        case 'bit': return `${v}::varbit`;
        case 'string': return /^(character\(|bpchar)/.test(p.type) ? `${v}::bpchar` : `${v}::text`;
        default: return `${v}::${base}`;
      }
    };
    return { text, match, expr: x, param };
  }
  const param = (v: string): string => {
    switch (t.kind) {
      case 'int': case 'year': case 'bool': return `CAST(${v} AS DECIMAL(65,0))`;
      case 'decimal': return `CAST(${v} AS DECIMAL(65,30))`;
      case 'float': case 'double': return `(${v} + 0e0)`;
      case 'binary': return `UNHEX(${v})`;
      case 'bit': return `CAST(CONV(${v}, 2, 10) AS UNSIGNED)`;
      default: return v; // temporal and text columns convert a string by their own type and collation
    }
  };
  return { text, match, expr: t.kind === 'bool' ? `(${x} <> 0)` : x, param };
}
