import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;

/**
 * Passes COPY text through unchanged while counting its rows and keeping the last one, so the end of
 * a chunk is known without decoding the rows in between.
 */
export class CopyTextTail extends Transform {
  rows = 0;
  /** The bytes after the last complete line seen so far, then (once the text ends) the last line. */
  #tail: Buffer = Buffer.alloc(0);
  #last: Buffer | null = null;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end < 0) {
      this.#tail = Buffer.concat([this.#tail, chunk]);
    } else {
      for (let i = chunk.indexOf(NEWLINE); i >= 0 && i <= end; i = chunk.indexOf(NEWLINE, i + 1)) this.rows++;
      // (A negative offset would search from the end of the buffer.)
      const start = end === 0 ? 0 : chunk.lastIndexOf(NEWLINE, end - 1) + 1;
      this.#last = start === 0 ? Buffer.concat([this.#tail, chunk.subarray(0, end)]) : chunk.subarray(start, end);
      this.#tail = Buffer.from(chunk.subarray(end + 1));
    }
    done(null, chunk);
  }

  /** The fields of the last row, unescaped (null for \N). */
  lastFields(): (string | null)[] | null {
    return this.#last === null ? null : this.#last.toString('utf8').split('\t').map(unescapeCopyField);
  }
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** One field of COPY TO text as its value's text: the escapes COPY TO writes resolved, `\N` as null. */
export function unescapeCopyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.includes('\\') ? field.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c) : field;
}
