import { globToRegExp } from './table-mapping.js';

/**
 * What a row the target rejects does (DESIGN §1.2 `errors`): `stop` the pipeline (the checkpoint
 * before the row), `dead-letter` it (stored in ferry.ferry_dead_letters, the rest of its batch
 * applied), or `quarantine-table` (that table stops, the others go on).
 */
export const ERROR_POLICIES = ['stop', 'dead-letter', 'quarantine-table'] as const;
export type ErrorPolicy = (typeof ERROR_POLICIES)[number];

export interface ErrorsConfig {
  readonly policy: ErrorPolicy;
  /** Glob on the source's schema.table → its policy; the first glob that matches, in the order written, wins. */
  readonly tables: Readonly<Record<string, ErrorPolicy>>;
}

/** The policy of each source table (`schema.table`): its first matching glob's, else `policy`. */
export function errorPolicyOf(errors: ErrorsConfig): (table: string) => ErrorPolicy {
  const rules = Object.entries(errors.tables).map(([glob, policy]) => ({ match: globToRegExp(glob), policy }));
  if (rules.length === 0) return () => errors.policy;
  return (table) => rules.find((r) => r.match.test(table))?.policy ?? errors.policy;
}

/** Every policy the config names, default and overrides. */
export function policiesIn(errors: ErrorsConfig): Set<ErrorPolicy> {
  return new Set([errors.policy, ...Object.values(errors.tables)]);
}
