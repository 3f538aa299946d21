import type { Column } from './schema.js';

/**
 * A CHECK expression in the subset that means the same in every engine ferry writes: columns,
 * literals, comparisons, AND/OR/NOT, IN, BETWEEN and IS [NOT] NULL. Sources parse their engine's
 * text into it when the translation is exact; sinks of another engine print it in their own SQL.
 */
export type CheckExpr =
  | { readonly kind: 'column'; readonly name: string }
  /** The literal's exact digits, `-` included. */
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: CheckExpr; readonly right: CheckExpr }
  | { readonly kind: 'and' | 'or'; readonly left: CheckExpr; readonly right: CheckExpr }
  | { readonly kind: 'not'; readonly arg: CheckExpr }
  | { readonly kind: 'in'; readonly arg: CheckExpr; readonly list: readonly CheckExpr[]; readonly negated: boolean }
  | { readonly kind: 'between'; readonly arg: CheckExpr; readonly low: CheckExpr; readonly high: CheckExpr; readonly negated: boolean }
  | { readonly kind: 'is-null'; readonly arg: CheckExpr; readonly negated: boolean };

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** How a source engine spells the subset. */
export interface CheckSyntax {
  /** The identifier quote: MySQL's backtick, Postgres's double quote. */
  readonly identQuote: '`' | '"';
  /** MySQL: a backslash in a string literal starts an escape (refused: such text is not carried). */
  readonly backslashEscapes: boolean;
}

/** The source's own check `text` in the portable subset, or why it is not in it. */
export type PortableCheck = { readonly expr: CheckExpr } | { readonly reason: string };

/**
 * Parses a source's CHECK expression and keeps it only where every engine gives it the same meaning
 * for the values ferry copies: numbers compared as numbers, dates against date literals, strings
 * only for (in)equality and only where `exactEquality` says the source compares them byte for byte
 * (ordering and case- or pad-insensitive collations differ between engines), booleans against booleans.
 * Postgres casts that only restate a type (`(0)::numeric`, `(s)::text`, `'-5'::integer`) are dropped.
 */
export function portableCheck(text: string, syntax: CheckSyntax, columns: readonly Column[], exactEquality: (c: Column) => boolean): PortableCheck {
  try {
    const parser = new Parser(tokenize(text, syntax));
    const node = parser.expression();
    parser.end();
    return { expr: new Resolver(columns, exactEquality).predicate(node) };
  } catch (err) {
    if (err instanceof Unportable) return { reason: err.message };
    throw err;
  }
}

/**
 * How an engine without boolean values (T-SQL) spells the subset's booleans: TRUE and FALSE as
 * values (`[true, false]`), and a column or boolean literal standing alone as a condition.
 */
export interface BooleanSpelling {
  readonly values: readonly [string, string];
  condition(value: string): string;
}

/** The expression in a target's SQL, every operation parenthesized (engines rank NOT and comparisons differently). */
export function printCheck(e: CheckExpr, quoteIdent: (name: string) => string, quoteString: (s: string) => string, booleans?: BooleanSpelling): string {
  const print = (x: CheckExpr, condition: boolean): string => {
    const p = (y: CheckExpr) => print(y, false);
    const c = (y: CheckExpr) => print(y, true);
    const bare = (value: string) => (condition && booleans ? booleans.condition(value) : value);
    switch (x.kind) {
      case 'column':
        return bare(quoteIdent(x.name));
      case 'number':
        return x.text;
      case 'string':
        return quoteString(x.value);
      case 'boolean':
        return bare(booleans ? booleans.values[x.value ? 0 : 1] : x.value ? 'TRUE' : 'FALSE');
      case 'null':
        return 'NULL';
      case 'compare':
        return `(${p(x.left)} ${x.op} ${p(x.right)})`;
      case 'and':
      case 'or':
        return `(${c(x.left)} ${x.kind.toUpperCase()} ${c(x.right)})`;
      case 'not':
        return `(NOT ${c(x.arg)})`;
      case 'in':
        return `(${p(x.arg)}${x.negated ? ' NOT' : ''} IN (${x.list.map(p).join(', ')}))`;
      case 'between':
        return `(${p(x.arg)}${x.negated ? ' NOT' : ''} BETWEEN ${p(x.low)} AND ${p(x.high)})`;
      case 'is-null':
        return `(${p(x.arg)} IS${x.negated ? ' NOT' : ''} NULL)`;
    }
  };
  return print(e, true);
}

