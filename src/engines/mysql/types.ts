import type { Value } from '../../core/change-event.js';
import type { Backfill, ColumnType } from '../../core/schema.js';
import { FerryError } from '../../core/errors.js';
import { columnDefault } from './defaults.js';

export interface TypeOptions {
  readonly tinyint1: 'smallint' | 'boolean';
}

const INT_BYTES: Record<string, 1 | 2 | 3 | 4 | 8> = { tinyint: 1, smallint: 2, mediumint: 3, int: 4, integer: 4, bigint: 8 };

/** Quoted list items of `enum('a','b,c')`, with '' and \' unescaped. */
function parseValueList(body: string): string[] {
  const values: string[] = [];
  const re = /'((?:[^'\\]|''|\\.)*)'/g;
  for (let m = re.exec(body); m; m = re.exec(body)) values.push(m[1]!.replace(/''/g, "'").replace(/\\(.)/g, '$1'));
  return values;
}

/**
 * Translates an INFORMATION_SCHEMA.COLUMNS COLUMN_TYPE (`bigint(20) unsigned`, `datetime(6)`) into
 * ferry's vocabulary. `column` names the column in the error about a type ferry cannot carry.
 */
export function parseColumnType(columnType: string, options: TypeOptions, column?: string): ColumnType {
  // Lower-case the type name only: ENUM and SET value lists keep their case.
  const m = /^([A-Za-z0-9]+)(?:\((.*)\))?(.*)$/s.exec(columnType.trim());
  if (!m) throw new FerryError('fatal', `unrecognised column type ${columnType}`);
  const base = m[1]!.toLowerCase();
  const args = m[2] ?? '';
  const unsigned = /\bunsigned\b/i.test(m[3] ?? '');
  const n = (i: number, fallback: number) => {
    const v = Number(args.split(',')[i]);
    return Number.isFinite(v) && args !== '' ? v : fallback;
  };
  if (base === 'tinyint' && args === '1' && !unsigned && options.tinyint1 === 'boolean') return { kind: 'bool' };
  if (base === 'bool' || base === 'boolean') return options.tinyint1 === 'boolean' ? { kind: 'bool' } : { kind: 'int', bytes: 1, unsigned: false };
  const bytes = INT_BYTES[base];
  if (bytes) return { kind: 'int', bytes, unsigned };
  switch (base) {
    case 'decimal':
    case 'numeric':
    case 'dec':
    case 'fixed':
      return { kind: 'decimal', precision: n(0, 10), scale: n(1, 0) };
    case 'float':
      return { kind: 'float' };
    case 'double':
    case 'real':
      return { kind: 'double' };
    case 'date':
      return { kind: 'date' };
    case 'datetime':
      return { kind: 'datetime', fsp: n(0, 0) };
    case 'timestamp':
      return { kind: 'timestamp', fsp: n(0, 0) };
    case 'time':
      return { kind: 'time', fsp: n(0, 0) };
    case 'year':
      return { kind: 'year' };
    case 'char':
    case 'varchar':
      return { kind: 'string', maxLength: n(0, 1) };
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
      return { kind: 'string', maxLength: null };
    case 'binary':
      return { kind: 'binary', fixedLength: n(0, 1) };
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { kind: 'binary', fixedLength: null };
    case 'json':
      return { kind: 'json' };
    case 'enum':
      return { kind: 'enum', values: parseValueList(args) };
    case 'set':
      return { kind: 'set', values: parseValueList(args) };
    case 'bit':
      return { kind: 'bit', length: n(0, 1) };
    case 'uuid':
      return { kind: 'uuid' };
    default:
      throw new FerryError('fatal', `${column === undefined ? 'a column' : `column ${column}`} has type ${columnType}, which ferry cannot replicate`, {
        hint: 'exclude the table (tables.exclude) or change the column type; docs/type-mapping.md lists the supported types',
      });
  }
}

