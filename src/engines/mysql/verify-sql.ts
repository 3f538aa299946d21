import type { ColumnType } from '../../core/schema.js';
import type { KeyOrder, VerifySql } from '../../core/verify-sql.js';
import { qualified, quoteIdent } from './quoting.js';

/** MySQL zero dates (month or day 0) are NULL in ferry's copies. */
function unlessZeroDate(x: string, text: string): string {
  return `IF(MONTH(${x}) = 0 OR DAYOFMONTH(${x}) = 0, NULL, ${text})`;
}

function canonical(t: ColumnType, x: string): string {
  switch (t.kind) {
    case 'int':
    case 'year':
      return `CAST(${x} + 0 AS CHAR)`; // + 0: no ZEROFILL padding, YEAR 0 as 0
    case 'bool':
      return `CAST(${x} <> 0 AS CHAR)`;
    case 'decimal': {
      const s = `CAST(${x} + 0 AS CHAR)`;
      return `IF(LOCATE('.', ${s}) = 0, ${s}, TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM ${s})))`;
    }
    case 'float':
      return `CAST(${x} + 0e0 AS CHAR)`; // widened: FLOAT's own text has six digits
    case 'double':
      return `CAST(${x} AS CHAR)`;
    case 'date':
      return unlessZeroDate(x, `CAST(${x} AS CHAR)`);
    case 'datetime':
    case 'timestamp':
      return unlessZeroDate(x, `DATE_FORMAT(${x}, '%Y-%m-%d %H:%i:%s.%f')`);
    case 'time':
      return `CAST(IF(${x} < TIME '00:00:00', -1, 1) * ((HOUR(${x}) * 3600 + MINUTE(${x}) * 60 + SECOND(${x})) * 1000000 + MICROSECOND(${x})) AS CHAR)`;
    case 'binary':
      return `LOWER(HEX(${x}))`;
    case 'bit':
      return `LPAD(BIN(${x}), ${t.length}, '0')`;
    case 'uuid':
      return `LOWER(CONVERT(${x} USING utf8mb4))`;
    default:
      return `CONVERT(${x} USING utf8mb4)`;
  }
}

function ownOrder(t: ColumnType, x: string): KeyOrder {
  const param = (v: string): string => {
    switch (t.kind) {
      case 'int':
      case 'year':
      case 'bool':
        return `CAST(${v} AS DECIMAL(65,0))`;
      case 'decimal':
        return `CAST(${v} AS DECIMAL(65,30))`;
      case 'float':
      case 'double':
        return `(${v} + 0e0)`;
      case 'binary':
        return `UNHEX(${v})`;
      case 'bit':
        return `CAST(CONV(${v}, 2, 10) AS UNSIGNED)`;
      default:
        return v; // temporal and text columns convert a string by their own type and collation
    }
  };
  return { expr: t.kind === 'bool' ? `(${x} <> 0)` : x, param };
}

/**
 * Collations that order text by code point, which is UTF-8's byte order. Not utf8mb4_bin: it pads
 * with spaces, so 'a' sorts after 'a' followed by a tab.
 */
const BYTEWISE = /^(utf8mb4_nopad_bin|utf8mb4_0900_bin)$/;
const BINARY_TYPE = /^(binary|varbinary|tinyblob|blob|mediumblob|longblob)\b/;

const COLUMNS = 'SELECT COLUMN_NAME, LOWER(COLUMN_TYPE), COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?';

/** MySQL's pieces of verify's statements (core/verify-sql.ts). */
export const mysqlVerifySql: VerifySql = {
  quoteIdent,
  qualified,
  placeholder: () => '?',
  // A string binds as the snapshot binds its value: an integer column compares it as a number.
  filterParam: (p) => p,
  // The expanded form `(a > ?) OR (a = ? AND b > ?)` is what an index range scan serves on every server version.
  rowValueRanges: false,
  rowAt: (offset) => `LIMIT ${offset}, 1`,
  countAndSum: (hash) => `COUNT(*), COALESCE(SUM(${hash}), 0)`,
  canonical: (t, _p, x) => canonical(t, x),
  md5: (x) => `MD5(${x})`,
  nullAsN: (v) => `COALESCE(${v}, 'N')`,
  lengthPrefixed: (v) => `CONCAT(CHAR_LENGTH(${v}), ':', ${v})`,
  rowHash: (fields) => `CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', ${fields.join(', ')})), 1, 15), 16, 10) AS UNSIGNED)`,
  raw: (t, x) => (t.kind === 'float' ? `${x} + 0e0` : x),
  textOrderIsByteOrder: (p) => BINARY_TYPE.test(p.type) || (p.bytewise && /^(char|varchar|tinytext|text|mediumtext|longtext)\b/.test(p.type)),
  timeText: (x) => `CAST(${x} AS CHAR)`,
  byteOrder: (text) => ({ expr: `CAST(${text} AS BINARY)`, param: (v) => `CAST(${v} AS BINARY)` }),
  ownOrder: (t, _p, x) => ownOrder(t, x),
  async physicalColumns(side, id) {
    const rows = await side.query(COLUMNS, [id.schema, id.name]);
    return new Map(
      rows.map(([name, type, collation]) => [
        name!,
        {
          type: type!,
          collation: collation ?? null,
          bytewise: BINARY_TYPE.test(type!) || BYTEWISE.test(collation ?? ''),
        },
      ]),
    );
  },
};
