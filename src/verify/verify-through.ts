import { setTimeout as sleep } from 'node:timers/promises';
import { tableKey } from '../core/change-event.js';
import type { Column } from '../core/schema.js';
import type { VerifySide } from '../core/verify-side.js';
import type { PhysicalColumn } from '../core/verify-sql.js';
import { verifySql } from '../engines/registry.js';
import { canonicalSql, fieldSql, keySql, rawSql, readRaw } from './canonical-sql.js';
import { diffRows, type DifferingKey, type EncodedRow } from './row-diff.js';
import { chunksOf, physicalColumns, rowsSql, run, tableRef, type Chunk, type SideTable } from './statements.js';
import { filterText } from '../transforms/row-filter.js';
import { expectedRow, targetRow, type Expected, type SourceRead, type Through } from './through-rules.js';
import type { DifferingRange, TableVerdict } from './verify.js';

/** Keys looked up in the target per statement. */
const LOOKUP_KEYS = 500;
/** Differing keys listed per range. */
const KEYS_SHOWN = 10;

export interface ThroughOptions {
  readonly chunkRows: number;
  readonly recheck: number;
  readonly recheckDelayMs: number;
  readonly signal?: AbortSignal | undefined;
}

function col(engine: VerifySide['engine'], c: Column): string {
  return `t.${verifySql(engine).quoteIdent(c.name)}`;
}

/** The source table as read for a comparison through its plan: rows are key match texts, key texts, compared texts, canonical texts. */
function sourceSide(th: Through, src: VerifySide, cols: Map<string, PhysicalColumn>): SideTable {
  const t = th.source;
  const e = src.engine;
  const key = t.primaryKey.map((n) => {
    const c = t.columns.find((x) => x.name === n)!;
    return keySql(e, c.type, cols.get(n)!, col(e, c), true);
  });
  const compared = t.columns.map((c) => (readRaw(c.type) ? rawSql(e, c.type, col(e, c)) : fieldSql(e, c.type, cols.get(c.name)!, col(e, c))));
  const values = t.columns.map((c) => canonicalSql(e, c.type, cols.get(c.name)!, col(e, c)));
  const filter = th.plan.pushdown ? { filter: { conditions: th.plan.pushdown, columns: t.columns } } : {};
  return { engine: e, ref: tableRef(e, src.tableId(t)), key, values: [...key.map((k) => k.text), ...compared, ...values], hash: '', ...filter };
}

function sourceReads(th: Through, rows: readonly (string | null)[][]): SourceRead[] {
  const k = th.source.primaryKey.length;
  const n = th.source.columns.length;
  return rows.map((r) => ({
    keyMatch: r.slice(0, k).map((v) => v ?? ''),
    keyText: r.slice(k, 2 * k).map((v) => v ?? ''),
    compared: r.slice(2 * k, 2 * k + n),
    values: r.slice(2 * k + n, 2 * k + 2 * n),
  }));
}

/** Reads the target's rows with the given keys (each its key texts), `LOOKUP_KEYS` at a time, through the key's index. */
async function targetRows(th: Through, dst: VerifySide, cols: Map<string, PhysicalColumn>, keys: readonly (readonly string[])[]): Promise<EncodedRow[]> {
  const t = th.plan.table;
  const e = dst.engine;
  const sql = verifySql(e);
  const keyCols = th.key.map((j) => t.columns[j]!);
  const key = keyCols.map((c) => keySql(e, c.type, cols.get(c.name)!, col(e, c), true));
  const select = [
    ...key.map((k) => k.match),
    ...t.columns.map((c, j) => {
      if (th.from[j]! < 0) return canonicalSql(e, c.type, cols.get(c.name)!, col(e, c));
      return readRaw(c.type) ? rawSql(e, c.type, col(e, c)) : fieldSql(e, c.type, cols.get(c.name)!, col(e, c));
    }),
  ];
  const out: EncodedRow[] = [];
  for (let at = 0; at < keys.length; at += LOOKUP_KEYS) {
    const batch = keys.slice(at, at + LOOKUP_KEYS);
    const params: string[] = [];
    const tuple = (k: readonly string[]) => {
      const ps = k.map((v, i) => {
        params.push(v);
        return key[i]!.param(sql.placeholder(params.length));
      });
      return ps.length === 1 ? ps[0]! : `(${ps.join(', ')})`;
    };
    const left = key.length === 1 ? key[0]!.expr : `(${key.map((k) => k.expr).join(', ')})`;
    const where = `${left} IN (${batch.map(tuple).join(', ')})`;
    const rows = await dst.query(`SELECT ${select.join(', ')} FROM ${tableRef(e, dst.tableId(t))} AS t WHERE ${where}`, params);
    for (const r of rows) out.push(targetRow(th, r));
  }
  return out;
}

async function targetCount(th: Through, dst: VerifySide): Promise<number> {
  const [[n]] = (await dst.query(`SELECT count(*) FROM ${tableRef(dst.engine, dst.tableId(th.plan.table))}`)) as [[string]];
  return Number(n);
}

/** The source's rows of one chunk, through the plan: how many were read, and what the target should hold of them. */
async function expectedOf(th: Through, src: VerifySide, side: SideTable, chunk: Chunk): Promise<{ read: number; kept: Expected[] }> {
  const reads = sourceReads(th, await run(src, rowsSql(side, chunk)));
  const kept: Expected[] = [];
  for (const r of reads) {
    const e = expectedRow(th, r);
    if (e) kept.push(e);
  }
  return { read: reads.length, kept };
}

