/** A column as sys.columns describes it. */
export type CatalogColumn = {
  /** TYPE_NAME(system_type_id): the base type, an alias type (sysname) resolved. */
  readonly type: string;
  /** Bytes; -1 for (max). */
  readonly maxLength: number;
  readonly precision: number;
  readonly scale: number;
};

/** A catalog column's type spelled as mssql-dialect.ts spells the types it creates. */
export function catalogType(c: CatalogColumn): string {
  const type = c.type.toLowerCase();
  const max = c.maxLength === -1;
  switch (type) {
    case 'nvarchar':
    case 'nchar':
      return `${type}(${max ? 'max' : c.maxLength / 2})`;
    case 'varchar':
    case 'char':
    case 'varbinary':
    case 'binary':
      return `${type}(${max ? 'max' : c.maxLength})`;
    case 'decimal':
    case 'numeric':
      return `decimal(${c.precision},${c.scale})`;
    case 'datetime2':
    case 'datetimeoffset':
    case 'time':
      return `${type}(${c.scale})`;
    case 'float':
      return c.precision <= 24 ? 'real' : 'float';
    default:
      return type;
  }
}

interface Parsed {
  readonly base: string;
  /** The length or precision; Infinity for (max); null without one. */
  readonly n: number | null;
  readonly scale: number;
}

function parse(type: string): Parsed | null {
  const m = /^([a-z0-9]+)(?:\((max|\d+)(?:,(\d+))?\))?$/.exec(type.toLowerCase().replace(/\s+/g, ''));
  if (!m) return null;
  return { base: m[1]!, n: m[2] === undefined ? null : m[2] === 'max' ? Number.POSITIVE_INFINITY : Number(m[2]), scale: Number(m[3] ?? 0) };
}

/** Integer types as the range of whole numbers they hold. */
const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  tinyint: [0n, 255n],
  smallint: [-32768n, 32767n],
  int: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
};

/** An exact numeric type as the whole numbers it holds and its digits after the point. */
function exactRange(p: Parsed): { min: bigint; max: bigint; scale: number } | null {
  const ints = INT_RANGES[p.base];
  if (ints) return { min: ints[0], max: ints[1], scale: 0 };
  if (p.base !== 'decimal' || p.n === null) return null;
  const max = 10n ** BigInt(p.n - p.scale) - 1n;
  return { min: -max, max, scale: p.scale };
}

/**
 * Whether a target column of type `actual` (catalogType) holds every value of `wanted` (the type
 * ferry would create) unchanged: the same type, or one an operator widened on purpose (a wider
 * integer or decimal, real → float, a longer nvarchar or varbinary, more fractional digits of a time
 * type). Narrower or different types are drift (column-drift.ts).
 */
export function mssqlHolds(actual: string, wanted: string): boolean {
  const a = parse(actual);
  const w = parse(wanted);
  if (!a || !w) return false;
  if (a.base === w.base && a.n === w.n && a.scale === w.scale) return true;
  const [ar, wr] = [exactRange(a), exactRange(w)];
  if (ar && wr) return ar.scale >= wr.scale && ar.min <= wr.min && ar.max >= wr.max;
  if (w.base === 'real') return a.base === 'float';
  if (w.base === 'nvarchar') return a.base === 'nvarchar' && (a.n ?? 0) >= (w.n ?? 0);
  if (w.base === 'varbinary' || w.base === 'binary') return a.base === 'varbinary' && (a.n ?? 0) >= (w.n ?? 0);
  if (TIME_TYPES.has(w.base)) return a.base === w.base && (a.n ?? 7) >= (w.n ?? 7);
  return false;
}

const TIME_TYPES = new Set(['time', 'datetime2', 'datetimeoffset']);
