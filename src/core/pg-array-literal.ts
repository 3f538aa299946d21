import { FerryError } from './errors.js';

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
