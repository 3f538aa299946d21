import { type Row, tableKey, type TableId, type Value } from '../../core/change-event.js';
import { FerryError } from '../../core/errors.js';
import { bitBytes, bitsOf } from '../../core/bit-string.js';
import { arrayJson, parseArrayLiteral } from '../../core/pg-array-literal.js';
import type { Column, ColumnType, TableSchema } from '../../core/schema.js';
import { backfillValue } from '../row-writes.js';
import { type TargetColumn, type Wire, wireOf } from './mssql-columns.js';

/**
 * ferry's canonical values (core/change-event.ts) as tedious takes them for a column's wire
 * (mssql-columns.ts): the JavaScript type its encoder writes exactly. tedious checks a bulk load's
 * values on the first row only, so every row gets that type here, not a string it might convert.
 *
 * Text wires carry what the server parses into the column's type: decimals and bigints with every
 * digit, temporals as ISO text with their whole fraction (a Date would keep milliseconds only),
 * Postgres arrays as JSON. Values SQL Server has no form for stop ferry here, naming the column:
 * NaN and ±Infinity, infinite and BC dates, times outside a day.
 */
export function toWire(wire: Wire, type: ColumnType, v: Value, table: TableId, column: string): unknown {
  if (v === null) return null;
  const fail = (why: string): never => {
    throw new FerryError('fatal', `table ${tableKey(table)}, column ${column}: ${shown(v)} ${why}`, {
      hint: 'change the value at the source, or exclude the table (tables.exclude), then re-snapshot it',
    });
  };
  switch (wire) {
    case 'tinyint':
    case 'smallint':
    case 'int': {
      const n = typeof v === 'number' ? v : Number(integerOf(type, v, fail));
      if (!Number.isSafeInteger(n)) fail(`is not an integer for a ${wire} column`);
      return n;
    }
    case 'bigint':
      return typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : integerOf(type, v, fail);
    case 'bit':
      return bitOf(v, fail);
    case 'float':
    case 'real': {
      const n = typeof v === 'boolean' ? Number(v) : Buffer.isBuffer(v) ? Number.NaN : Number(v);
      if (!Number.isFinite(n)) fail('cannot be stored in SQL Server, whose float and real have no NaN or ±Infinity');
      return n;
    }
    case 'varbinary':
      if (Buffer.isBuffer(v)) return v;
      if (typeof v !== 'string') return fail(`is not binary data for a binary column`);
      return type.kind === 'bit' ? bitBytes(v) : Buffer.from(v, 'utf8');
    case 'nvarchar':
      return textOf(type, v, fail);
    case 'text':
      return checkedText(type, textOf(type, v, fail), fail);
  }
}

function shown(v: Value): string {
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex').slice(0, 64)}`;
  return typeof v === 'string' ? `'${v.slice(0, 64)}'` : String(v);
}

/** A value as the text the server reads: booleans as 1/0, Postgres arrays as JSON, MySQL BIT(n) as its n digits. */
function textOf(type: ColumnType, v: NonNullable<Value>, fail: (why: string) => never): string {
  if (typeof v === 'string') return type.kind === 'array' ? arrayJson(type.element, parseArrayLiteral(v)) : v;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
  if (type.kind === 'bit') return bitsOf(v).slice(-type.length).padStart(type.length, '0');
  return fail('is binary data for a column that holds text');
}

const NON_FINITE = /^[-+]?(nan|inf|infinity)$/i;
/** A time of day: SQL Server's time holds 00:00:00 to 23:59:59.9999999 (MySQL's TIME is a duration). */
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,7})?$/;

function checkedText(type: ColumnType, s: string, fail: (why: string) => never): string {
  switch (type.kind) {
    case 'decimal':
    case 'float':
    case 'double':
      if (NON_FINITE.test(s)) fail('cannot be stored in SQL Server, whose decimal and float have no NaN or ±Infinity');
      return s;
    case 'date':
    case 'datetime':
    case 'timestamp':
      if (/infinity|BC$/i.test(s)) fail('has no SQL Server equivalent (date, datetime2 and datetimeoffset hold the years 1 to 9999)');
      return s;
    case 'time':
      if (!TIME_OF_DAY.test(s)) fail('is not a time of day, which is all SQL Server time holds');
      return s;
    default:
      return s;
  }
}

/** An integer's exact value as a BigInt: from decimal text, a boolean, or MySQL BIT(n) bits (a Buffer, or Postgres's '0101' text). */
function integerOf(type: ColumnType, v: NonNullable<Value>, fail: (why: string) => never): bigint {
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (Buffer.isBuffer(v)) return v.length === 0 ? 0n : BigInt(`0x${v.toString('hex')}`);
  const s = String(v).trim();
  if (type.kind === 'bit' && /^[01]+$/.test(s)) return BigInt(`0b${s}`);
  if (!/^[-+]?\d+$/.test(s)) return fail('is not an integer');
  return BigInt(s);
}

function bitOf(v: NonNullable<Value>, fail: (why: string) => never): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (Buffer.isBuffer(v)) return v.some((b) => b !== 0);
  const s = v.trim().toLowerCase();
  if (s === 't' || s === 'true') return true;
  if (s === 'f' || s === 'false') return false;
  if (/^[01]+$/.test(s)) return s.includes('1');
  return fail('is not a boolean for a bit column');
}

/**
 * A row image's values for `columns` (their target columns in `targets`), in wire form. An image
 * without a column predates it (written before ADD COLUMN): it holds what the source gave existing rows.
 */
export function wireRow(t: TableSchema, columns: readonly Column[], targets: readonly TargetColumn[], row: Row): unknown[] {
  return columns.map((c, j) => toWire(wireOf(targets[j]!), c.type, c.name in row ? row[c.name]! : backfillValue(t, c), t.target, c.name));
}