/** The columns an expression reads. */
export function checkColumns(e: CheckExpr): string[] {
  switch (e.kind) {
    case 'column':
      return [e.name];
    case 'number':
    case 'string':
    case 'boolean':
    case 'null':
      return [];
    case 'compare':
    case 'and':
    case 'or':
      return [...checkColumns(e.left), ...checkColumns(e.right)];
    case 'not':
    case 'is-null':
      return checkColumns(e.arg);
    case 'in':
      return [...checkColumns(e.arg), ...e.list.flatMap(checkColumns)];
    case 'between':
      return [...checkColumns(e.arg), ...checkColumns(e.low), ...checkColumns(e.high)];
  }
}

class Unportable extends Error {}

type Token =
  | { readonly t: 'word'; readonly v: string; readonly quoted: boolean }
  | { readonly t: 'number'; readonly v: string }
  | { readonly t: 'string'; readonly v: string }
  | { readonly t: 'op'; readonly v: string };

const OPERATORS = ['<=>', '::', '<=', '>=', '<>', '!=', '||', '&&', '=', '<', '>', '(', ')', ',', '[', ']', '-', '+', '*', '/', '%', '!', '~', '^', '&', '|'];

function tokenize(text: string, syntax: CheckSyntax): Token[] {
  const out: Token[] = [];
  let i = 0;
  const readQuoted = (q: string): string => {
    let v = '';
    for (i++; ; i++) {
      if (i >= text.length) throw new Unportable(`unterminated ${q === "'" ? 'string' : 'identifier'}`);
      const ch = text[i]!;
      if (ch === '\\' && q === "'" && syntax.backslashEscapes) throw new Unportable('a string with a backslash escape');
      if (ch !== q) v += ch;
      else if (text[i + 1] === q) v += text[++i];
      else break;
    }
    i++;
    return v;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "'") {
      out.push({ t: 'string', v: readQuoted("'") });
    } else if (ch === syntax.identQuote) {
      out.push({ t: 'word', v: readQuoted(ch), quoted: true });
    } else if (/[0-9.]/.test(ch) && /^(\d|\.\d)/.test(text.slice(i, i + 2))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i))!;
      if (/^[A-Za-z_]/.test(text.slice(i + m[0].length))) throw new Unportable(`the literal ${text.slice(i, i + m[0].length + 1)}…`);
      out.push({ t: 'number', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][\w$]*/.exec(text.slice(i))!;
      i += m[0].length;
      // MySQL charset introducers (_utf8mb4'…') name the literal's character set only.
      if (m[0].startsWith('_') && text[i] === "'") out.push({ t: 'string', v: readQuoted("'") });
      else out.push({ t: 'word', v: m[0], quoted: false });
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (!op) throw new Unportable(`the character ${ch}`);
      out.push({ t: 'op', v: op });
      i += op.length;
    }
  }
  return out;
}

/** Parsed, before types are known: the subset plus casts and array constructors (Postgres's spelling of IN). */
type Node =
  | CheckExpr
  | { readonly kind: 'cast'; readonly arg: Node; readonly type: string }
  | { readonly kind: 'array'; readonly items: readonly Node[] }
  | { readonly kind: 'p-compare'; readonly op: CompareOp; readonly left: Node; readonly right: Node }
  | { readonly kind: 'p-bool'; readonly op: 'and' | 'or'; readonly left: Node; readonly right: Node }
  | { readonly kind: 'p-not'; readonly arg: Node }
  | { readonly kind: 'p-in'; readonly arg: Node; readonly list: readonly Node[]; readonly negated: boolean }
  | { readonly kind: 'p-between'; readonly arg: Node; readonly low: Node; readonly high: Node; readonly negated: boolean }
  | { readonly kind: 'p-null'; readonly arg: Node; readonly negated: boolean };

const COMPARE: Record<string, CompareOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
const RESERVED = new Set([
  'and',
  'or',
  'not',
  'in',
  'between',
  'is',
  'null',
  'true',
  'false',
  'any',
  'some',
  'all',
  'array',
  'like',
  'case',
  'when',
  'then',
  'else',
  'end',
  'escape',
  'collate',
  'regexp',
  'rlike',
  'similar',
]);

class Parser {
  #i = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  #peek(offset = 0): Token | undefined {
    return this.tokens[this.#i + offset];
  }