const ZERO_DATE = /^0000-00-00|^\d{4}-00-|^\d{4}-\d{2}-00/;

function bitString(buf: Buffer, length: number): string {
  if (buf.length <= 6) return (buf.length ? buf.readUIntBE(0, buf.length) : 0).toString(2).padStart(length, '0').slice(-length);
  let bits = '';
  for (const byte of buf) bits += byte.toString(2).padStart(8, '0');
  return bits.slice(-length).padStart(length, '0');
}

function formatUuid(buf: Buffer): string {
  const h = buf.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Brings a value read by mysql2 (snapshot) or zongji (binlog) to ferry's canonical form, so both
 * paths deliver identical rows. Zero dates become NULL (the documented policy: Postgres has none).
 */
export function normalizeValue(type: ColumnType, v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (type.kind) {
    case 'int':
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
      if (typeof v === 'string') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
      return v as number;
    case 'bool':
      return Number(v) !== 0;
    case 'decimal':
      return String(v);
    case 'float':
    case 'double':
      return Number(v);
    case 'year':
      // The binlog stores YEAR as an offset from 1900, so YEAR 0000 decodes as 1900 (not a valid YEAR).
      return Number(v) === 1900 ? 0 : Number(v);
    case 'date':
    case 'datetime':
    case 'timestamp': {
      const s = String(v);
      return ZERO_DATE.test(s) ? null : s;
    }
    case 'time':
    case 'string':
    case 'enum':
    case 'set':
      return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    case 'binary':
      return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'binary');
    case 'json':
      return typeof v === 'string' ? v : JSON.stringify(v);
    case 'bit':
      return Buffer.isBuffer(v) ? bitString(v, type.length) : Number(v).toString(2).padStart(type.length, '0');
    case 'uuid':
      return Buffer.isBuffer(v) ? formatUuid(v) : String(v);
    case 'interval':
    case 'inet':
    case 'array':
    case 'other': // Postgres types: never read from MySQL
      return String(v);
  }
}

/** The value MySQL gives existing rows for a NOT NULL column added without a DEFAULT. */
function implicitDefault(type: ColumnType): Backfill {
  switch (type.kind) {
    case 'int':
    case 'bool':
    case 'decimal':
    case 'float':
    case 'double':
    case 'year':
      return { value: normalizeValue(type, '0') };
    case 'string':
    case 'set':
      return { value: '' };
    case 'enum':
      return { value: type.values[0] ?? '' };
    case 'date':
    case 'datetime':
    case 'timestamp':
      return { value: null }; // the zero date, which ferry writes as NULL
    case 'time':
      return { value: '00:00:00' };
    case 'binary':
      return { value: Buffer.alloc(type.fixedLength ?? 0) };
    case 'bit':
      return { value: '0'.repeat(type.length) };
    case 'uuid':
      return { value: '00000000-0000-0000-0000-000000000000' };
    case 'json':
    case 'interval':
    case 'inet':
    case 'array':
    case 'other':
      return { expression: `a NOT NULL ${type.kind} column without a default` };
  }
}

/**
 * What existing rows hold when this column is added: its constant default, or MySQL's implicit one
 * for a NOT NULL column without any. Generated and auto-increment columns get per-row values ferry
 * cannot know, and so does an expression default.
 */
export function columnBackfill(type: ColumnType, nullable: boolean, rawDefault: string | null, extra: string, flavor: 'mariadb' | 'mysql'): Backfill {
  if (/\b(VIRTUAL|STORED|PERSISTENT)\b/i.test(extra)) return { expression: 'a generated column' };
  if (/auto_increment/i.test(extra)) return { expression: 'an AUTO_INCREMENT column' };
  const declared = columnDefault(type, rawDefault, extra, flavor);
  if (!declared) return nullable ? { value: null } : implicitDefault(type);
  return declared.kind === 'literal' ? { value: declared.value } : { expression: `DEFAULT ${declared.text}` };
}
