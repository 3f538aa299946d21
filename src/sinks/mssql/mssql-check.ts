import type { CheckExpr } from '../../core/check-expression.js';
import type { Column } from '../../core/schema.js';
import { quoteIdent, textLiteral } from '../../engines/mssql/quoting.js';

/**
 * A portable CHECK (core/check-expression.ts) in T-SQL, every operation parenthesized. T-SQL has no
 * boolean literals or boolean expressions as values: a bit column in a condition is `col = 1`, TRUE
 * and FALSE are 1 and 0 as values and `1 = 1`, `1 = 0` as conditions.
 */
export function printTsqlCheck(e: CheckExpr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return `(${printTsqlCheck(e.left)} ${e.kind.toUpperCase()} ${printTsqlCheck(e.right)})`;
    case 'not':
      return `(NOT ${printTsqlCheck(e.arg)})`;
    case 'compare':
      return `(${value(e.left)} ${e.op} ${value(e.right)})`;
    case 'in':
      return `(${value(e.arg)}${e.negated ? ' NOT' : ''} IN (${e.list.map(value).join(', ')}))`;
    case 'between':
      return `(${value(e.arg)}${e.negated ? ' NOT' : ''} BETWEEN ${value(e.low)} AND ${value(e.high)})`;
    case 'is-null':
      return `(${value(e.arg)} IS${e.negated ? ' NOT' : ''} NULL)`;
    case 'column':
      return `(${quoteIdent(e.name)} = 1)`;
    case 'boolean':
      return e.value ? '(1 = 1)' : '(1 = 0)';
    default:
      throw new Error(`${e.kind} is not a condition`); // portableCheck keeps only conditions here
  }
}

function value(e: CheckExpr): string {
  switch (e.kind) {
    case 'column':
      return quoteIdent(e.name);
    case 'number':
      return e.text;
    case 'string':
      return textLiteral(e.value);
    case 'boolean':
      return e.value ? '1' : '0';
    case 'null':
      return 'NULL';
    default:
      throw new Error(`${e.kind} is not a value`);
  }
}

const TEXT_KINDS = new Set(['string', 'enum']);

/**
 * Why the check may refuse in SQL Server a row the source accepts, or null. SQL Server's `=` ignores
 * trailing spaces, so a text equality there holds wherever it holds at the source (and for `'a '`
 * too): a check reading text only through `=` and IN, never under NOT, `<>` or NOT IN, accepts every
 * row it accepts at the source. Under a negation the looser equality would refuse `'a '` where the
 * source accepts it.
 */
export function trailingSpaceProblem(e: CheckExpr, columns: readonly Column[]): string | null {
  // A comparison is of text when its columns are text ones, or, without columns, when it has a string (a date column takes date literals).
  const textual = (operands: readonly CheckExpr[]) => {
    const cols = operands.flatMap((o) => (o.kind === 'column' ? [columns.find((c) => c.name === o.name)?.type.kind ?? ''] : []));
    return cols.length > 0 ? cols.some((kind) => TEXT_KINDS.has(kind)) : operands.some((o) => o.kind === 'string');
  };
  const problem =
    'it compares text under NOT, <> or NOT IN, and SQL Server ignores trailing spaces in text equality, so it would refuse values the source accepts';
  const walk = (x: CheckExpr, positive: boolean): string | null => {
    switch (x.kind) {
      case 'and':
      case 'or':
        return walk(x.left, positive) ?? walk(x.right, positive);
      case 'not':
        return walk(x.arg, !positive);
      case 'compare':
        return textual([x.left, x.right]) && (x.op !== '=' || !positive) ? problem : null;
      case 'in':
        return textual([x.arg, ...x.list]) && (x.negated || !positive) ? problem : null;
      default:
        return null;
    }
  };
  return walk(e, true);
}
