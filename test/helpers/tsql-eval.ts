import { createHash } from 'node:crypto';
import parser from 'node-sql-parser';

/**
 * A model of the SQL Server functions ferry's verify statements use, evaluated over rows held in
 * memory: no SQL Server runs here, so this is what the statements compute *if SQL Server behaves as
 * its documentation says*. Each rule below names the behaviour it models; anything else throws, so a
 * statement using something unmodelled fails its test instead of passing on a guess.
 */
export type TsqlValue =
  | null
  /**
   * nvarchar; `varchar`: a char or varchar (a 'literal' without N); `utf8`: a varchar under a UTF-8
   * collation; `sc`: under a supplementary-character collation; `max`: a large value type
   * (nvarchar(max)), which + does not truncate.
   */
  | {
      readonly t: 'text';
      readonly v: string;
      readonly varchar?: boolean;
      readonly utf8?: boolean;
      readonly sc?: boolean;
      readonly max?: boolean;
    }
  /** real or float, as tedious reads it into a number. */
  | { readonly t: 'float'; readonly v: number }
  | { readonly t: 'int'; readonly v: bigint }
  /** decimal(p,s) as SQL Server prints it: every fractional digit of its scale, a leading 0 before the point. */
  | { readonly t: 'decimal'; readonly v: string }
  | { readonly t: 'bytes'; readonly v: Buffer }
  | { readonly t: 'bit'; readonly v: 0 | 1 }
  | { readonly t: 'date'; readonly v: string }
  /** datetime2(6): `yyyy-mm-dd hh:mi:ss.ffffff`. */
  | { readonly t: 'datetime2'; readonly v: string }
  /** datetimeoffset(6): `yyyy-mm-dd hh:mi:ss.ffffff +hh:mi`. */
  | { readonly t: 'datetimeoffset'; readonly v: string }
  /** time(6): `hh:mi:ss.ffffff`. */
  | { readonly t: 'time'; readonly v: string }
  | { readonly t: 'uniqueidentifier'; readonly v: string };

export type TsqlRow = Readonly<Record<string, TsqlValue>>;

type Node = { readonly type: string; readonly [k: string]: unknown };

const sqlParser = new parser.Parser();

const text = (v: string, flags: { varchar?: boolean; utf8?: boolean; sc?: boolean; max?: boolean } = {}): TsqlValue => ({ t: 'text', v, ...flags });

/** `(expr) COLLATE name` as a call `COLLATE__name(expr)`, which the grammar parses and the model reads. */
function collateAsCall(sql: string): string {
  let out = sql;
  for (;;) {
    const m = /\) COLLATE ([A-Za-z0-9_]+)/.exec(out);
    if (!m) return out;
    let depth = 0;
    let open = m.index;
    for (let i = m.index; i >= 0; i--) {
      if (out[i] === ')') depth++;
      if (out[i] === '(' && --depth === 0) {
        open = i;
        break;
      }
    }
    out = `${out.slice(0, open)}COLLATE__${m[1]}(${out.slice(open + 1, m.index)})${out.slice(m.index + m[0].length)}`;
  }
}

function fail(what: string): never {
  throw new Error(`not modelled: ${what}`);
}

function micros(time: string): bigint {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(time) ?? fail(`time ${time}`);
  return ((BigInt(m[1]!) * 60n + BigInt(m[2]!)) * 60n + BigInt(m[3]!)) * 1_000_000n + BigInt((m[4] ?? '').padEnd(6, '0').slice(0, 6));
}

/** A decimal text as an integer count of 10^-scale; SQL Server would round digits beyond the scale, which the model does not. */
function scaled(v: string, scale: number): bigint {
  const [whole, frac = ''] = v.replace('-', '').split('.');
  if (/[1-9]/.test(frac.slice(scale))) fail(`rounding ${v} to scale ${scale}`);
  const n = BigInt(whole! + frac.padEnd(scale, '0').slice(0, scale));
  return v.startsWith('-') ? -n : n;
}

function decimalText(n: bigint, scale: number): string {
  const digits = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return n < 0n ? `-${body}` : body;
}

