import type { TableId } from '../core/change-event.js';
import { filterSql } from '../core/filter-sql.js';
import type { Column, TargetEngine } from '../core/schema.js';
import type { RowFilter } from '../core/transform-rules.js';
import type { VerifySide } from '../core/verify-side.js';
import type { PhysicalColumn } from '../core/verify-sql.js';
import { verifySql } from '../engines/registry.js';
import type { KeySql } from './canonical-sql.js';

/** One table on one side, as verify's statements need it. */
export interface SideTable {
  readonly engine: TargetEngine;
  /** The quoted, qualified table name on this side. */
  readonly ref: string;
  /** The primary key's columns, in key order; empty for a table without one. */
  readonly key: readonly KeySql[];
  /** Each column as compared in Node: its row-text field, or its raw text for canonical(). */
  readonly values: readonly string[];
  /** The row's fingerprint term (rowHashSql). */
  readonly hash: string;
  /**
   * Row filter conditions rowsSql applies (a transform plan's pushdown, over `columns`): each keeps
   * at least the rows ferry keeps, which still filters what is read.
   */
  readonly filter?: { readonly conditions: readonly RowFilter[]; readonly columns: readonly Column[] };
}

/** The rows with key in (from, to] by the key order of SideTable.key; a null bound is the table's end. */
export interface Chunk {
  readonly from: readonly string[] | null;
  readonly to: readonly string[] | null;
}

export interface Statement {
  readonly sql: string;
  readonly params: readonly string[];
}

export function tableRef(engine: TargetEngine, id: TableId): string {
  return verifySql(engine).qualified(id);
}

/** Placeholders in the order they appear in the text: `$n` on Postgres, `?` (positional) on MySQL. */
class Params {
  readonly values: string[] = [];
  constructor(private readonly engine: TargetEngine) {}

  add(value: string): string {
    this.values.push(value);
    return verifySql(this.engine).placeholder(this.values.length);
  }
}

/**
 * `key > bound` or `key <= bound` by the key order. Postgres compares row values, which its btree
 * indexes serve; MySQL gets the expanded form `(a > ?) OR (a = ? AND b > ?)`, which an index range
 * scan serves on every server version (VerifySql.rowValueRanges).
 */
function compareKey(s: SideTable, op: '>' | '<=', bound: readonly string[], params: Params): string {
  if (verifySql(s.engine).rowValueRanges || s.key.length === 1) {
    const left = s.key.map((k) => k.expr);
    const right = s.key.map((k, i) => k.param(params.add(bound[i]!)));
    return s.key.length === 1 ? `${left[0]} ${op} ${right[0]}` : `(${left.join(', ')}) ${op} (${right.join(', ')})`;
  }
  const strict = op === '>' ? '>' : '<';
  const terms = s.key.map((k, i) => {
    const equal = s.key.slice(0, i).map((e, j) => `${e.expr} = ${e.param(params.add(bound[j]!))}`);
    return `(${[...equal, `${k.expr} ${i === s.key.length - 1 ? op : strict} ${k.param(params.add(bound[i]!))}`].join(' AND ')})`;
  });
  return `(${terms.join(' OR ')})`;
}

function rangeTerms(s: SideTable, c: Chunk, params: Params): string[] {
  const terms: string[] = [];
  if (c.from) terms.push(compareKey(s, '>', c.from, params));
  if (c.to) terms.push(compareKey(s, '<=', c.to, params));
  return terms;
}

const where = (terms: readonly string[]) => (terms.length > 0 ? ` WHERE ${terms.join(' AND ')}` : '');

/** SideTable.filter as a term, its values bound as the engine binds a filter's; none where the engine binds none. */
function filterTerms(s: SideTable, params: Params): string[] {
  const { quoteIdent, filterParam } = verifySql(s.engine);
  if (!s.filter || !filterParam) return [];
  return [
    filterSql(
      s.filter.conditions,
      s.filter.columns,
      (n) => `t.${quoteIdent(n)}`,
      (v, c) => filterParam(params.add(String(v)), c.type),
    ),
  ];
}

/** The key `rows` rows after `after` (or from the start): the next chunk's upper bound, or no row at the table's end. */
export function boundarySql(s: SideTable, after: readonly string[] | null, rows: number): Statement {
  const params = new Params(s.engine);
  const where = after ? ` WHERE ${compareKey(s, '>', after, params)}` : '';
  const order = s.key.map((k) => k.expr).join(', ');
  const limit = verifySql(s.engine).rowAt(rows - 1);
  return { sql: `SELECT ${s.key.map((k) => k.text).join(', ')} FROM ${s.ref} AS t${where} ORDER BY ${order} ${limit}`, params: params.values };
}

/** count(*) and the exact sum of the rows' fingerprint terms, both as decimal text. */
export function checksumSql(s: SideTable, c: Chunk): Statement {
  const params = new Params(s.engine);
  return { sql: `SELECT ${verifySql(s.engine).countAndSum(s.hash)} FROM ${s.ref} AS t${where(rangeTerms(s, c, params))}`, params: params.values };
}

/** The chunk's rows for comparison in Node (those SideTable.filter keeps): the keys' canonical texts, then SideTable.values, in key order. */
export function rowsSql(s: SideTable, c: Chunk): Statement {
  const params = new Params(s.engine);
  const terms = [...rangeTerms(s, c, params), ...filterTerms(s, params)];
  const order = s.key.length > 0 ? ` ORDER BY ${s.key.map((k) => k.expr).join(', ')}` : '';
  return { sql: `SELECT ${[...s.key.map((k) => k.match), ...s.values].join(', ')} FROM ${s.ref} AS t${where(terms)}${order}`, params: params.values };
}

/** The table's columns as this side's catalog has them; empty when the table does not exist. */
export function physicalColumns(side: VerifySide, id: TableId): Promise<Map<string, PhysicalColumn>> {
  return verifySql(side.engine).physicalColumns(side, id);
}

export async function run(side: VerifySide, s: Statement): Promise<(string | null)[][]> {
  return side.query(s.sql, s.params);
}

/** The chunks of the table: keyset walk of the source's key, `rows` keys at a time. */
export async function chunksOf(src: VerifySide, s: SideTable, rows: number): Promise<Chunk[]> {
  if (s.key.length === 0) return [{ from: null, to: null }];
  const chunks: Chunk[] = [];
  let from: readonly string[] | null = null;
  for (;;) {
    const [next] = await run(src, boundarySql(s, from, rows));
    const to = next ? next.map((v) => v ?? '') : null;
    chunks.push({ from, to });
    if (!to) return chunks;
    from = to;
  }
}
