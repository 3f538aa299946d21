import type { Column, Engine, TableSchema } from '../core/schema.js';
import type { Verdict } from './plan-model.js';

export interface Assessment {
  readonly verdict: Verdict;
  readonly note?: string;
}

const EXACT: Assessment = { verdict: 'exact' };
const documented = (note: string): Assessment => ({ verdict: 'documented', note });
const lossy = (note: string): Assessment => ({ verdict: 'lossy', note });

/** Temporal kinds MySQL lets hold zero dates, which ferry writes as NULL. */
const ZERO_DATE_KINDS = new Set(['date', 'datetime', 'timestamp']);

/**
 * How column `c` of `t` arrives in a `target` database as `targetType` (what the target dialect
 * creates): the verdict and its reason, agreeing with docs/type-mapping.md's tables.
 */
export function assessColumn(t: TableSchema, c: Column, target: Engine, targetType: string): Assessment {
  if (t.engine === 'mysql' && ZERO_DATE_KINDS.has(c.type.kind)) {
    return documented('zero dates (0000-00-00, 2024-00-10) arrive as NULL');
  }
  if (t.engine === target) return EXACT;
  return t.engine === 'mysql' ? mysqlToPostgres(c) : postgresToMysql(t, c, targetType);
}

function mysqlToPostgres(c: Column): Assessment {
  const type = c.type;
  switch (type.kind) {
    case 'int':
      return type.bytes === 8 && type.unsigned ? documented('numeric(20,0): the whole unsigned range, as a numeric') : EXACT;
    case 'bool':
      return documented('TINYINT(1) as boolean (types.tinyint1): 0 → false, any other value → true');
    case 'time':
      return documented('interval: TIME spans -838:59:59 … 838:59:59, which Postgres time cannot hold');
    case 'year':
      return documented('smallint: YEAR 0000 → 0');
    case 'json':
      return documented('jsonb: key order and whitespace are normalized, a duplicate key keeps its last value');
    case 'enum':
    case 'set':
      return documented('text: the value text (a SET as "b,c")');
    default:
      return EXACT;
  }
}

/** Postgres's date and timestamp range (4713 BC … 294276 AD, ±infinity) against MySQL's 0001 … 9999. */
const PG_DATES = 'BC dates, years after 9999 and ±infinity have no MySQL value: a row holding one is refused with an error naming the column';

function postgresToMysql(t: TableSchema, c: Column, targetType: string): Assessment {
  const type = c.type;
  const isKey = t.primaryKey.includes(c.name);
  switch (type.kind) {
    case 'bool':
      return documented('tinyint(1): false → 0, true → 1');
    case 'decimal': {
      if (type.precision === null)
        return lossy(`${targetType}: values with more than 35 integer digits are refused, more than 30 fractional digits rounded; NaN has no MySQL value`);
      const scale = type.scale ?? 0;
      if (type.precision > 65 || scale > 30) return lossy(`${targetType}: MySQL caps DECIMAL at 65 digits and scale 30; NaN has no MySQL value`);
      return lossy('NaN has no MySQL DECIMAL value');
    }
    case 'float':
    case 'double':
      return lossy('NaN and ±Infinity have no MySQL value');
    case 'date':
      return lossy(PG_DATES);
    case 'datetime':
      return lossy(PG_DATES);
    case 'timestamp':
      return lossy(`UTC wall-clock time; ${PG_DATES}`);
    case 'string':
    case 'binary':
    case 'other': {
      const narrowed = /^(varchar|varbinary)\((\d+)\)$/.exec(targetType);
      const length = type.kind === 'string' ? type.maxLength : type.kind === 'binary' ? type.fixedLength : null;
      if (isKey && narrowed && (length === null || length > Number(narrowed[2]))) {
        return lossy(`primary-key column narrowed to ${targetType} to fit MySQL's 3072-byte index key: longer values are refused`);
      }
      if (type.kind === 'other') return documented(`${targetType}: the Postgres text form of ${c.sourceType}`);
      if (type.kind === 'string' && /^character\(/.test(c.sourceType)) return documented(`${targetType}: char(n) padding arrives as spaces`);
      if (type.kind === 'string' && type.maxLength !== null && targetType === 'longtext') return documented('longtext: the length limit is not kept');
      return EXACT;
    }
    case 'json':
      return documented('json: MySQL normalizes the JSON text (key order, whitespace)');
    case 'uuid':
      return documented('char(36): the canonical text form');
    case 'interval':
      return documented('varchar(100): the Postgres text form, e.g. "1 year 2 mons 3 days 04:05:06.5"');
    case 'inet':
      return documented('varchar(43): the Postgres text form');
    case 'array':
      return documented('json: a JSON array; numbers and booleans as such, the rest as strings');
    case 'bit':
      return type.length > 64 ? { verdict: 'unsupported', note: `MySQL BIT holds at most 64 bits; ${c.sourceType} has ${type.length}` } : EXACT;
    default:
      return EXACT;
  }
}
