import { portableCheck } from '../../core/check-expression.js';
import type { CheckConstraint, Column } from '../../core/schema.js';

/**
 * Collations that compare strings byte for byte with trailing spaces significant, as Postgres does
 * (and as ferry's cross-engine MySQL tables do): only there does a string (in)equality mean the same.
 */
const EXACT_COLLATION = /(_nopad_bin|_0900_bin)$/;

/** A CHECK constraint as MySQL/MariaDB prints it (CHECK_CLAUSE), with its portable form when it translates exactly. */
export function mysqlCheck(name: string, expression: string, columns: readonly Column[]): CheckConstraint {
  const portable = portableCheck(expression, { identQuote: '`', backslashEscapes: true }, columns, (c) => EXACT_COLLATION.test(c.collation ?? ''));
  return { name, expression, ...('expr' in portable ? { portable: portable.expr } : { unportable: portable.reason }) };
}
