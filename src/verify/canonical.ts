import type { Value } from '../core/change-event.js';
import type { ColumnType } from '../core/schema.js';
import { parseArrayLiteral, type ArrayElement } from '../core/pg-array-literal.js';

/** Microseconds of a [-]H:MM:SS[.f] duration (MySQL TIME, Postgres interval text). */
function durationMicros(text: string): bigint {
  const m = /^(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m) return BigInt(-1e15); // not a plain duration: never equal to a valid one
  const micros = ((BigInt(m[2]!) * 60n + BigInt(m[3]!)) * 60n + BigInt(m[4]!)) * 1_000_000n + BigInt((m[5] ?? '').padEnd(6, '0'));
  return m[1] ? -micros : micros;
}

function stripFraction(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The elements of a JSON array (a Postgres array in a MySQL target) as text, numbers with their exact
 * digits: `[1, 2.50, "a", true, {"k": 1}]` → ['1', '2.50', 'a', 'true', '{"k": 1}'].
 */
function jsonArrayItems(text: string): ArrayElement[] {
  let i = 0;
  const space = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const value = (): ArrayElement => {
    space();
    const c = text[i];
    if (c === '[') {
      i++;
      const out: ArrayElement[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        space();
        if (text[i++] === ']') return out;
      }
    }
    const start = i;
    const skipString = () => {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\') i++;
      }
      i++;
    };
    if (c === '"') {
      skipString();
      return JSON.parse(text.slice(start, i)) as string;
    }
    if (c === '{') {
      let depth = 0;
      while (i < text.length) {
        if (text[i] === '"') {
          skipString();
          continue;
        }
        if (text[i] === '{') depth++;
        if (text[i] === '}' && --depth === 0) break;
        i++;
      }
      return text.slice(start, ++i);
    }
    while (i < text.length && !/[\s,\]]/.test(text[i]!)) i++;
    const token = text.slice(start, i);
    return token === 'null' ? null : token;
  };
  const items = value();
  return Array.isArray(items) ? items : [items];
}

/** A Postgres array literal or its JSON form (a MySQL target), elements compared by their own type's canonical form. */
function canonicalArray(element: ColumnType, s: string): string {
  const items = s.startsWith('[') && !/^\[\d+:\d+\]=/.test(s) ? jsonArrayItems(s) : parseArrayLiteral(s);
  const each = (e: ArrayElement): unknown => (Array.isArray(e) ? e.map(each) : e === null ? null : canonical(element, e));
  return JSON.stringify(items.map(each));
}

/**
 * One text form per value, whichever side it was read from: the source's canonical Value or the
 * target's text output. Two rows are equal when their canonical forms are.
 */
export function canonical(type: ColumnType, v: Value): string | null {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v.toString('hex');
  const s = String(v);
  switch (type.kind) {
    case 'bool':
      return s === 'true' || s === 't' || s === '1' ? 't' : 'f';
    case 'float':
      return String(Math.fround(Number(s)));
    case 'double':
      return String(Number(s));
    case 'decimal':
      return stripFraction(s);
    case 'datetime':
      return stripFraction(s);
    case 'timestamp':
      return stripFraction(s.replace(/\+00(:00)?( BC)?$/, '$2'));
    case 'time':
      return durationMicros(s).toString();
    case 'binary':
      return s.startsWith('\\x') ? s.slice(2) : Buffer.from(s, 'binary').toString('hex');
    case 'array':
      return canonicalArray(type.element, s);
    case 'json':
      try {
        return JSON.stringify(sortedJson(JSON.parse(s)));
      } catch {
        return s;
      }
    default:
      return s;
  }
}
