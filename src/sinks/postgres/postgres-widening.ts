/**
 * Whether a target column of type `actual` (format_type text) holds every value of `wanted` (the type
 * ferry would create) unchanged: the same type, or one an operator widened on purpose (integer →
 * bigint or numeric, real → double precision, varchar(10) → varchar(50) or text, numeric(10,2) →
 * numeric(14,4) or numeric, timestamp(3) → timestamp(6)). Narrower or different types are drift
 * (column-drift.ts).
 */
export function postgresHolds(actual: string, wanted: string): boolean {
  if (actual === wanted) return true;
  if (wanted === 'real') return actual === 'double precision';
  return holdsInteger(actual, wanted) || holdsNumeric(actual, wanted) || holdsText(actual, wanted) || holdsTemporal(actual, wanted);
}

const INT_RANK: Record<string, number> = { smallint: 2, integer: 4, bigint: 8 };
/** Decimal digits of the largest value of each integer type. */
const INT_DIGITS: Record<string, number> = { smallint: 5, integer: 10, bigint: 19 };

function holdsInteger(actual: string, wanted: string): boolean {
  const need = INT_RANK[wanted];
  if (need === undefined) return false;
  if (INT_RANK[actual] !== undefined) return INT_RANK[actual]! >= need;
  const n = numeric(actual);
  // Scale 0 only: numeric(12,2) would print 5 as 5.00.
  return n !== null && (n.precision === null || (n.scale === 0 && n.precision >= INT_DIGITS[wanted]!));
}

/** `numeric(p,s)` → p and s; `numeric` → unconstrained (null precision); anything else → null. */
function numeric(type: string): { precision: number | null; scale: number } | null {
  if (type === 'numeric') return { precision: null, scale: 0 };
  const m = /^numeric\((\d+),(-?\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : null;
}

/** At least as many integer and fractional digits (unconstrained numeric holds every numeric). */
function holdsNumeric(actual: string, wanted: string): boolean {
  const have = numeric(actual);
  const need = numeric(wanted);
  if (!have || !need) return false;
  if (have.precision === null) return true;
  if (need.precision === null) return false;
  return have.scale >= need.scale && have.precision - have.scale >= need.precision - need.scale;
}

/** varchar(n) in varchar(m ≥ n), unconstrained varchar or text; text and unconstrained varchar in each other. */
function holdsText(actual: string, wanted: string): boolean {
  const unbounded = (t: string) => t === 'text' || t === 'character varying';
  if (unbounded(wanted)) return unbounded(actual);
  const need = /^character varying\((\d+)\)$/.exec(wanted)?.[1];
  if (need === undefined) return false;
  if (unbounded(actual)) return true;
  const have = /^character varying\((\d+)\)$/.exec(actual)?.[1];
  return have !== undefined && Number(have) >= Number(need);
}

/** timestamp/time of at least the fractional digits, same time zone handling (no typmod: 6 digits). */
function holdsTemporal(actual: string, wanted: string): boolean {
  const parse = (t: string) => {
    const m = /^(timestamp|time)(?:\((\d)\))? (with(?:out)? time zone)$/.exec(t);
    return m ? { base: `${m[1]} ${m[3]}`, digits: m[2] === undefined ? 6 : Number(m[2]) } : null;
  };
  const have = parse(actual);
  const need = parse(wanted);
  return have !== null && need !== null && have.base === need.base && have.digits >= need.digits;
}
