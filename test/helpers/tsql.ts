import parser from 'node-sql-parser';

const tsql = new parser.Parser();

/** A bracketed name, a list of them, a referential action. */
const NAME = String.raw`\[(?:[^\]]|\]\])+\]`;
const NAMES = String.raw`\(${NAME}(?:, ${NAME})*\)`;
const ACTION = '(?:CASCADE|SET NULL|SET DEFAULT|NO ACTION)';
/** A DEFAULT's constant as the dialect writes one: N'text', a number, 0x bytes, a niladic call. */
const CONSTANT = String.raw`(?:N'(?:[^']|'')*'|-?[\d.]+(?:[eE][-+]?\d+)?|0x[0-9a-f]*|[A-Z_]+\(\))`;

/**
 * Statement shapes SQL Server runs that node-sql-parser's TransactSQL grammar (5.x) lacks: each is
 * matched whole by its exact pattern instead, with the reason. Keep this list short and exact.
 */
const PARSER_GAPS: readonly { readonly shape: RegExp; readonly why: string }[] = [
  { shape: new RegExp(`^SET IDENTITY_INSERT ${NAME}\\.${NAME} (?:ON|OFF)$`), why: 'the grammar has no SET IDENTITY_INSERT' },
  {
    shape: new RegExp(
      `^ALTER TABLE ${NAME}\\.${NAME} ADD CONSTRAINT ${NAME} FOREIGN KEY ${NAMES} REFERENCES ${NAME}\\.${NAME} ${NAMES} ON DELETE ${ACTION} ON UPDATE ${ACTION}$`,
    ),
    why: "the grammar's REFERENCES takes a join list and MySQL's ON UPDATE CURRENT_TIMESTAMP, not T-SQL's",
  },
  { shape: new RegExp(`^ALTER TABLE ${NAME}\\.${NAME} DROP CONSTRAINT ${NAME}$`), why: "the grammar's DROP CONSTRAINT takes no bracketed name" },
  // The grammar reads `DBCC anything (…)` as an assignment to a variable DBCC: it would check nothing.
  { shape: /^DBCC CHECKIDENT \(N'(?:[^']|'')+', RESEED, -?\d+\)$/, why: 'the grammar has no DBCC' },
  { shape: new RegExp(`^(?:SAVE|ROLLBACK) TRANSACTION ${NAME}$`), why: 'the grammar has no SAVE TRANSACTION, nor ROLLBACK TRANSACTION to a savepoint' },
];

/** Clauses the grammar lacks, cut from a statement before it is parsed: the rest must still parse. */
const UNPARSED_CLAUSES: readonly { readonly clause: RegExp; readonly why: string }[] = [
  { clause: new RegExp(`(?<= NULL) CONSTRAINT ${NAME}(?= DEFAULT )`, 'g'), why: 'a named DEFAULT in a column definition' },
  // WITH VALUES belongs to the DEFAULT it follows: after a column's CHECK it is a syntax error on SQL Server.
  { clause: new RegExp(`(?<=^ALTER TABLE .* ADD .* DEFAULT ${CONSTANT}) WITH VALUES(?=$| CHECK \\()`), why: 'ADD … DEFAULT … WITH VALUES' },
];

/** Functions whose call syntax is another's that the grammar knows. */
const SAME_SYNTAX: readonly (readonly [string, string])[] = [['COUNT_BIG(', 'COUNT(']];

/**
 * `COLLATE name` after a parenthesized expression or a call: SQL Server takes the clause after any
 * character expression, the grammar after a column or parameter only. Removed before parsing, the
 * expression it followed must still parse on its own. A column definition's `nvarchar(40) COLLATE …`,
 * which the grammar reads, keeps it.
 */
const COLLATE_AFTER_PARENTHESIS = /(?<!\((?:max|\d+(?:,\d+)?))\) COLLATE [A-Za-z0-9_]+/g;

/** The statements of a T-SQL batch, split at top-level semicolons (outside quotes and brackets). */
export function splitStatements(batch: string): string[] {
  const out: string[] = [];
  let start = 0;
  let close: string | null = null;
  for (let i = 0; i < batch.length; i++) {
    const ch = batch[i]!;
    if (close) {
      if (ch === close) {
        if (batch[i + 1] === close) i++;
        else close = null;
      }
    } else if (ch === "'") close = "'";
    else if (ch === '[') close = ']';
    else if (ch === ';') {
      out.push(batch.slice(start, i));
      start = i + 1;
    }
  }
  out.push(batch.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Parses every statement of `batch` as T-SQL and returns their syntax trees (a statement of a
 * PARSER_GAPS shape gives `{ gap: why }`). Throws, naming the statement, on a syntax error.
 */
export function parseTsql(batch: string): unknown[] {
  return splitStatements(batch).map((statement) => {
    const gap = PARSER_GAPS.find((g) => g.shape.test(statement));
    if (gap) return { gap: gap.why };
    if (/^DBCC\b/i.test(statement)) throw new Error(`not valid T-SQL: a DBCC statement of no known shape\n  in: ${statement}`);
    let text = statement;
    for (const [from, to] of SAME_SYNTAX) text = text.split(from).join(to);
    text = text.replace(COLLATE_AFTER_PARENTHESIS, ')');
    for (const { clause } of UNPARSED_CLAUSES) text = text.replace(clause, (_whole, kept?: string) => (typeof kept === 'string' ? kept : ''));
    try {
      return tsql.astify(text, { database: 'TransactSQL' });
    } catch (err) {
      throw new Error(`not valid T-SQL: ${(err as Error).message}\n  in: ${statement}`);
    }
  });
}
