import { createHmac } from 'node:crypto';
import type { Mask } from '../core/transform-rules.js';
import type { Value } from '../core/change-event.js';
import type { Column, ColumnType, Engine } from '../core/schema.js';
import { maskInput } from './mask-input.js';

/** What the redact mask writes in place of every non-NULL value. */
export const REDACTED = 'REDACTED';

/** Length of the hash mask's value: HMAC-SHA256 as lower-case hex. */
export const HASH_LENGTH = 64;

/** A value as text: strings as they are, numbers in JavaScript's shortest form, booleans as true/false, bytes as lower-case hex. */
export function canonicalText(v: Exclude<Value, null>): string {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return String(v);
}

/**
 * The mask of a column of `type` as a function of one value; NULL stays NULL under every mask (the
 * null mask makes every value NULL). Masks read each value as maskInput() gives it.
 */
export function maskFunction(mask: Mask, salt: string | undefined, type: ColumnType): (v: Value) => Value {
  if (mask === 'null') return () => null;
  const masked = maskText(mask, salt);
  return (v) => (v === null ? null : masked(maskInput(type, v)));
}

function maskText(mask: Exclude<Mask, 'null'>, salt: string | undefined): (input: string | Buffer) => string {
  if (mask === 'redact') return () => REDACTED;
  if (mask === 'hash') {
    if (salt === undefined) throw new Error('the hash mask needs transforms.salt');
    // Bytes are hashed as they are, so the value matches an HMAC computed over the column in SQL.
    return (input) => createHmac('sha256', salt).update(input).digest('hex');
  }
  const keepLast = 'keepLast' in mask;
  const keep = keepLast ? mask.keepLast : mask.keepFirst;
  return (input) => {
    // Characters, not UTF-16 units: a character outside the BMP is one '*'.
    const chars = Array.from(Buffer.isBuffer(input) ? input.toString('hex') : input);
    if (chars.length <= keep) return chars.join('');
    const hidden = '*'.repeat(chars.length - keep);
    return keepLast ? hidden + chars.slice(-keep).join('') : chars.slice(0, keep).join('') + hidden;
  };
}

/** The mask's name as `ferry plan` prints it. */
export function maskName(mask: Mask): string {
  if (typeof mask === 'string') return mask;
  return 'keepLast' in mask ? `keepLast ${mask.keepLast}` : `keepFirst ${mask.keepFirst}`;
}

/**
 * A string column of `length` characters (null: unbounded). Its source type is spelled as the
 * source's engine prints it, since a target of the same engine compares its own column with it.
 */
function stringColumn(c: Column, engine: Engine, length: number | null): Column {
  const { collation: _c, default: _d, onUpdate: _o, ...rest } = c;
  return { ...rest, type: { kind: 'string', maxLength: length }, sourceType: length === null ? 'text' : `${VARCHAR[engine]}(${length})`, autoIncrement: false };
}

/** How each source engine prints a bounded string type. */
const VARCHAR: Readonly<Record<Engine, string>> = { mysql: 'varchar', postgres: 'character varying' };

/**
 * The column as the target holds its masked values: hash a 64-character string, redact one that
 * holds the fixed text, keepFirst/keepLast the source's string type (the length does not change) or
 * text for another type's values, null the same type made nullable.
 */
export function maskedColumn(c: Column, engine: Engine, mask: Mask, salt: string | undefined): Column {
  const backfill = 'value' in c.backfill ? { value: maskFunction(mask, salt, c.type)(c.backfill.value) } : c.backfill;
  if (mask === 'null') {
    const { default: _d, onUpdate: _o, ...rest } = c;
    return { ...rest, nullable: true, autoIncrement: false, backfill: { value: null } };
  }
  if (mask === 'hash') return { ...stringColumn(c, engine, HASH_LENGTH), backfill };
  if (mask === 'redact') return { ...stringColumn(c, engine, REDACTED.length), backfill };
  if (c.type.kind === 'string') {
    const { default: _d, onUpdate: _o, ...rest } = c;
    return { ...rest, backfill };
  }
  return { ...stringColumn(c, engine, null), backfill };
}
