import type { NameRules } from '../../core/target-naming.js';
import { indexName } from './quoting.js';

/** What SQL Server calls a schema, in messages. */
export const SCHEMA_WORD = 'schema';

/** SQL Server's identifier limit: sysname is nvarchar(128), 128 UTF-16 code units. */
const MAX_NAME = 128;

/**
 * The collation a SQL Server target is taken to compare names by when it cannot be read (checkTarget
 * reports the unreachable server on its own): the setup default for US English locales.
 */
export const DEFAULT_COLLATION = 'SQL_Latin1_General_CP1_CI_AS';

/**
 * What a collation's name says of its comparison (the Windows and SQL collation names: `_CI`/`_CS`
 * case, `_AI`/`_AS` accents, `_BIN`/`_BIN2` code points). A name without `_CS`, `_BIN` or `_CI` does
 * not exist; such a name is read as case-insensitive, the stricter assumption for finding collisions.
 */
export function collationComparison(collation: string): { readonly ignoreCase: boolean; readonly ignoreAccents: boolean } {
  const parts = collation.toUpperCase().split('_');
  const binary = parts.includes('BIN') || parts.includes('BIN2');
  return { ignoreCase: !binary && !parts.includes('CS'), ignoreAccents: !binary && parts.includes('AI') };
}

/** Whether a collation compares with regard to case (`_CS`, `_BIN`, `_BIN2`). */
export function isCaseSensitive(collation: string): boolean {
  return !collationComparison(collation).ignoreCase;
}

/**
 * SQL Server's name rules (core/target-naming.ts) in a database whose catalog compares by
 * `collation`: 128 characters (longer is an error), names compared as the collation compares them,
 * and, as every string comparison there, without trailing spaces.
 */
export function mssqlNameRules(collation: string): NameRules {
  const { ignoreCase, ignoreAccents } = collationComparison(collation);
  const fold = (name: string) => {
    let out = name.replace(/ +$/, '');
    if (ignoreAccents) out = out.normalize('NFD').replace(/\p{M}/gu, '').normalize('NFC');
    return ignoreCase ? out.toLowerCase() : out;
  };
  const how = [ignoreCase ? 'case' : '', ignoreAccents ? 'accents' : ''].filter(Boolean).join(' or ');
  return {
    schemaWord: SCHEMA_WORD,
    relationsShareSchema: false,
    indexName,
    invalid: (name) =>
      name.length > MAX_NAME ? `is ${name.length} UTF-16 code units long, and SQL Server refuses names longer than ${MAX_NAME} (nvarchar(128))` : null,
    fold: (_, name) => fold(name),
    folds: () =>
      how
        ? `the target compares names by its collation ${collation}, without regard to ${how} (and to trailing spaces)`
        : 'SQL Server compares names without regard to trailing spaces',
    stored: (name) => name,
  };
}
