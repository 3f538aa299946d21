import type { TableId } from './change-event.js';
import type { ColumnType } from './schema.js';
import type { VerifySide } from './verify-side.js';

/** A column as one side's catalog describes it. */
export interface PhysicalColumn {
  /** The type as the catalog prints it (Postgres format_type, MySQL COLUMN_TYPE in lower case): `character(5)`, `bigint(20) unsigned`. */
  readonly type: string;
  /** Its text collation, null for other types. */
  readonly collation: string | null;
  /** Text compares in byte (code point) order here: a binary type, or a C-like or `_bin` collation. */
  readonly bytewise: boolean;
}

/** What a range predicate compares for one key column, and how a boundary (a key text) becomes a value it compares with. */
export interface KeyOrder {
  readonly expr: string;
  param(p: string): string;
}

/**
 * The SQL `ferry verify` writes for one engine, one implementation per engine
 * (src/engines/<db>/verify-sql.ts), chosen by src/engines/registry.ts. src/verify/ composes the
 * statements from these pieces and knows no engine; the canonical text each piece produces is the
 * one table in src/verify/canonical-sql.ts (docs/verify.md).
 */
export interface VerifySql {
  quoteIdent(name: string): string;
  qualified(id: TableId): string;
  /** The placeholder for the nth parameter (1-based) in the text. */
  placeholder(n: number): string;
  /**
   * Source engines: a row filter's value, bound at placeholder `p`, as compared with a column of type
   * `t` (as the snapshot binds it). Absent: verify filters that side's rows in ferry alone.
   */
  filterParam?(p: string, t: ColumnType): string;
  /** Whether `(a, b) > (x, y)` is served by the key's index; otherwise ranges are the expanded OR form. */
  readonly rowValueRanges: boolean;
  /** The clause that keeps only the row `offset` rows into the ordered result. */
  rowAt(offset: number): string;
  /** The select list of count(*) and the exact sum of `hash`, both as decimal text. */
  countAndSum(hash: string): string;
  /** The canonical text of column expression `x` (NULL stays NULL). */
  canonical(t: ColumnType, p: PhysicalColumn, x: string): string;
  /**
   * The md5 of `x` as 32 lower-case hex digits: of the UTF-8 bytes of a text, or of the bytes of a
   * binary column (`of: 'bytes'`), which an engine whose text is not UTF-8 (SQL Server) hashes as they are.
   */
  md5(x: string, of: 'text' | 'bytes'): string;
  /** `v`, or 'N' where it is NULL. */
  nullAsN(v: string): string;
  /** `<length>:<v>`. */
  lengthPrefixed(v: string): string;
  /** The first 60 bits of the md5 of the fields joined by '|', as an integer the engine sums exactly. */
  rowHash(fields: readonly string[]): string;
  /** A column compared in Node, as text canonical() reads. */
  raw(t: ColumnType, x: string): string;
  /** Whether a text-ordered column's own order here is the byte order of its text, holding values of the source's type `t`. */
  textOrderIsByteOrder(p: PhysicalColumn, t: ColumnType): boolean;
  /** A time key's own text, which reads back as a time. */
  timeText(x: string): string;
  /** A key compared by the byte order of its text `text`. */
  byteOrder(text: string): KeyOrder;
  /** A key compared by its own order: the column `x` itself, so its index serves the range. */
  ownOrder(t: ColumnType, p: PhysicalColumn, x: string): KeyOrder;
  /** The table's columns as this side's catalog has them; empty when the table does not exist. */
  physicalColumns(side: VerifySide, id: TableId): Promise<Map<string, PhysicalColumn>>;
}
