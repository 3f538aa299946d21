/** ER_OPTION_PREVENTS_STATEMENT: the server runs with --read-only or --super-read-only (a cutover fence). */
export function isReadOnlyRefusal(err: unknown): boolean {
  return (err as { errno?: number } | undefined)?.errno === 1290;
}
