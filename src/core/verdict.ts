/**
 * How a column arrives in the target (docs/type-mapping.md, "Before a migration", defines them):
 * - exact: every value arrives unchanged, in an equivalent type;
 * - documented: every value arrives, in another type or form docs/type-mapping.md lists;
 * - lossy: some values the source type holds cannot arrive as they are (rounded, or refused by the target);
 * - unsupported: ferry cannot replicate the column; `ferry check` fails on it.
 */
export type Verdict = 'exact' | 'documented' | 'lossy' | 'unsupported';

export const VERDICTS: readonly Verdict[] = ['exact', 'documented', 'lossy', 'unsupported'];

/** A column's verdict and its reason. */
export interface Assessment {
  readonly verdict: Verdict;
  readonly note?: string;
}

export const EXACT: Assessment = { verdict: 'exact' };
export const documented = (note: string): Assessment => ({ verdict: 'documented', note });
export const lossy = (note: string): Assessment => ({ verdict: 'lossy', note });