function utcOf(dto: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d{6}) ([+-]\d{2}:\d{2})$/.exec(dto) ?? fail(`datetimeoffset ${dto}`);
  const ms = Date.parse(`${m[1]}T${m[2]}.000${m[4]}`);
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}.${m[3]}`;
}

/** SQL Server's comparison: numbers by value, temporals in order, binary as if the shorter were padded with 0x00. Text is never compared by verify. */
function compare(a: Exclude<TsqlValue, null>, b: Exclude<TsqlValue, null>): number {
  if (a.t === 'bytes' && b.t === 'bytes') {
    const n = Math.max(a.v.length, b.v.length);
    return Buffer.compare(Buffer.concat([a.v, Buffer.alloc(n - a.v.length)]), Buffer.concat([b.v, Buffer.alloc(n - b.v.length)]));
  }
  const num = (x: typeof a): bigint | null =>
    x.t === 'int' ? x.v * 10n ** 30n : x.t === 'decimal' ? scaled(x.v, 30) : x.t === 'bit' ? BigInt(x.v) * 10n ** 30n : null;
  const [x, y] = [num(a), num(b)];
  if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
  const temporal = (v: typeof a) => (v.t === 'datetimeoffset' ? utcOf(v.v) : v.v);
  if (a.t === b.t && ['date', 'datetime2', 'time', 'datetimeoffset'].includes(a.t)) {
    const [p, q] = [temporal(a), temporal(b)];
    return p < q ? -1 : p > q ? 1 : 0;
  }
  return fail(`comparison of ${a.t} with ${b.t}`);
}

function asText(v: Exclude<TsqlValue, null>): string {
  switch (v.t) {
    case 'text':
    case 'decimal':
    case 'date':
    case 'time':
      return v.v;
    case 'int':
    case 'bit':
    case 'float':
      return String(v.v);
    case 'uniqueidentifier':
      return v.v.toUpperCase(); // SQL Server prints a uniqueidentifier in upper case
    default:
      return fail(`${v.t} as text`);
  }
}

/** CAST(v AS type): the conversions verify's statements make. */
function cast(v: TsqlValue, type: string, length: unknown, scale: unknown, utf8Collated: boolean): TsqlValue {
  if (v === null) return null;
  switch (type) {
    case 'NVARCHAR':
      // A cast to a shorter string type cuts the text.
      return length === 'max' ? text(asText(v), { max: true }) : text(asText(v).slice(0, Number(length ?? 30)));
    case 'VARCHAR':
      if (!utf8Collated && v.t === 'text' && !v.utf8 && !/^[\x20-\x7e]*$/.test(v.v)) fail('varchar outside a UTF-8 collation');
      if (length !== 'max' && Buffer.byteLength(asText(v)) > Number(length ?? 30)) fail('a varchar cut short');
      return text(asText(v), { varchar: true, utf8: utf8Collated || (v.t === 'text' && v.utf8), max: length === 'max' });
    case 'VARBINARY':
      if (v.t === 'bytes') return v;
      if (v.t === 'text' && v.utf8) return { t: 'bytes', v: Buffer.from(v.v, 'utf8') };
      return fail(`${v.t} as varbinary`);
    case 'BIGINT':
      if (v.t === 'bytes' && v.v.length === 8) return { t: 'int', v: v.v.readBigInt64BE(0) }; // binary to integer: big-endian
      if (v.t === 'text' && /^-?\d+$/.test(v.v)) return { t: 'int', v: BigInt(v.v) };
      return fail(`${v.t} as bigint`);
    case 'INT':
    case 'SMALLINT':
    case 'TINYINT':
      if (v.t === 'text' && /^-?\d+$/.test(v.v)) return { t: 'int', v: BigInt(v.v) };
      return fail(`${v.t} as ${type}`);
    case 'DECIMAL': {
      const s = Number(scale ?? 0);
      if (v.t === 'int') return { t: 'decimal', v: decimalText(v.v * 10n ** BigInt(s), s) };
      if (v.t === 'text' && /^-?\d+(\.\d+)?$/.test(v.v)) return { t: 'decimal', v: decimalText(scaled(v.v, s), s) };
      if (v.t === 'decimal') return { t: 'decimal', v: decimalText(scaled(v.v, s), s) };
      return fail(`${v.t} as decimal`);
    }
    case 'BIT':
      if (v.t === 'text' && (v.v === '0' || v.v === '1')) return { t: 'bit', v: v.v === '1' ? 1 : 0 };
      return fail(`${v.t} as bit`);
    case 'TIME':
      if (v.t === 'text') return { t: 'time', v: v.v };
      return fail(`${v.t} as time`);
    case 'DATE':
      if (v.t === 'text') return { t: 'date', v: v.v };
      return fail(`${v.t} as date`);
    case 'DATETIME2':
      if (length !== 6) fail(`datetime2(${String(length)})`);
      if (v.t === 'datetime2') return v;
      if (v.t === 'datetimeoffset') return { t: 'datetime2', v: v.v.slice(0, 26) }; // the offset is dropped, the local time kept
      if (v.t === 'text') return { t: 'datetime2', v: v.v };
      return fail(`${v.t} as datetime2`);
    case 'DATETIMEOFFSET':
      if (v.t === 'text') return { t: 'datetimeoffset', v: `${v.v} +00:00` }; // a text without an offset is in UTC
      return fail(`${v.t} as datetimeoffset`);
    default:
      return fail(`CAST AS ${type}`);
  }
}

/** CONVERT(type, v, style) for the styles verify uses. */
function convert(type: string, length: unknown, v: TsqlValue, style: number): TsqlValue {
  if (v === null) return null;
  const t = type.toUpperCase();
  if ((t === 'VARCHAR' || t === 'NVARCHAR' || t === 'CHAR') && style === 2 && v.t === 'bytes') {
    const hex = v.v.toString('hex').toUpperCase(); // style 2: hex digits without 0x, in upper case
    return text(typeof length === 'number' ? hex.slice(0, length) : hex, { varchar: t !== 'NVARCHAR' });
  }
  // The binary styles read char and varchar (CAST and CONVERT's table of binary styles); nvarchar is not among them.
  if ((t === 'BINARY' || t === 'VARBINARY') && v.t === 'text' && !v.varchar) return fail(`CONVERT(${t}, nvarchar, ${style})`);
  if (t === 'BINARY' && style === 2 && v.t === 'text') {
    const bytes = Buffer.from(v.v, 'hex');
    return { t: 'bytes', v: Buffer.concat([bytes, Buffer.alloc(Math.max(0, Number(length) - bytes.length))]) };
  }
  if (t === 'VARBINARY' && style === 2 && v.t === 'text') return { t: 'bytes', v: Buffer.from(v.v, 'hex') };
  if (t === 'NVARCHAR' && style === 23 && (v.t === 'date' || v.t === 'datetime2')) return text(v.v.slice(0, 10)); // yyyy-mm-dd
  if (t === 'NVARCHAR' && style === 121 && v.t === 'datetime2') return text(v.v); // yyyy-mm-dd hh:mi:ss and the type's six fractional digits
  return fail(`CONVERT(${t}, ${v.t}, ${style})`);
}

function like(value: string, pattern: string): boolean {
  const re = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

function arith(op: string, a: TsqlValue, b: TsqlValue): TsqlValue {
  if (a === null || b === null) return null; // CONCAT_NULL_YIELDS_NULL and NULL arithmetic
  if (op === '+' && a.t === 'text' && b.t === 'text') {
    // Without a large value type among them, the result is cut at 8,000 bytes (4,000 nvarchar characters).
    const max = a.max || b.max;
    const joined = max
      ? a.v + b.v
      : a.utf8 && b.utf8
        ? Buffer.from(a.v + b.v)
            .subarray(0, 8000)
            .toString()
        : (a.v + b.v).slice(0, 4000);
    return text(joined, { varchar: a.varchar && b.varchar, utf8: a.utf8 && b.utf8, sc: a.sc || b.sc, max });
  }
  const int = (x: typeof a): bigint => (x.t === 'int' ? x.v : x.t === 'decimal' && !x.v.includes('.') ? BigInt(x.v) : fail(`${op} on ${x.t}`));
  const [x, y] = [int(a), int(b)];
  const r = op === '+' ? x + y : op === '-' ? x - y : fail(op);
  return a.t === 'decimal' || b.t === 'decimal' ? { t: 'decimal', v: r.toString() } : { t: 'int', v: r };
}

/** Functions of a large value type return one. */
const isMax = (v: Exclude<TsqlValue, null>) => v.t === 'text' && v.max === true;

const TRUE: TsqlValue = { t: 'bit', v: 1 };
const FALSE: TsqlValue = { t: 'bit', v: 0 };
const truth = (b: boolean | null): TsqlValue => (b === null ? null : b ? TRUE : FALSE);
const isTrue = (v: TsqlValue) => v !== null && v.t === 'bit' && v.v === 1;

interface Scope {
  readonly row: TsqlRow | null;
  readonly rows: readonly TsqlRow[];
  readonly params: readonly string[];
}

function evaluate(node: Node, s: Scope): TsqlValue {
  const args = (): Node[] => ((node.args as { value: Node[] }).value ?? []) as Node[];
  switch (node.type) {
    case 'null':
      return null;
    case 'number':
      return { t: 'int', v: BigInt(node.value as number) };
    case 'bigint':
      return { t: 'int', v: BigInt(node.value as string) };
    case 'single_quote_string':
      return text(node.value as string, { varchar: true });
    case 'var_string':
      return text(node.value as string);
    case 'column_ref': {
      const name = node.column as string;
      if (name.startsWith('@p')) return text(s.params[Number(name.slice(2)) - 1] ?? fail(`parameter ${name}`));
      if (!s.row) return fail(`column ${name} outside a row`);
      if (!(name in s.row)) return fail(`column ${name}`);
      return s.row[name]!;
    }
    case 'cast': {
      const target = (node.target as { dataType: string; length?: unknown; scale?: unknown }[])[0]!;
      const inner = node.expr as Node;
      const collated = inner.type === 'function' && fnName(inner) === 'COLLATE__LATIN1_GENERAL_100_BIN2_UTF8';
      return cast(evaluate(inner, s), target.dataType, target.length, target.scale, collated);
    }
    case 'case': {
      for (const branch of node.args as Node[]) {
        if (branch.type === 'else' || isTrue(evaluate(branch.cond as Node, s))) return evaluate(branch.result as Node, s);
      }
      return null;
    }
    case 'binary_expr':
      return binary(node, s);
    case 'expr_list':
      return evaluate((node.value as Node[])[0]!, s);
    case 'aggr_func': {
      const name = node.name as string;
      if (name === 'COUNT') return { t: 'int', v: BigInt(s.rows.length) };
      if (name === 'SUM') {
        const values = s.rows.map((row) => evaluate((node.args as { expr: Node }).expr, { ...s, row })).filter((v) => v !== null);
        if (values.length === 0) return null;
        return values.reduce<TsqlValue>((a, b) => arith('+', a, b), values[0]!.t === 'decimal' ? { t: 'decimal', v: '0' } : { t: 'int', v: 0n });
      }
      return fail(`aggregate ${name}`);
    }
    case 'function':
      return call(fnName(node), args(), s);
    default:
      return fail(`node ${node.type}`);
  }
}

function fnName(node: Node): string {
  return ((node.name as { name: { value: string }[] }).name[0]!.value ?? '').toUpperCase();
}

function binary(node: Node, s: Scope): TsqlValue {
  const op = (node.operator as string).toUpperCase();
  const left = () => evaluate(node.left as Node, s);
  const right = () => evaluate(node.right as Node, s);
  switch (op) {
    case 'AND': {
      const [a, b] = [left(), right()];
      if ((a && !isTrue(a)) || (b && !isTrue(b))) return FALSE;
      return a === null || b === null ? null : TRUE;
    }
    case 'OR': {
      const [a, b] = [left(), right()];
      if (isTrue(a) || isTrue(b)) return TRUE;
      return a === null || b === null ? null : FALSE;
    }
    case 'IS':
      return truth(left() === null);
    case 'IS NOT':
      return truth(left() !== null);
    case 'LIKE': {
      const [a, b] = [left(), right()];
      return a === null || b === null ? null : truth(like(asText(a), asText(b)));
    }
    case '=':
    case '<>':
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const [a, b] = [left(), right()];
      if (a === null || b === null) return null;
      const c = compare(a, b);
      return truth({ '=': c === 0, '<>': c !== 0, '>': c > 0, '>=': c >= 0, '<': c < 0, '<=': c <= 0 }[op]);
    }
    default:
      return arith(op, left(), right());
  }
}

function call(name: string, a: Node[], s: Scope): TsqlValue {
  const arg = (i: number) => evaluate(a[i]!, s);
  if (name.startsWith('COLLATE__')) {
    const v = arg(0);
    if (v === null) return null;
    if (v.t !== 'text') return fail(`COLLATE on ${v.t}`);
    return name.endsWith('_SC') ? { ...v, sc: true } : v; // BIN2_UTF8 is read by the CAST it is in
  }
  switch (name) {
    case 'CONVERT': {
      const target = a[0]!;
      const len = ((target.args as { value: Node[] }).value[0] as { value?: unknown; column?: unknown }) ?? {};
      return convert(fnName(target), len.value ?? len.column, arg(1), Number((a[2] as unknown as { value: number }).value));
    }
    case 'COALESCE':
      return a.map((_, i) => arg(i)).find((v) => v !== null) ?? null;
    case 'LOWER': {
      const v = arg(0);
      return v === null ? null : text(asText(v).toLowerCase(), { max: isMax(v) });
    }
    case 'REPLACE': {
      const [v, from, to] = [arg(0), arg(1), arg(2)];
      return v === null ? null : text(asText(v).split(asText(from!)).join(asText(to!)), { max: isMax(v) });
    }
    case 'RTRIM': {
      const v = arg(0);
      return v === null ? null : text(asText(v).replace(/ +$/, ''), { max: isMax(v) }); // spaces only
    }
    case 'LEFT': {
      const v = arg(0);
      return v === null ? null : text(asText(v).slice(0, Number((arg(1) as { v: bigint }).v)), { varchar: v.t === 'text' && v.varchar });
    }
    case 'LEN': {
      // Trailing spaces are not counted; a surrogate pair is one character under an SC collation, two otherwise.
      const v = arg(0);
      if (v === null) return null;
      const trimmed = asText(v).replace(/ +$/, '');
      return { t: 'int', v: BigInt(v.t === 'text' && v.sc ? [...trimmed].length : trimmed.length) };
    }
    case 'HASHBYTES': {
      const v = arg(1);
      if (v === null) return null;
      if (v.t !== 'bytes') return fail(`HASHBYTES of ${v.t}`);
      return { t: 'bytes', v: createHash('md5').update(v.v).digest() };
    }
    case 'DATEDIFF_BIG': {
      const [from, to] = [arg(1), arg(2)];
      if (from === null || to === null) return null;
      if ((a[0] as { column?: string }).column !== 'microsecond' || from.t !== 'time' || to.t !== 'time') return fail('DATEDIFF_BIG');
      return { t: 'int', v: micros(to.v) - micros(from.v) };
    }
    case 'SWITCHOFFSET': {
      const v = arg(0);
      if (v === null) return null;
      if (v.t !== 'datetimeoffset' || asText(arg(1)!) !== '+00:00') return fail('SWITCHOFFSET');
      return { t: 'datetimeoffset', v: `${utcOf(v.v)} +00:00` };
    }
    default:
      return fail(`function ${name}`);
  }
}

/** What a SELECT computes over `rows` (the table `t`): its rows as text, NULL as null. */
export function runSelect(sql: string, rows: readonly TsqlRow[], params: readonly string[] = []): (string | null)[][] {
  const ast = sqlParser.astify(collateAsCall(sql.replace(/COUNT_BIG\(/g, 'COUNT(')), { database: 'TransactSQL' }) as unknown as {
    columns: { expr: Node }[];
    where: Node | null;
    orderby: { expr: Node }[] | null;
    limit: { offset?: { value: { value: number } }; fetch?: { value: { value: number } } } | null;
  };
  const scope = (row: TsqlRow | null, all: readonly TsqlRow[]): Scope => ({ row, rows: all, params });
  let selected = rows.filter((row) => !ast.where || isTrue(evaluate(ast.where, scope(row, rows))));
  const out = (v: TsqlValue) => (v === null ? null : asText(v));
  const aggregate = ast.columns.some((c) => JSON.stringify(c.expr).includes('"aggr_func"'));
  if (aggregate) return [ast.columns.map((c) => out(evaluate(c.expr, scope(null, selected))))];
  if (ast.orderby) {
    const keys = ast.orderby.map((o) => o.expr);
    selected = [...selected].sort((x, y) => {
      for (const k of keys) {
        const [a, b] = [evaluate(k, scope(x, rows)), evaluate(k, scope(y, rows))];
        const c = a === null || b === null ? (a === null ? (b === null ? 0 : -1) : 1) : compare(a, b);
        if (c !== 0) return c;
      }
      return 0;
    });
  }
  if (ast.limit?.offset) selected = selected.slice(ast.limit.offset.value.value, ast.limit.offset.value.value + (ast.limit.fetch?.value.value ?? Infinity));
  return selected.map((row) => ast.columns.map((c) => out(evaluate(c.expr, scope(row, rows)))));
}
