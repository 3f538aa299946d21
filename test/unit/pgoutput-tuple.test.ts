import { PgoutputParser } from 'pg-logical-replication/dist/output-plugins/pgoutput/pgoutput-parser.js';
import { describe, expect, it } from 'vitest';
import { readTuple } from '../../src/sources/postgres/pgoutput-tuple.js';

/** pgoutput message bytes: a tag, then int32s, C strings, raw bytes and single bytes as given. */
function message(tag: string, ...parts: (number | string | Buffer | ['u8', number] | ['i16', number])[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(tag)];
  for (const part of parts) {
    if (typeof part === 'number') chunks.push(Buffer.from([part >>> 24, (part >>> 16) & 255, (part >>> 8) & 255, part & 255]));
    else if (typeof part === 'string') chunks.push(Buffer.from(`${part}\0`));
    else if (Buffer.isBuffer(part)) chunks.push(part);
    else if (part[0] === 'u8') chunks.push(Buffer.from([part[1]]));
    else chunks.push(Buffer.from([part[1] >> 8, part[1] & 255]));
  }
  return Buffer.concat(chunks);
}

/** TupleData: a text value, null ('n'), an unchanged TOAST datum ('u') or binary ({ binary }). */
function tuple(values: (string | null | 'TOAST' | { binary: Buffer })[]): Buffer {
  const parts = values.map((v) => {
    if (v === null) return Buffer.from('n');
    if (v === 'TOAST') return Buffer.from('u');
    const bytes = typeof v === 'string' ? Buffer.from(v) : v.binary;
    return Buffer.concat([Buffer.from(typeof v === 'string' ? 't' : 'b'), message('', bytes.length).subarray(0), bytes]);
  });
  return Buffer.concat([Buffer.from([values.length >> 8, values.length & 255]), ...parts]);
}

const RELATION = message(
  'R',
  16384,
  'app',
  'items',
  ['u8', 'd'.charCodeAt(0)],
  ['i16', 4],
  ['u8', 1],
  'id',
  25,
  -1,
  ['u8', 0],
  'name',
  25,
  -1,
  ['u8', 0],
  'note',
  1043,
  -1,
  ['u8', 0],
  'blob',
  25,
  -1,
);

/** The library's parser as shipped, and one with ferry's tuple decoder installed; both have seen the relation. */
function parsers(): [PgoutputParser, PgoutputParser] {
  const library = new PgoutputParser();
  const ferry = new PgoutputParser();
  (ferry as unknown as { readTuple: typeof readTuple }).readTuple = readTuple;
  for (const p of [library, ferry]) p.parse(RELATION);
  return [library, ferry];
}

describe('readTuple', () => {
  it.each([
    ['an insert with text, empty, multi-byte and null values', message('I', 16384, ['u8', 'N'.charCodeAt(0)]), tuple(['1', '', 'grüße ✓ 🚀', null])],
    ['an insert with a binary value', message('I', 16384, ['u8', 'N'.charCodeAt(0)]), tuple(['2', 'x', 'y', { binary: Buffer.from([0, 255, 7]) }])],
    [
      'an update with the old row and an unchanged TOAST value',
      Buffer.concat([message('U', 16384, ['u8', 'O'.charCodeAt(0)]), tuple(['3', 'old', 'long', null]), Buffer.from('N'), tuple(['3', 'new', 'TOAST', null])]),
    ],
    [
      'an update with the key only',
      Buffer.concat([message('U', 16384, ['u8', 'K'.charCodeAt(0)]), tuple(['4', null, null, null]), Buffer.from('N'), tuple(['5', 'n', 'TOAST', null])]),
    ],
    ['a delete with the old row', Buffer.concat([message('D', 16384, ['u8', 'O'.charCodeAt(0)]), tuple(['6', 'gone', null, null])])],
  ])('decodes %s as the library does', (_, head, body = Buffer.alloc(0)) => {
    const bytes = Buffer.concat([head, body]);
    const [library, ferry] = parsers();
    expect(ferry.parse(bytes)).toEqual(library.parse(bytes));
  });

  it('refuses a truncated message as the library does', () => {
    const bytes = Buffer.concat([message('I', 16384, ['u8', 'N'.charCodeAt(0)]), tuple(['1', 'abc', 'd', null])]).subarray(0, -3);
    const [library, ferry] = parsers();
    expect(() => library.parse(bytes)).toThrow();
    expect(() => ferry.parse(bytes)).toThrow('unexpected end of message');
  });
});
