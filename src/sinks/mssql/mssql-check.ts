import { type BooleanSpelling, type CheckExpr, printCheck } from '../../core/check-expression.js';
import type { Column } from '../../core/schema.js';
import { quoteIdent, textLiteral } from '../../engines/mssql/quoting.js';

/** T-SQL has no boolean values: TRUE and FALSE are 1 and 0, and a bit column standing as a condition is `col = 1`. */
const TSQL_BOOLEANS: BooleanSpelling = { values: ['1', '0'], condition: (value) => `(${value} = 1)` };

/** A portable CHECK (core/check-expression.ts) in T-SQL, every operation parenthesized. */
export function printTsqlCheck(e: CheckExpr): string {
  return printCheck(e, quoteIdent, textLiteral, TSQL_BOOLEANS);
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
