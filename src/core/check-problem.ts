/** A problem found by a preflight check, with the fix: what `ferry check` reports about the source, the target or the plan. */
export interface CheckProblem {
  readonly check: string;
  readonly message: string;
  readonly hint: string;
  /** Worth knowing, but ferry can run. */
  readonly warning?: boolean;
}