  #isWord(word: string, offset = 0): boolean {
    const t = this.#peek(offset);
    return t?.t === 'word' && !t.quoted && t.v.toLowerCase() === word;
  }

  #isOp(op: string): boolean {
    const t = this.#peek();
    return t?.t === 'op' && t.v === op;
  }

  #expect(op: string): void {
    if (!this.#isOp(op)) throw new Unportable(`${describe(this.#peek())} where ${op} was expected`);
    this.#i++;
  }

  #expectWord(word: string): void {
    if (!this.#isWord(word)) throw new Unportable(`${describe(this.#peek())} where ${word.toUpperCase()} was expected`);
    this.#i++;
  }

  end(): void {
    if (this.#peek()) throw new Unportable(describe(this.#peek()));
  }

  expression(): Node {
    let left = this.#and();
    while (this.#isWord('or')) {
      this.#i++;
      left = { kind: 'p-bool', op: 'or', left, right: this.#and() };
    }
    return left;
  }

  #and(): Node {
    let left = this.#not();
    while (this.#isWord('and')) {
      this.#i++;
      left = { kind: 'p-bool', op: 'and', left, right: this.#not() };
    }
    return left;
  }

  #not(): Node {
    if (this.#isWord('not')) {
      this.#i++;
      return { kind: 'p-not', arg: this.#not() };
    }
    // MySQL's `!` binds tighter than comparisons: carried only before a parenthesized expression.
    if (this.#isOp('!') && this.#peek(1)?.t === 'op' && this.#peek(1)!.v === '(') {
      this.#i += 2;
      const arg = this.expression();
      this.#expect(')');
      return { kind: 'p-not', arg };
    }
    return this.#predicate();
  }

  #predicate(): Node {
    const left = this.#operand();
    const t = this.#peek();
    if (t?.t === 'op' && COMPARE[t.v]) {
      this.#i++;
      const op = COMPARE[t.v]!;
      if (this.#isWord('any') || this.#isWord('some') || this.#isWord('all')) return this.#quantified(left, op);
      return { kind: 'p-compare', op, left, right: this.#operand() };
    }
    if (this.#isWord('is')) {
      this.#i++;
      const negated = this.#isWord('not');
      if (negated) this.#i++;
      this.#expectWord('null');
      return { kind: 'p-null', arg: left, negated };
    }
    const negated = this.#isWord('not') && (this.#isWord('in', 1) || this.#isWord('between', 1));
    if (negated) this.#i++;
    if (this.#isWord('in')) {
      this.#i++;
      this.#expect('(');
      const list = this.#list(')');
      return { kind: 'p-in', arg: left, list, negated };
    }
    if (this.#isWord('between')) {
      this.#i++;
      const low = this.#operand();
      this.#expectWord('and');
      return { kind: 'p-between', arg: left, low, high: this.#operand(), negated };
    }
    return left;
  }

  /** `x = ANY (ARRAY[…])` is IN, `x <> ALL (ARRAY[…])` NOT IN; other quantified comparisons are not carried. */
  #quantified(left: Node, op: CompareOp): Node {
    const all = this.#isWord('all');
    this.#i++;
    this.#expect('(');
    let array = this.expression();
    this.#expect(')');
    while (array.kind === 'cast') array = array.arg;
    if (array.kind !== 'array') throw new Unportable('a quantified comparison over something other than an ARRAY[…] list');
    if (op === '=' && !all) return { kind: 'p-in', arg: left, list: array.items, negated: false };
    if (op === '<>' && all) return { kind: 'p-in', arg: left, list: array.items, negated: true };
    throw new Unportable(`${op} ${all ? 'ALL' : 'ANY'} (…)`);
  }

  #list(close: string): Node[] {
    const items = [this.#operand()];
    while (this.#isOp(',')) {
      this.#i++;
      items.push(this.#operand());
    }
    this.#expect(close);
    return items;
  }

  /** A literal, column, parenthesized expression or array, with any casts after it; arithmetic is not carried. */
  #operand(): Node {
    let node = this.#primary();
    while (this.#isOp('::')) {
      this.#i++;
      node = { kind: 'cast', arg: node, type: this.#typeName() };
    }
    const next = this.#peek();
    if (next?.t === 'op' && ['+', '-', '*', '/', '%', '||', '&&', '^', '&', '|', '<=>'].includes(next.v)) throw new Unportable(`the operator ${next.v}`);
    return node;
  }

  #primary(): Node {
    const t = this.#peek();
    if (!t) throw new Unportable('an incomplete expression');
    this.#i++;
    if (t.t === 'number') return { kind: 'number', text: t.v };
    if (t.t === 'string') return { kind: 'string', value: t.v };
    if (t.t === 'op') {
      if (t.v === '-' && this.#peek()?.t === 'number') return { kind: 'number', text: `-${(this.tokens[this.#i++] as { v: string }).v}` };
      if (t.v === '(') {
        const inner = this.expression();
        if (this.#isOp(',')) throw new Unportable('a row constructor');
        this.#expect(')');
        return inner;
      }
      throw new Unportable(`the operator ${t.v}`);
    }
    const word = t.v.toLowerCase();
    if (!t.quoted && word === 'null') return { kind: 'null' };
    if (!t.quoted && (word === 'true' || word === 'false')) return { kind: 'boolean', value: word === 'true' };
    if (!t.quoted && word === 'array' && this.#isOp('[')) {
      this.#i++;
      return { kind: 'array', items: this.#list(']') };
    }
    if (this.#isOp('(')) throw new Unportable(`the function ${t.v}()`);
    if (!t.quoted && RESERVED.has(word)) throw new Unportable(`the keyword ${t.v.toUpperCase()}`);
    return { kind: 'column', name: t.v };
  }

  /** A type name after `::`: words (`double precision`), a modifier (`(10,2)`), array brackets. */
  #typeName(): string {
    const words: string[] = [];
    while (this.#peek()?.t === 'word' && !['and', 'or', 'is', 'in', 'not', 'between'].includes(this.#peek()!.v.toLowerCase()))
      words.push(this.tokens[this.#i++]!.v.toLowerCase());
    if (words.length === 0) throw new Unportable('a cast without a type');
    if (this.#isOp('(')) {
      while (!this.#isOp(')')) if (this.#i++ >= this.tokens.length) throw new Unportable('an unterminated type modifier');
      this.#i++;
    }
    let brackets = '';
    while (this.#isOp('[') && this.#peek(1)?.t === 'op' && this.#peek(1)!.v === ']') {
      this.#i += 2;
      brackets += '[]';
    }
    return words.join(' ') + brackets;
  }
}

function describe(t: Token | undefined): string {
  if (!t) return 'the end of the expression';
  return t.t === 'string' ? `the string '${t.v}'` : t.t === 'word' && !t.quoted ? t.v.toUpperCase() : t.v;
}

type Group = 'number' | 'string' | 'date' | 'bool';

const GROUPS: Partial<Record<Column['type']['kind'], Group>> = {
  int: 'number',
  decimal: 'number',
  float: 'number',
  double: 'number',
  year: 'number',
  string: 'string',
  enum: 'string',
  date: 'date',
  bool: 'bool',
};
const NUMERIC_TYPES = new Set(['smallint', 'integer', 'int', 'int2', 'int4', 'int8', 'bigint', 'numeric', 'decimal']);
/**
 * Postgres casts a numeric literal compared with a float column to double precision, as MySQL compares
 * them anyway; a cast to real would compare in single precision, which MySQL never does.
 */
const DOUBLE_TYPES = new Set(['double precision', 'float8']);
const TEXT_TYPES = new Set(['text', 'character varying', 'varchar', 'character', 'char', 'bpchar']);
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** An operand resolved: the expression, and what it compares as (null: the NULL literal). */
interface Operand {
  readonly expr: CheckExpr;
  readonly group: Group | null;
  readonly column?: Column;
}

class Resolver {
  constructor(
    private readonly columns: readonly Column[],
    private readonly exactEquality: (c: Column) => boolean,
  ) {}

  /** A node in a boolean position. */
  predicate(n: Node): CheckExpr {
    switch (n.kind) {
      case 'p-bool':
        return { kind: n.op, left: this.predicate(n.left), right: this.predicate(n.right) };
      case 'p-not':
        return { kind: 'not', arg: this.predicate(n.arg) };
      case 'p-compare':
        return this.#compare(n.op, this.#operand(n.left), this.#operand(n.right));
      case 'p-null':
        return { kind: 'is-null', arg: this.#operand(n.arg, true).expr, negated: n.negated };
      case 'p-in': {
        const arg = this.#operand(n.arg);
        const list = n.list.map((item) => this.#operand(item));
        for (const item of list) this.#compare('=', arg, item);
        return { kind: 'in', arg: arg.expr, list: list.map((i) => i.expr), negated: n.negated };
      }
      case 'p-between': {
        const arg = this.#operand(n.arg);
        const low = this.#operand(n.low);
        const high = this.#operand(n.high);
        this.#compare('>=', arg, low);
        this.#compare('<=', arg, high);
        return { kind: 'between', arg: arg.expr, low: low.expr, high: high.expr, negated: n.negated };
      }
      default: {
        const o = this.#operand(n);
        if (o.group !== 'bool') throw new Unportable(`${show(o.expr)} used as a condition`);
        return o.expr;
      }
    }
  }

  /** A node in a value position; `anyType` for IS NULL, which means the same for every type. */
  #operand(n: Node, anyType = false): Operand {
    switch (n.kind) {
      case 'column': {
        const column = this.columns.find((c) => c.name === n.name);
        if (!column) throw new Unportable(`${n.name}, which is not a column of the table`);
        const group = GROUPS[column.type.kind];
        if (!group && !anyType) throw new Unportable(`column ${n.name} (${column.sourceType}), whose comparisons differ between engines`);
        return { expr: n, group: group ?? null, column };
      }
      case 'number':
        return { expr: n, group: 'number' };
      case 'string':
        return { expr: n, group: 'string' };
      case 'boolean':
        return { expr: n, group: 'bool' };
      case 'null':
        return { expr: n, group: null };
      case 'cast':
        return this.#cast(this.#operand(n.arg, anyType), n.type);
      default:
        throw new Unportable('a condition used as a value');
    }
  }

  /** Drops a cast that only restates what the value already compares as. */
  #cast(o: Operand, type: string): Operand {
    const base = type.replace(/^pg_catalog\./, '');
    if (o.group === null && o.expr.kind === 'null') return o;
    if (DOUBLE_TYPES.has(base) && o.expr.kind === 'number') return o;
    if (NUMERIC_TYPES.has(base)) {
      if (o.expr.kind === 'number') return o;
      if (o.expr.kind === 'string' && NUMBER.test(o.expr.value)) return { expr: { kind: 'number', text: o.expr.value }, group: 'number' };
      if (o.column && ['int', 'decimal'].includes(o.column.type.kind)) return o;
    }
    if (TEXT_TYPES.has(base) && o.group === 'string') return o;
    if (base === 'date' && (o.column?.type.kind === 'date' || (o.expr.kind === 'string' && DATE.test(o.expr.value)))) return o;
    if (base === 'boolean' && o.group === 'bool') return o;
    throw new Unportable(`the cast of ${show(o.expr)} to ${type}`);
  }

  #compare(op: CompareOp, l: Operand, r: Operand): CheckExpr {
    const expr: CheckExpr = { kind: 'compare', op, left: l.expr, right: r.expr };
    if (l.group === null || r.group === null) return expr; // NULL: unknown everywhere alike
    const pair = [l, r];
    const date = pair.find((o) => o.group === 'date');
    if (date) {
      const other = pair.find((o) => o !== date)!;
      if (other.group === 'date' || (other.expr.kind === 'string' && DATE.test(other.expr.value))) return expr;
      throw new Unportable(`${show(date.expr)} compared with ${show(other.expr)}`);
    }
    if (l.group !== r.group) throw new Unportable(`${show(l.expr)} compared with ${show(r.expr)}`);
    if (l.group === 'string' || l.group === 'bool') {
      if (op !== '=' && op !== '<>')
        throw new Unportable(
          `${show(l.expr)} ${op} ${show(r.expr)}: ${l.group === 'string' ? 'string order depends on the collation' : 'booleans have no order in MySQL'}`,
        );
      for (const o of pair) {
        if (o.column && l.group === 'string' && !this.exactEquality(o.column)) {
          throw new Unportable(
            `column ${o.column.name} compares strings by its collation${o.column.collation ? ` ${o.column.collation}` : ''}, not byte for byte`,
          );
        }
      }
    }
    return expr;
  }
}

function show(e: CheckExpr): string {
  switch (e.kind) {
    case 'column':
      return `column ${e.name}`;
    case 'number':
      return e.text;
    case 'string':
      return `'${e.value}'`;
    case 'boolean':
      return String(e.value);
    case 'null':
      return 'NULL';
    default:
      return 'an expression';
  }
}
