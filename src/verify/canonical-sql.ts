import type { ColumnType, TargetEngine } from '../core/schema.js';
import type { PhysicalColumn } from '../core/verify-sql.js';
import { verifySql } from '../engines/registry.js';

/**
 * The canonical text of a value, written once per engine in SQL (src/engines/<db>/verify-sql.ts), so that a value and its copy on the
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

/** Kinds whose texts differ between the engines for equal values: read raw and compared by canonical() in Node. */
const RAW_KINDS = new Set<ColumnType['kind']>(['float', 'double', 'json', 'array']);

/** Whether rows read into Node carry this column's raw text, for canonical(), rather than its SQL field. */
export function readRaw(type: ColumnType): boolean {
  return RAW_KINDS.has(type.kind);
}

/** Whether a table with this column is compared in Node throughout: its SQL text differs between the engines. */
export function comparedInNode(type: ColumnType, sourceEngine: TargetEngine, targetEngine: TargetEngine): boolean {
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
    case 'string':
      return t.maxLength === null || t.maxLength > INLINE_CHARS ? 'digest' : 'text';
    case 'binary':
      return t.fixedLength === null || t.fixedLength > INLINE_CHARS ? 'digest' : 'fixed';
    case 'enum':
    case 'set':
    case 'interval':
    case 'inet':
      return 'text';
    case 'json':
    case 'array':
    case 'other':
      return 'digest';
    default:
      return 'fixed';
  }
}

/** The canonical text of column expression `x` on `engine` (NULL stays NULL). */
export function canonicalSql(engine: TargetEngine, t: ColumnType, p: PhysicalColumn, x: string): string {
  return verifySql(engine).canonical(t, p, x);
}

/** The column's field in a row's text: never NULL, and no two values give the same field. */
export function fieldSql(engine: TargetEngine, t: ColumnType, p: PhysicalColumn, x: string): string {
  const sql = verifySql(engine);
  const form = formOf(t);
  if (form === 'digest') return sql.nullAsN(t.kind === 'binary' ? sql.md5(x, 'bytes') : sql.md5(sql.canonical(t, p, x), 'text'));
  const v = sql.canonical(t, p, x);
  return sql.nullAsN(form === 'fixed' ? v : sql.lengthPrefixed(v));
}

/**
 * An order-independent fingerprint term per row: the first 60 bits of the md5 of its fields, as an
 * integer both engines sum exactly (Postgres to numeric, MySQL to DECIMAL).
 */
export function rowHashSql(engine: TargetEngine, fields: readonly string[]): string {
  return verifySql(engine).rowHash(fields);
}

/** A column compared in Node, as text canonical() reads (FLOAT widened, as its own text has six digits). */
export function rawSql(engine: TargetEngine, t: ColumnType, x: string): string {
  return verifySql(engine).raw(t, x);
}

/** Kinds ordered as text: compared by the byte order of their canonical text wherever their own order may differ. */
const TEXT_ORDERED = new Set<ColumnType['kind']>(['string', 'binary', 'enum', 'set', 'uuid', 'inet', 'interval', 'other', 'json', 'array']);

/**
 * Whether a key column's own order on this side is the byte order of its canonical text (for kinds
 * ordered as text), or the numeric or temporal order both engines share (for the others).
 */
export function ownOrderIsByteOrder(engine: TargetEngine, t: ColumnType, p: PhysicalColumn): boolean {
  return !TEXT_ORDERED.has(t.kind) || verifySql(engine).textOrderIsByteOrder(p, t);
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

export function keySql(engine: TargetEngine, t: ColumnType, p: PhysicalColumn, x: string, own: boolean): KeySql {
  const sql = verifySql(engine);
  const match = sql.canonical(t, p, x);
  // Microseconds would not read back as a time: a time boundary travels as the time's own text.
  const text = t.kind === 'time' ? sql.timeText(x) : match;
  const order = own ? sql.ownOrder(t, p, x) : sql.byteOrder(text);
  return { text, match, expr: order.expr, param: order.param };
}
