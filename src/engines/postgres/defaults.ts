import type { ColumnDefault, ColumnType } from '../../core/schema.js';
import { fromPgText } from './types.js';

/** The current time as pg_get_expr prints it in a default. */
const NOW = /^(now\(\)|CURRENT_TIMESTAMP(\(\d+\))?|LOCALTIMESTAMP(\(\d+\))?|transaction_timestamp\(\)|statement_timestamp\(\))$/i;
/** A constant: `42`, `(-1)`, `'text'::character varying`, `'-1.5'::numeric`, `true`. */
const NUMBER = /^\(?(-?\d+(\.\d+)?(e[-+]?\d+)?)\)?(::[a-z ]+)?$/i;
const QUOTED = /^'((?:[^']|'')*)'(::[\w ."[\]()]+)?$/s;

/**
 * A column's default from pg_get_expr (read with an empty search_path), as something a target can
 * declare: a constant, the current time, or an expression only Postgres understands. Sequences
 * (`nextval(…)`) are the column's identity, not a default.
 */
export function columnDefault(type: ColumnType, expression: string | null): ColumnDefault | undefined {
  if (expression === null || /^nextval\(/i.test(expression) || /^NULL(::[\w ."[\]()]+)?$/i.test(expression)) return undefined;
  if (NOW.test(expression)) return { kind: 'now', text: expression };
  if (type.kind === 'bool')
    return /^(true|false)$/i.test(expression)
      ? { kind: 'literal', value: expression.toLowerCase() === 'true', text: expression }
      : { kind: 'expression', text: expression };
  const literal = QUOTED.exec(expression)?.[1]?.replace(/''/g, "'") ?? NUMBER.exec(expression)?.[1];
  if (literal === undefined || type.kind === 'array' || type.kind === 'other') return { kind: 'expression', text: expression };
  try {
    return { kind: 'literal', value: fromPgText(type, literal), text: expression };
  } catch {
    return { kind: 'expression', text: expression };
  }
}
