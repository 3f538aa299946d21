/**
 * The error numbers SQL Server sent with a failure, as its driver (tedious, under mssql) carries
 * them: `number` on the error itself, or on the driver error it wraps (`originalError`, or its `info`,
 * the server's error token), and the same on the errors the server sent before it in one batch
 * (`precedingErrors`). Empty for an error from anything else.
 */
export function sqlServerErrorNumbers(err: unknown): number[] {
  const numbers: number[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 3) return;
    const o = e as { number?: unknown; info?: unknown; originalError?: unknown; precedingErrors?: unknown };
    if (typeof o.number === 'number') numbers.push(o.number);
    visit(o.info, depth + 1);
    visit(o.originalError, depth + 1);
    if (Array.isArray(o.precedingErrors)) for (const p of o.precedingErrors) visit(p, depth + 1);
  };
  visit(err, 0);
  return [...new Set(numbers)];
}