const keyText = (bound: readonly string[] | null) => (bound ? (bound.length === 1 ? bound[0]! : `(${bound.join(', ')})`) : null);

/** Why a table cannot be compared through its plan, or undefined when it can. */
export function throughProblem(th: Through): string | undefined {
  if (th.source.primaryKey.length === 0 || th.key.length === 0) return 'it has no primary key, so its transformed rows cannot be matched with the target';
  return undefined;
}

/**
 * Compares a table a transform rule applies to: the source is read in chunks of its key order, each
 * row goes through the plan as the pipeline sends it (filter, renames, masks), and the rows the target
 * should hold are looked up there by their target keys (a hashed key by its hash) and compared by the
 * canonical text of each target column. Rows the target holds beyond those are found by its count,
 * which must equal the source rows the filter keeps. Memory: one chunk.
 */
export async function verifyThrough(th: Through, src: VerifySide, dst: VerifySide, o: ThroughOptions): Promise<TableVerdict> {
  const table = tableKey(th.source.source);
  const rule = 'compared in ferry through the transform rule';
  const problem = throughProblem(th);
  const [srcCols, dstCols] = await Promise.all([physicalColumns(src, src.tableId(th.source)), physicalColumns(dst, dst.tableId(th.plan.table))]);
  const missing = th.plan.table.columns.filter((c) => !dstCols.has(c.name)).map((c) => c.name);
  const fail = (note: string): TableVerdict => ({ table, source: '-', target: '-', equal: false, method: 'transforms', note, rows: 0, differingRanges: [] });
  if (problem) return fail(`not comparable: ${problem}`);
  if (missing.length > 0)
    return fail(
      dstCols.size === 0 ? `the target table ${tableKey(th.plan.table.target)} does not exist` : `columns ${missing.join(', ')} are missing in the target`,
    );
  const side = sourceSide(th, src, srcCols);
  const differing: DifferingRange[] = [];
  let read = 0;
  let kept = 0;
  for (const chunk of await chunksOf(src, side, o.chunkRows)) {
    for (let attempt = 0; ; attempt++) {
      o.signal?.throwIfAborted();
      if (attempt > 0) await sleep(o.recheckDelayMs);
      const expected = await expectedOf(th, src, side, chunk);
      const found = await targetRows(
        th,
        dst,
        dstCols,
        expected.kept.map((e) => e.keyParams),
      );
      const keys: DifferingKey[] = diffRows(
        expected.kept.map((e) => e.row),
        found,
      );
      const equal = keys.length === 0 && found.length === expected.kept.length;
      if (!equal && attempt < o.recheck) continue;
      read += expected.read;
      kept += expected.kept.length;
      if (!equal) {
        differing.push({
          from: keyText(chunk.from),
          to: keyText(chunk.to),
          sourceRows: expected.kept.length,
          targetRows: found.length,
          keys: keys.slice(0, KEYS_SHOWN),
          differingKeys: keys.length,
        });
      }
      break;
    }
  }
  // Every kept row was found under its own key: the target holds more only if its count says so.
  let count = await targetCount(th, dst);
  for (let attempt = 0; count !== kept && attempt < o.recheck; attempt++) {
    await sleep(o.recheckDelayMs);
    kept = await keptRows(th, src, side, o);
    count = await targetCount(th, dst);
  }
  if (count !== kept && differing.length === 0) differing.push({ from: null, to: null, sourceRows: kept, targetRows: count });
  const filtered = read - kept;
  const pushed = th.plan.pushdown ? `; the source's SQL applies ${th.plan.pushdown.map(filterText).join(' and ')}` : '';
  return {
    table,
    source: String(kept),
    target: String(count),
    equal: differing.length === 0 && count === kept,
    method: 'transforms',
    note: `${rule} (to ${tableKey(th.plan.table.target)})${pushed}${filtered > 0 ? `: ${filtered} source row(s) read left out by its filter` : ''}${count !== kept ? `; the target holds ${count} row(s), the source ${kept} through the filter` : ''}`,
    rows: read,
    differingRanges: differing,
  };
}

/** Source rows the plan's filter keeps, counted chunk by chunk in ferry (the filter's own semantics, not SQL's: its pushed conditions only spare reading rows). */
async function keptRows(th: Through, src: VerifySide, side: SideTable, o: ThroughOptions): Promise<number> {
  let kept = 0;
  for (const chunk of await chunksOf(src, side, o.chunkRows)) {
    o.signal?.throwIfAborted();
    kept += (await expectedOf(th, src, side, chunk)).kept.length;
  }
  return kept;
}

/** Counts mode for a table with a rule: source rows the filter keeps against the target's count. */
export async function countThrough(th: Through, src: VerifySide, dst: VerifySide, o: ThroughOptions): Promise<TableVerdict> {
  const srcCols = await physicalColumns(src, src.tableId(th.source));
  const side = sourceSide(th, src, srcCols);
  // Without a filter every source row reaches the target: count(*) on both sides.
  const sourceCount = async () => (th.plan.keeps ? keptRows(th, src, side, o) : Number((await src.query(`SELECT count(*) FROM ${side.ref}`))[0]![0]));
  const [s, d] = await Promise.all([sourceCount(), targetCount(th, dst)]);
  return {
    table: tableKey(th.source.source),
    source: String(s),
    target: String(d),
    equal: s === d,
    method: 'transforms',
    note: `${th.plan.keeps ? "source rows counted in ferry through the transform rule's filter" : 'counted'} (to ${tableKey(th.plan.table.target)})`,
    rows: s,
    differingRanges: s === d ? [] : [{ from: null, to: null, sourceRows: s, targetRows: d }],
  };
}
