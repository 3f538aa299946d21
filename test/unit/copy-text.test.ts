import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { CopyTextTail, unescapeCopyField } from '../../src/sources/postgres/copy-text.js';

/** Streams `pieces` through a CopyTextTail; what came out, the rows counted and the last row's fields. */
async function tail(pieces: string[]): Promise<{ out: string; rows: number; last: (string | null)[] | null }> {
  const t = new CopyTextTail();
  const out = await text(Readable.from(pieces.map((p) => Buffer.from(p))).pipe(t));
  return { out, rows: t.rows, last: t.lastFields() };
}

describe('CopyTextTail', () => {
  it('passes the text through unchanged, counting rows and keeping the last', async () => {
    expect(await tail(['1\ta\n2\tb\n', '3\tc\n'])).toEqual({ out: '1\ta\n2\tb\n3\tc\n', rows: 3, last: ['3', 'c'] });
  });

  it('finds the last row when it spans pieces, or a piece starts with its end', async () => {
    expect((await tail(['1\tone\n2\tt', 'w', 'o\n'])).last).toEqual(['2', 'two']);
    expect((await tail(['1\tone\n22\ttwo', '\n'])).last).toEqual(['22', 'two']);
    expect((await tail(['1\tone\n', '2\ttwo\n'])).last).toEqual(['2', 'two']);
  });

  it('reports no row for empty text', async () => {
    expect(await tail([])).toEqual({ out: '', rows: 0, last: null });
  });

  it('keeps multi-byte characters split between pieces whole', async () => {
    const bytes = Buffer.from('7\tgrüße\n');
    const t = new CopyTextTail();
    await text(Readable.from([bytes.subarray(0, 6), bytes.subarray(6)]).pipe(t));
    expect(t.lastFields()).toEqual(['7', 'grüße']);
  });
});

describe('unescapeCopyField', () => {
  it.each<[string, string | null]>([
    ['plain', 'plain'],
    ['\\N', null],
    ['a\\tb', 'a\tb'],
    ['line\\nbreak\\r', 'line\nbreak\r'],
    ['back\\\\slash', 'back\\slash'],
    ['\\\\N', '\\N'],
  ])('%s reads as %s', (field, value) => {
    expect(unescapeCopyField(field)).toBe(value);
  });
});
