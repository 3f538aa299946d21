import { normalizeColumnType } from './mysql-dialect.js';

/**
 * Whether a target column of type `actual` (its COLUMN_TYPE) holds every value of `wanted` (the type
 * ferry would create) unchanged: the same type, or one an operator widened on purpose (FLOAT →
 * DOUBLE, INT → BIGINT, VARCHAR(10) → VARCHAR(50) or TEXT, DECIMAL(10,2) → DECIMAL(14,4),
 * DATETIME(3) → DATETIME(6)). Narrower or different types are drift (column-drift.ts).
 */
export function mysqlHolds(actual: string, wanted: string): boolean {
  const a = normalizeColumnType(actual);
  const w = normalizeColumnType(wanted);
  if (a === w) return true;
  const have = parse(a);
  const need = parse(w);
  if (!have || !need) return false;
  return (
    holdsInt(have, need) ||
    holdsDecimal(have, need) ||
    holdsText(have, need) ||
    holdsBinary(have, need) ||
    (need.base === 'float' && need.args.length === 0 && have.base === 'double' && have.args.length === 0 && have.unsigned === need.unsigned) ||
    (TEMPORAL.has(need.base) && have.base === need.base && (have.args[0] ?? 0) >= (need.args[0] ?? 0))
  );
}

interface Parsed {
  readonly base: string;
  readonly args: readonly number[];
  readonly unsigned: boolean;
}

function parse(type: string): Parsed | null {
  const m = /^([a-z]+)(?:\(([\d,\s]*)\))?((?:\s+unsigned)?)$/.exec(type);
  if (!m) return null;
  return { base: m[1]!, args: m[2] ? m[2].split(',').map(Number) : [], unsigned: m[3]!.trim() === 'unsigned' };
}

const INT_BYTES: Record<string, number> = { tinyint: 1, smallint: 2, mediumint: 3, int: 4, bigint: 8 };

/** A signed type holds an unsigned one of fewer bytes; an unsigned one holds no negative values. */
function holdsInt(have: Parsed, need: Parsed): boolean {
  const h = INT_BYTES[have.base];
  const n = INT_BYTES[need.base];
  if (h === undefined || n === undefined) return false;
  if (have.unsigned) return need.unsigned && h >= n;
  return need.unsigned ? h > n : h >= n;
}

/** DECIMAL(p,s) holds DECIMAL(p',s') with at least as many fractional and integer digits. */
function holdsDecimal(have: Parsed, need: Parsed): boolean {
  if (have.base !== 'decimal' || need.base !== 'decimal' || (have.unsigned && !need.unsigned)) return false;
  const [hp = 10, hs = 0] = have.args;
  const [np = 10, ns = 0] = need.args;
  return hs >= ns && hp - hs >= np - ns;
}

const TEMPORAL = new Set(['datetime', 'timestamp', 'time']);

/** Bytes each TEXT and BLOB type holds; a character of utf8mb4 takes up to 4. */
const LOB_BYTES: Record<string, number> = {
  tinytext: 255,
  text: 65_535,
  mediumtext: 16_777_215,
  longtext: 4_294_967_295,
  tinyblob: 255,
  blob: 65_535,
  mediumblob: 16_777_215,
  longblob: 4_294_967_295,
};

/**
 * CHAR(n)/VARCHAR(n) in VARCHAR(m ≥ n) or a TEXT type of room enough; CHAR(n) in CHAR(m ≥ n) too
 * (MySQL strips CHAR's trailing spaces on reading, whatever its length). A VARCHAR in a CHAR would
 * lose trailing spaces.
 */
function holdsText(have: Parsed, need: Parsed): boolean {
  if (need.base !== 'char' && need.base !== 'varchar') {
    return need.base in LOB_BYTES && need.base.endsWith('text') && have.base.endsWith('text') && LOB_BYTES[have.base]! >= LOB_BYTES[need.base]!;
  }
  const n = need.args[0] ?? 1;
  if (have.base === 'varchar' || (have.base === 'char' && need.base === 'char')) return (have.args[0] ?? 1) >= n;
  return have.base.endsWith('text') && (LOB_BYTES[have.base] ?? 0) >= n * 4;
}

/** BINARY(n)/VARBINARY(n) in VARBINARY(m ≥ n) or a BLOB of room enough (BINARY's padding is part of its value). */
function holdsBinary(have: Parsed, need: Parsed): boolean {
  if (need.base !== 'binary' && need.base !== 'varbinary') {
    return need.base in LOB_BYTES && need.base.endsWith('blob') && have.base.endsWith('blob') && LOB_BYTES[have.base]! >= LOB_BYTES[need.base]!;
  }
  const n = need.args[0] ?? 1;
  if (have.base === 'varbinary') return (have.args[0] ?? 1) >= n;
  return have.base.endsWith('blob') && (LOB_BYTES[have.base] ?? 0) >= n;
}
