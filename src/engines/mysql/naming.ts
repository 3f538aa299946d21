import type { NameRules } from '../../core/target-naming.js';
import { indexName } from './quoting.js';

const MAX_CHARS = 64;

/** What MySQL calls a schema, in messages. */
export const SCHEMA_WORD = 'database';

/**
 * MySQL's case folding of identifiers maps one character to one (İ to i); String#toLowerCase may map
 * one to two (İ to i + a combining dot), so the fold keeps the first of them.
 */
function lower(name: string): string {
  return [...name].map((ch) => [...ch.toLowerCase()][0]!).join('');
}

/** MySQL's name rules (core/target-naming.ts) on a server with this `lower_case_table_names`. */
export function mysqlNameRules(lowerCaseTableNames: number): NameRules {
  const tablesWithoutCase = lowerCaseTableNames !== 0;
  return {
    schemaWord: SCHEMA_WORD,
    relationsShareSchema: false,
    indexName,
    invalid: (name) => {
      const chars = [...name].length;
      if (chars > MAX_CHARS) return `is ${chars} characters long, and MySQL refuses names longer than ${MAX_CHARS}`;
      return name.endsWith(' ') ? 'ends with a space, which MySQL refuses' : null;
    },
    fold: (kind, name) => (kind === 'column' || kind === 'index' || tablesWithoutCase ? lower(name) : name),
    folds: (kind) =>
      kind === 'column' || kind === 'index'
        ? `MySQL compares ${kind} names without regard to case`
        : `the target compares table names without regard to case (lower_case_table_names=${lowerCaseTableNames})`,
    stored: (name) => name,
  };
}
