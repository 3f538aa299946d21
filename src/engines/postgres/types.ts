import type { Value } from '../../core/change-event.js';
import type { ColumnType } from '../../core/schema.js';
import { FerryError } from '../../core/errors.js';

/** What the catalog says about a column's type (domains already resolved to their base type). */
export interface PgTypeInfo {
  /** pg_type.typname of the (base) type: int4, varchar, _int4 … */
  readonly name: string;
  /** pg_type.typtype: b base, e enum, c composite, r range, m multirange, p pseudo */
  readonly typtype: string;
  /** typname of the element type (its base type, for a domain), for arrays */
  readonly element: string | null;
  /** typtype of the element type, for arrays */
  readonly elementTyptype?: string | null;
  readonly typmod: number;
  /** Labels, for enums */
  readonly labels: readonly string[] | null;
}

/** Fractional-second digits of a time or timestamp typmod (-1: the default, 6). */
function fsp(typmod: number): number {
  return typmod < 0 ? 6 : typmod;
}

/** Postgres types in ferry's vocabulary; a type with no counterpart elsewhere is carried as text ('other'). */
export function columnType(t: PgTypeInfo): ColumnType {
  if (t.typtype === 'e') return { kind: 'enum', values: t.labels ?? [] };
  if (t.element !== null) {
    return { kind: 'array', element: columnType({ name: t.element, typtype: t.elementTyptype ?? 'b', element: null, typmod: -1, labels: t.labels }) };
  }
  switch (t.name) {
    case 'int2':
      return { kind: 'int', bytes: 2, unsigned: false };
    case 'int4':
      return { kind: 'int', bytes: 4, unsigned: false };
    case 'int8':
      return { kind: 'int', bytes: 8, unsigned: false };
    case 'numeric':
      // typmod = ((precision << 16) | scale) + 4; scale is an 11-bit signed number since Postgres 15.
      if (t.typmod < 0) return { kind: 'decimal', precision: null, scale: null };
      return { kind: 'decimal', precision: ((t.typmod - 4) >> 16) & 0xffff, scale: (((t.typmod - 4) & 0x7ff) ^ 0x400) - 0x400 };
    case 'float4':
      return { kind: 'float' };
    case 'float8':
      return { kind: 'double' };
    case 'bool':
      return { kind: 'bool' };
    case 'text':
    case 'name':
    case 'citext':
      return { kind: 'string', maxLength: null };
    case 'varchar':
    case 'bpchar':
      return { kind: 'string', maxLength: t.typmod < 0 ? null : t.typmod - 4 };
    case 'bytea':
      return { kind: 'binary', fixedLength: null };
    case 'date':
      return { kind: 'date' };
    case 'time':
      return { kind: 'time', fsp: fsp(t.typmod) };
    case 'timestamp':
      return { kind: 'datetime', fsp: fsp(t.typmod) };
    case 'timestamptz':
      return { kind: 'timestamp', fsp: fsp(t.typmod) };
    case 'interval':
      return { kind: 'interval' };
    case 'json':
    case 'jsonb':
      return { kind: 'json' };
    case 'uuid':
      return { kind: 'uuid' };
    case 'inet':
    case 'cidr':
      return { kind: 'inet' };
    case 'bit':
      return { kind: 'bit', length: t.typmod < 0 ? 1 : t.typmod };
    default:
      return { kind: 'other' };
  }
}

/**
 * A value's canonical form (change-event.ts) from its Postgres text, the same for snapshot rows and
 * streamed changes. Integers are numbers when safe, timestamptz is UTC wall-clock text like MySQL's
 * TIMESTAMP, bytea is a Buffer; everything else keeps the server's text form.
 */
export function fromPgText(t: ColumnType, text: string | null): Value {
  if (text === null) return null;
  switch (t.kind) {
    case 'int': {
      if (t.bytes < 8) return Number(text);
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'bool':
      return text === 't';
    case 'float':
    case 'double':
      return Number(text);
    case 'binary':
      return Buffer.from(text.slice(2), 'hex');
    case 'timestamp':
      return utcWallClock(text);
    default:
      return text;
  }
}

/** `2024-01-02 03:04:05.123456+00` → `2024-01-02 03:04:05.123456`; the session runs in UTC, so the offset is always +00. */
function utcWallClock(text: string): string {
  if (text.endsWith('+00')) return text.slice(0, -3);
  if (text.endsWith('+00 BC')) return `${text.slice(0, -6)} BC`;
  if (text === 'infinity' || text === '-infinity') return text;
  throw new FerryError('fatal', `timestamptz value ${text} is not in UTC; the source session's TimeZone setting was overridden`, {
    hint: "remove any TimeZone setting forced on ferry's source role (ALTER ROLE … RESET TimeZone)",
  });
}
