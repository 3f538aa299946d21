import { FerryError } from './errors.js';
import type { ColumnType } from './schema.js';

/** An element of a Postgres array literal: text, NULL, or a nested array. */
export type ArrayElement = string | null | ArrayElement[];

/**
 * Parses a Postgres array's text form (`{1,2}`, `{"a b",NULL}`, `{{1,2},{3,4}}`, `[0:1]={1,2}`) into
 * nested arrays of element text. Quoted elements unescape `\x` to `x`; unquoted NULL is SQL NULL.
 */
export function parseArrayLiteral(text: string): ArrayElement[] {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0; // explicit bounds are not kept
  const fail = (): never => {
    throw new FerryError('fatal', `not a Postgres array literal: ${text.slice(0, 200)}`);
  };
  const parseArray = (): ArrayElement[] => {
    if (text[i] !== '{') fail();
    i++;
    const out: ArrayElement[] = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      out.push(parseElement());
      const c = text[i++];
      if (c === '}') return out;
      if (c !== ',') fail();
    }
  };
  const parseElement = (): ArrayElement => {
    if (text[i] === '{') return parseArray();
    if (text[i] === '"') {
      i++;
      let s = '';
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        s += text[i++];
      }
      if (text[i++] !== '"') fail();
      return s;
    }
    const start = i;
    while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
    const raw = text.slice(start, i).trim();
    return raw.toUpperCase() === 'NULL' ? null : raw;
  };
  const result = parseArray();
  if (i !== text.length) fail();
  return result;
}

const JSON_NUMBER_KINDS = new Set(['int', 'decimal', 'float', 'double']);
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/;

/**
 * A Postgres array as JSON text (how targets without arrays hold one): numbers with their exact
 * digits (a bigint or numeric beyond 2^53 would not survive a JavaScript number), booleans as such,
 * json elements as their own JSON, the rest as strings.
 */
export function arrayJson(element: ColumnType, items: readonly ArrayElement[]): string {
  const item = (e: ArrayElement): string => {
    if (e === null) return 'null';
    if (Array.isArray(e)) return arrayJson(element, e);
    if (JSON_NUMBER_KINDS.has(element.kind) && JSON_NUMBER.test(e)) return e;
    if (element.kind === 'bool') return e === 't' ? 'true' : 'false';
    if (element.kind === 'json') return e;
    return JSON.stringify(e);
  };
  return `[${items.map(item).join(',')}]`;
}
