import { portableCheck } from '../../core/check-expression.js';
import type { CheckConstraint, Column } from '../../core/schema.js';

/**
 * A CHECK constraint as pg_get_constraintdef prints it (its expression), with its portable form when
 * it translates exactly. Deterministic collations (the default) compare equal strings byte for byte.
 */
export function pgCheck(name: string, expression: string, columns: readonly Column[]): CheckConstraint {
  const portable = portableCheck(expression, { identQuote: '"', backslashEscapes: false }, columns, () => true);
  return { name, expression, ...('expr' in portable ? { portable: portable.expr } : { unportable: portable.reason }) };
}
