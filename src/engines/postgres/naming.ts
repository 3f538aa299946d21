import type { NameRules } from '../../core/target-naming.js';
import { indexName } from './quoting.js';

const MAX_BYTES = 63;

/** What Postgres calls a schema, in messages. */
export const SCHEMA_WORD = 'schema';

/** The longest prefix of `name` within `bytes` UTF-8 bytes, cut at a character boundary as Postgres does. */
export function clipBytes(name: string, bytes: number): string {
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > bytes) break;
    out += ch;
  }
  return out;
}

/** Postgres's name rules (core/target-naming.ts): 63 bytes, cut silently; exact case. */
export const postgresNameRules: NameRules = {
  schemaWord: SCHEMA_WORD,
  relationsShareSchema: true,
  indexName,
  invalid: (name) => {
    const bytes = Buffer.byteLength(name);
    return bytes <= MAX_BYTES
      ? null
      : `is ${bytes} bytes long; Postgres cuts names to ${MAX_BYTES} bytes (it would create "${clipBytes(name, MAX_BYTES)}") and ferry would not find it again by its source name`;
  },
  fold: (_, name) => clipBytes(name, MAX_BYTES),
  folds: () => `Postgres cuts names to ${MAX_BYTES} bytes`,
  stored: (name) => clipBytes(name, MAX_BYTES),
};
