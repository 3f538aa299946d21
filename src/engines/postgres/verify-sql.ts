import type { ColumnType } from '../../core/schema.js';
import type { KeyOrder, PhysicalColumn, VerifySql } from '../../core/verify-sql.js';
import { qualified, quoteIdent } from './quoting.js';

/** The output text of a Postgres value (a cast to text differs for inet and some others), NULL kept. */
function output(x: string): string {
  return `CASE WHEN ${x} IS NULL THEN NULL ELSE format('%s', ${x}) END`;
}

function timestampText(x: string): string {
  // Outside year 1 … infinity (BC, ±infinity) only Postgres holds the value: its own text is exact there.
  return `CASE WHEN isfinite(${x}) AND ${x} >= '0001-01-01' THEN to_char(${x}, 'YYYY-MM-DD HH24:MI:SS.US') ELSE ${x}::text END`;
}

function canonical(t: ColumnType, p: PhysicalColumn, x: string): string {
  switch (t.kind) {
    case 'bool':
      return p.type === 'boolean' ? `${x}::int::text` : `(${x} <> 0)::int::text`;
    case 'decimal':
      return `trim_scale(${x})::text`;
    case 'float':
      return `${x}::real::text`; // a target column widened to double precision prints the real it holds
    case 'datetime':
      return timestampText(x);
    case 'timestamp':
      return timestampText(p.type.includes('with time zone') ? `(${x} AT TIME ZONE 'UTC')` : x);
    case 'time':
      return `(extract(epoch from ${x}) * 1000000)::bigint::text`;
    case 'binary':
      return `encode(${x}, 'hex')`;
    case 'string': {
      // character(n) keeps its padding in ferry's copies (its output text); a cast to text drops it.
      const n = /^character\((\d+)\)$/.exec(p.type)?.[1];
      return n ? `rpad(${x}::text, ${n})` : `${x}::text`;
    }
    case 'uuid':
      return p.type === 'uuid' ? `${x}::text` : `lower(${x}::text)`;
    case 'inet':
    case 'other':
      return output(x);
    default:
      return `${x}::text`;
  }
}

/** A row filter's value at placeholder `p` compared with a column of type `t`: whole numbers as bigint (an integer column compares with 2^31 too), the rest as text. */
export function filterParam(p: string, t: ColumnType): string {
  return `${p}::${t.kind === 'int' ? 'bigint' : 'text'}`;
}

function ownOrder(t: ColumnType, p: PhysicalColumn, x: string): KeyOrder {
  const base = p.type.replace(/\(.*?\)/g, '');
  const param = (v: string): string => {
    switch (t.kind) {
      case 'bool':
        return p.type === 'boolean' ? `${v}::int::boolean` : `${v}::int`;
      case 'timestamp':
        return base.includes('with time zone') ? `(${v}::timestamp AT TIME ZONE 'UTC')` : `${v}::timestamp`;
      case 'binary':
        return `decode(${v}, 'hex')`;
      case 'bit':
        return `${v}::varbit`;
      case 'string':
        return /^(character\(|bpchar)/.test(p.type) ? `${v}::bpchar` : `${v}::text`;
      default:
        return `${v}::${base}`;
    }
  };
  return { expr: x, param };
}

/**
 * The type as format_type prints it, the collation (the database's, spelled out, for 'default'), and
 * whether it orders by code point: C, POSIX, C.UTF-8 (glibc orders it by code point), or the builtin
 * provider. to_jsonb reads catalog columns older servers do not have.
 */
const COLUMNS = `
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation = 0 THEN NULL
            WHEN co.collname = 'default' THEN 'default ' || coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') || ' ' || coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale', d.datcollate)
            ELSE co.collname::text END,
       CASE WHEN a.attcollation = 0 THEN false
            WHEN co.collname = 'default' THEN coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'b'
              OR (coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' AND d.datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8'))
            ELSE co.collprovider = 'b' OR (co.collprovider = 'c' AND co.collcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')) END::text
  FROM pg_attribute a
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  JOIN pg_database d ON d.datname = current_database()
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`;

/** Postgres's pieces of verify's statements (core/verify-sql.ts). */
export const postgresVerifySql: VerifySql = {
  quoteIdent,
  qualified,
  placeholder: (n) => `$${n}`,
  filterParam,
  rowValueRanges: true,
  rowAt: (offset) => `LIMIT 1 OFFSET ${offset}`,
  countAndSum: (hash) => `count(*)::text, coalesce(sum(${hash}), 0)::text`,
  canonical,
  md5: (x) => `md5(${x})`,
  nullAsN: (v) => `coalesce(${v}, 'N')`,
  lengthPrefixed: (v) => `length(${v}) || ':' || ${v}`,
  rowHash: (fields) => `('x' || substr(md5(${fields.join(" || '|' || ")}), 1, 15))::bit(60)::bigint`,
  raw: (_t, x) => `${x}::text`,
  textOrderIsByteOrder: (p) => /^(uuid|bytea)$/.test(p.type) || (p.bytewise && /^(text|character varying)\b/.test(p.type)),
  timeText: (x) => `${x}::text`,
  byteOrder: (text) => ({ expr: `(${text}) COLLATE "C"`, param: (v) => `${v}::text COLLATE "C"` }),
  ownOrder,
  async physicalColumns(side, id) {
    const [exists] = await side.query('SELECT to_regclass($1)::text', [qualified(id)]);
    if (!exists?.[0]) return new Map();
    const rows = await side.query(COLUMNS, [qualified(id)]);
    return new Map(rows.map(([name, type, collation, bytewise]) => [name!, { type: type!, collation: collation ?? null, bytewise: bytewise === 'true' }]));
  },
};
