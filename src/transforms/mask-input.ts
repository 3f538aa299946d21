import type { Value } from '../core/change-event.js';
import type { ColumnType } from '../core/schema.js';

/**
 * What a mask reads of a value of `type`: one text per value, whichever way it reached ferry (a
 * snapshot's SELECT or the stream's decoder), whatever scale or fraction digits the column prints it
 * with. A hashed key must hash alike by both ways, or an update would split its row in two
 * (docs/transforms.md lists the text of each type). Bytes are read as they are.
 */
export function maskInput(type: ColumnType, v: Exclude<Value, null>): string | Buffer {
  if (Buffer.isBuffer(v)) return v;
  switch (type.kind) {
    case 'decimal':
    case 'datetime':
    case 'timestamp':
    case 'time':
      return withoutTrailingZeros(String(v));
    case 'float':
      return shortestFloat(Number(v));
    case 'json':
      return canonicalJson(String(v));
    default:
      return String(v);
  }
}

/** `12.5000` → `12.5`, `100.00` → `100`, `2024-01-02 03:04:05.120000` → `2024-01-02 03:04:05.12` (a trailing ` BC` kept). */
export function withoutTrailingZeros(text: string): string {
  return text.replace(/\.(\d*?)0*(?=( BC)?$)/, (_, digits: string) => (digits ? `.${digits}` : ''));
}

/**
 * A single-precision value in the fewest digits that read back as it: a MySQL FLOAT arrives widened
 * to a double (1.100000023841858), a Postgres real as its own text (1.1); both give `1.1`.
 */
function shortestFloat(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const single = Math.fround(x);
  for (let digits = 1; digits < 9; digits++) {
    const n = Number(x.toPrecision(digits));
    if (Math.fround(n) === single) return String(n);
  }
  return String(single);
}

const SPACE = /[ \t\n\r]*/y;
const LITERAL = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/**
 * JSON without whitespace and with each object's keys sorted (by UTF-16 code unit): what MariaDB
 * stores as written and Postgres's jsonb prints normalized read alike. Numbers keep their digits
 * (`2.50` stays `2.50`, big integers stay exact); strings print as JSON.stringify prints them
 * (`"\u00e9"` as `"é"`). A text that is not JSON is read as it is.
 */
export function canonicalJson(text: string): string {
  let i = 0;
  const space = () => {
    SPACE.lastIndex = i;
    SPACE.exec(text);
    i = SPACE.lastIndex;
  };
  const expect = (c: string) => {
    space();
    if (text[i] !== c) throw new SyntaxError(`expected ${c} at ${i}`);
    i++;
  };
  const string = (): string => {
    space();
    const start = i;
    expect('"');
    while (text[i] !== '"') {
      if (i >= text.length) throw new SyntaxError('unterminated string');
      i += text[i] === '\\' ? 2 : 1;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const items = <T>(close: string, item: () => T): T[] => {
    const out: T[] = [];
    space();
    if (text[i] === close) {
      i++;
      return out;
    }
    for (;;) {
      out.push(item());
      space();
      if (text[i] !== ',') break;
      i++;
    }
    expect(close);
    return out;
  };
  const value = (): string => {
    space();
    if (text[i] === '"') return JSON.stringify(string());
    if (text[i] === '[') {
      i++;
      return `[${items(']', value).join(',')}]`;
    }
    if (text[i] === '{') {
      i++;
      const members = items('}', () => {
        const key = string();
        expect(':');
        return [key, value()] as const;
      });
      members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    }
    LITERAL.lastIndex = i;
    const m = LITERAL.exec(text);
    if (!m) throw new SyntaxError(`unexpected ${text[i]} at ${i}`);
    i = LITERAL.lastIndex;
    return m[0];
  };
  try {
    const out = value();
    space();
    return i === text.length ? out : text;
  } catch {
    return text;
  }
}
