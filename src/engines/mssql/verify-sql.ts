import type { ColumnType } from '../../core/schema.js';
import type { KeyOrder, PhysicalColumn, VerifySql } from '../../core/verify-sql.js';
import { qualified, quoteIdent } from './quoting.js';

/**
 * SQL Server holds text as UTF-16 (nvarchar), and HASHBYTES hashes the bytes it is given, while the
 * other engines hash UTF-8. A text cast to varchar under a UTF-8 collation (SQL Server 2019, Azure
 * SQL) is its UTF-8 bytes: the COLLATE goes on the nvarchar, so the cast converts to that code page.
 */
const UTF8 = 'Latin1_General_100_BIN2_UTF8';
/** A supplementary-character collation: LEN counts a surrogate pair as one character, as MySQL and Postgres count code points. */
const SC = 'Latin1_General_100_CI_AS_SC';

/** The UTF-8 bytes of a text, as varbinary. */
function utf8(text: string): string {
  return `CAST(CAST((${text}) COLLATE ${UTF8} AS varchar(max)) AS varbinary(max))`;
}

/** The text types, whose value is its own text; every canonical text is nvarchar, so no code page narrows it. */
const TEXT_TYPE = /^(nvarchar|nchar|varchar|char|ntext|text)\b/;

function asText(p: PhysicalColumn, x: string): string {
  return /^(nvarchar|nchar)\(/.test(p.type) ? x : `CAST(${x} AS nvarchar(max))`;
}

/** Exact numbers whose text has no fraction. */
const WHOLE_NUMBER = /^(tinyint|smallint|int|bigint|(decimal|numeric)\(\d+,0\))$/;

/**
 * A decimal's text without trailing fractional zeros and '.', as Postgres's trim_scale: the zeros
 * become spaces for RTRIM and come back, then the '.' likewise (a number's text has no spaces).
 */
function trimmedDecimal(p: PhysicalColumn, x: string): string {
  const s = WHOLE_NUMBER.test(p.type) ? null : TEXT_TYPE.test(p.type) ? asText(p, x) : `CAST(${x} AS nvarchar(60))`;
  if (!s) return `CAST(${x} AS nvarchar(40))`;
  const zerosTrimmed = `REPLACE(RTRIM(REPLACE(${s}, N'0', N' ')), N' ', N'0')`;
  return `CASE WHEN ${s} LIKE N'%.%' THEN REPLACE(RTRIM(REPLACE(${zerosTrimmed}, N'.', N' ')), N' ', N'.') ELSE ${s} END`;
}

function canonical(t: ColumnType, p: PhysicalColumn, x: string): string {
  switch (t.kind) {
    case 'int':
    case 'year':
      return `CAST(${x} AS nvarchar(40))`;
    case 'bool':
      return p.type === 'bit' ? `CAST(${x} AS nvarchar(1))` : `CASE WHEN ${x} IS NULL THEN NULL WHEN ${x} <> 0 THEN N'1' ELSE N'0' END`;
    case 'decimal':
      return trimmedDecimal(p, x);
    case 'float':
    case 'double':
      // Never compared with another engine's text (canonical-sql.ts compares these in Node); style 3 is SQL Server's lossless text.
      return `CONVERT(nvarchar(30), ${x}, 3)`;
    case 'date':
      return `CONVERT(nvarchar(10), ${x}, 23)`;
    case 'datetime':
    case 'timestamp': {
      const utc = p.type.startsWith('datetimeoffset') ? `SWITCHOFFSET(${x}, '+00:00')` : x;
      // Style 121 prints as many fractional digits as the type has: datetime2(6) gives the six the others print.
      return `CONVERT(nvarchar(26), CAST(${utc} AS datetime2(6)), 121)`;
    }
    case 'time':
      return `CAST(DATEDIFF_BIG(microsecond, CAST('00:00:00' AS time), ${x}) AS nvarchar(20))`;
    case 'binary':
      return `LOWER(CONVERT(varchar(max), ${x}, 2))`; // style 2: hex digits without 0x
    case 'bit':
      // BIT(1) is a bit; longer ones are their digits as text (sinks/mssql/mssql-dialect.ts).
      return p.type === 'bit' ? `CAST(${x} AS nvarchar(1))` : asText(p, x);
    case 'uuid':
      return `LOWER(CAST(${x} AS nvarchar(36)))`; // uniqueidentifier prints in upper case
    default:
      return asText(p, x);
  }
}

function ownOrder(t: ColumnType, p: PhysicalColumn, x: string): KeyOrder {
  // The binary styles are documented for char and varchar input, and a boundary arrives as nvarchar: its hex digits are ASCII.
  const param = (v: string): string => (t.kind === 'binary' ? `CONVERT(${p.type}, CAST(${v} AS varchar(max)), 2)` : `CAST(${v} AS ${p.type})`);
  return { expr: x, param };
}

/**
 * The type as T-SQL spells it, from sys.columns: lengths of n-types in characters (max_length is in
 * bytes, -1 for max), precision and scale where the type takes them.
 */
export function typeText(name: string, maxLength: number, precision: number, scale: number): string {
  switch (name) {
    case 'decimal':
    case 'numeric':
      return `${name}(${precision},${scale})`;
    case 'nvarchar':
    case 'nchar':
      return `${name}(${maxLength === -1 ? 'max' : maxLength / 2})`;
    case 'varchar':
    case 'char':
    case 'varbinary':
    case 'binary':
      return `${name}(${maxLength === -1 ? 'max' : maxLength})`;
    case 'datetime2':
    case 'datetimeoffset':
    case 'time':
      return `${name}(${scale})`;
    default:
      return name;
  }
}

/**
 * Only fixed-length binary compares in byte order here. Every collation, BIN2 included, compares
 * text as if padded with spaces ('a' = 'a '), nvarchar BIN2 orders UTF-16 code units (a supplementary
 * character sorts before U+E000), and varbinary compares as if padded with 0x00 (0x01 = 0x0100).
 */
const BYTEWISE = /^binary\(/;

const COLUMNS = `SELECT c.name, TYPE_NAME(c.system_type_id), CAST(c.max_length AS nvarchar(6)), CAST(c.precision AS nvarchar(3)), CAST(c.scale AS nvarchar(3)), c.collation_name
  FROM sys.columns AS c
 WHERE c.object_id = OBJECT_ID(@p1)`;

/**
 * SQL Server's pieces of verify's statements (core/verify-sql.ts), SQL Server 2019 or Azure SQL (UTF-8
 * collations). Texts are nvarchar throughout and become UTF-8 only where hashed.
 */
export const mssqlVerifySql: VerifySql = {
  quoteIdent,
  qualified,
  placeholder: (n) => `@p${n}`,
  // SQL Server has no row-value comparison.
  rowValueRanges: false,
  rowAt: (offset) => `OFFSET ${offset} ROWS FETCH NEXT 1 ROWS ONLY`,
  // A sum of 60-bit terms overflows bigint after eight rows: summed as decimal(38,0).
  countAndSum: (hash) => `CAST(COUNT_BIG(*) AS varchar(20)), CAST(COALESCE(SUM(CAST(${hash} AS decimal(38,0))), 0) AS varchar(40))`,
  canonical,
  md5: (x, of) => `LOWER(CONVERT(varchar(32), HASHBYTES('MD5', ${of === 'bytes' ? x : utf8(x)}), 2))`,
  nullAsN: (v) => `COALESCE(${v}, N'N')`,
  // LEN drops trailing spaces: counted with a '.' after them. NULL stays NULL (CONCAT_NULL_YIELDS_NULL, on in every session);
  // nvarchar(max) from the start, or + would cut a long text at 4,000 characters.
  lengthPrefixed: (v) => `CAST(LEN((CAST(${v} AS nvarchar(max)) + N'.') COLLATE ${SC}) - 1 AS nvarchar(max)) + N':' + ${v}`,
  // The first 15 hex digits after a '0' are 8 bytes, read as a bigint (big-endian); nvarchar(max) first, or + truncates at 4000.
  rowHash: (fields) =>
    `CAST(CONVERT(binary(8), '0' + LEFT(CONVERT(varchar(32), HASHBYTES('MD5', ${utf8(fields.map((f, i) => (i === 0 ? `CAST(${f} AS nvarchar(max))` : f)).join(" + N'|' + "))}), 2), 15), 2) AS bigint)`,
  // tedious reads real and float exactly into a number, which the query prints as its shortest round-trip text.
  raw: (_t, x) => x,
  // Values of a fixed-length source type (MySQL BINARY(n)) all have its length, so zero padding changes no comparison in a varbinary key either.
  textOrderIsByteOrder: (p, t) => p.bytewise || (t.kind === 'binary' && t.fixedLength !== null && /^varbinary\(\d+\)$/.test(p.type)),
  timeText: (x) => `CAST(${x} AS nvarchar(16))`,
  // A text's UTF-8 bytes order as its code points; only a trailing U+0000 (which Postgres text cannot hold) compares as padding.
  byteOrder: (text) => ({ expr: utf8(text), param: (v) => utf8(v) }),
  ownOrder,
  async physicalColumns(side, id) {
    const rows = await side.query(COLUMNS, [qualified(id)]);
    return new Map(
      rows.map(([name, type, maxLength, precision, scale, collation]) => {
        const spelled = typeText(type!, Number(maxLength), Number(precision), Number(scale));
        return [name!, { type: spelled, collation: collation ?? null, bytewise: BYTEWISE.test(spelled) }];
      }),
    );
  },
};
