import { setTimeout as sleep } from 'node:timers/promises';
import { tableKey } from '../core/change-event.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { SourceCatalogue } from '../core/source-catalogue.js';
import type { Verifiable, VerifySide } from '../core/verify-side.js';
import { coerceError } from '../core/errors.js';
import type { TableHold } from '../core/table-hold.js';
import { holdText, resyncHint } from '../core/table-quarantine.js';
import type { PhysicalColumn } from '../core/verify-sql.js';
import { verifySql } from '../engines/registry.js';
import type { Transform } from '../transforms/transform.js';
import { through, type Through } from './through-rules.js';
import { countThrough, verifyThrough } from './verify-through.js';
import { comparedInNode, fieldSql, keySql, ownOrderIsByteOrder, rawSql, readRaw, rowHashSql } from './canonical-sql.js';
import { chunkDigest, diffRows, encodeRow, type DifferingKey, type EncodedRow, type NodeColumn } from './row-diff.js';
import { checksumSql, chunksOf, physicalColumns, rowsSql, run, tableRef, type Chunk, type SideTable } from './statements.js';

export type VerifyMode = 'counts' | 'checksums';

/** The source as verify uses it: its verification side, and row estimates that size the chunks. */
export type VerifiedSource = Verifiable & Pick<SourceCatalogue, 'estimateRows'>;

/**
 * sql: chunk checksums computed by both databases; rows: rows read into ferry and compared there with
 * canonical(); transforms: source rows read into ferry, passed through the table's transform rule and
 * compared with the target's rows of the same keys.
 */
export type VerifyMethod = 'sql' | 'rows' | 'transforms';

/** Key range (from, to] whose rows differ; a null bound is the table's start or end. */
export interface DifferingRange {
  readonly from: string | null;
  readonly to: string | null;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** The first differing keys (whole rows, for a table without a key), when rows were compared. */
  readonly keys?: readonly DifferingKey[];
  /** How many keys differ in the range, when rows were compared. */
  readonly differingKeys?: number;
}

export interface TableVerdict {
  readonly table: string;
  /** Rows and checksum at the source (`count:checksum`; counts mode: the count). */
  readonly source: string;
  readonly target: string;
  readonly equal: boolean;
  readonly method: VerifyMethod;
  /** Why a table was compared row by row, or what else is worth knowing about its verdict. */
  readonly note?: string;
  /** Source rows compared. */
  readonly rows: number;
  readonly differingRanges: readonly DifferingRange[];
}

export interface VerifyOptions {
  /** Rows per chunk, cut by walking the source's primary key. */
  readonly chunkRows?: number;
  /** Re-comparisons of a chunk that differs before the difference counts: the target may only be behind a live source. */
  readonly recheck?: number;
  readonly recheckDelayMs?: number;
  /** Called with each table's verdict as soon as it is known. */
  readonly onTable?: (verdict: TableVerdict) => void;
  /** Stops the comparison between chunks (a cutover that gave up). */
  readonly signal?: AbortSignal;
  /**
   * What the pipeline makes of each table (transforms.rules): a table it renames, masks or filters is
   * compared with what the target should hold of it (verify-through.ts). Absent: the identity.
   */
  readonly transform?: Transform;
}

const DEFAULTS = { chunkRows: 100_000, recheck: 3, recheckDelayMs: 1000 };
/** Differing keys listed per range. */
const KEYS_SHOWN = 10;
/**
 * Chunks per table when a key column cannot be range-scanned in the shared order on a side (see
 * planTable): each chunk then scans that side's table, so a big table gets bigger chunks instead of more scans.
 */
const MAX_SCANNED_CHUNKS = 16;

/**
 * Compares source and target table by table. `counts` compares exact row counts (count(*)).
 * `checksums` cuts each table into chunks of about `chunkRows` rows by its primary key (walked at the
 * source) and has both databases compute each chunk's count and an order-independent sum of row
 * hashes over canonical text (canonical-sql.ts); a chunk that differs is read into ferry and compared
 * row by row with canonical(), naming the keys that differ. Tables with columns whose text the two
 * engines print differently (float, json, arrays across engines) are compared row by row throughout.
 *
 * Against a live source (ferry still streaming), the target lags: a differing chunk is compared again
 * up to `recheck` times, `recheckDelayMs` apart, and only a difference that persists counts. Against
 * a quiet or fenced source (cutover) the result is exact.
 */
export async function verifyTables(
  source: VerifiedSource,
  target: Verifiable,
  selected: readonly TableSchema[],
  mode: VerifyMode,
  options: VerifyOptions = {},
): Promise<TableVerdict[]> {
  const o = { ...DEFAULTS, ...options };
  const verdicts: TableVerdict[] = [];
  const deadLetters = (await target.deadLetters?.()) ?? new Map<string, number>();
  const holds = (await target.holds?.()) ?? {};
  const done = (compared: TableVerdict) => {
    const v = withHold(withDeadLetters(compared, deadLetters.get(compared.table) ?? 0), holds[compared.table]);
    verdicts.push(v);
    o.onTable?.(v);
  };
  // A rule that only renames the table keeps its rows as they are: it is compared as any other, at its new name.
  const tables: TableSchema[] = [];
  const throughRules: Through[] = [];
  for (const t of selected) {
    const plan = o.transform?.plan(t);
    if (plan?.columns || plan?.keeps) throughRules.push(through(t, plan));
    else tables.push(plan?.table ?? t);
  }
  if (mode === 'counts') {
    for (const t of tables) {
      o.signal?.throwIfAborted();
      done(await countTable(source, target, t));
    }
    if (throughRules.length === 0) return verdicts;
  }
  const src = await source.verifySide();
  try {
    const dst = await target.verifySide();
    try {
      if (mode === 'counts') {
        for (const th of throughRules) done(await countThrough(th, src, dst, o).catch(coerceFor(th.source)));
        return verdicts;
      }
      for (const t of tables) done(await verifyTable(t, src, dst, o, () => source.estimateRows(t)).catch(coerceFor(t)));
      for (const th of throughRules) done(await verifyThrough(th, src, dst, o).catch(coerceFor(th.source)));
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
  return verdicts;
}

function coerceFor(t: TableSchema): (err: unknown) => never {
  return (err) => {
    throw coerceError(err, `verify of ${tableKey(t.source)}`);
  };
}

/**
 * A table whose rows the target rejected and ferry dead-lettered is never equal, whatever its rows
 * compare to: those rows are not where the source has them until they are replayed.
 */
function withDeadLetters(v: TableVerdict, rows: number): TableVerdict {
  if (rows === 0) return v;
  const note = `${rows} row(s) dead-lettered in ferry.ferry_dead_letters (rejected by the target, not replayed)`;
  return { ...v, equal: false, note: v.note ? `${v.note}; ${note}` : note };
}

/** A held table is never equal, whatever its rows: a quarantined one stays behind the source by design, a resyncing one is being copied. */
function withHold(v: TableVerdict, hold: TableHold | undefined): TableVerdict {
  if (!hold) return v;
  const note = hold.state === 'quarantined' ? `${holdText(v.table, hold)}; fix: ${resyncHint(v.table)}` : holdText(v.table, hold);
  return { ...v, equal: false, note: v.note ? `${v.note}; ${note}` : note };
}

async function countTable(source: VerifiedSource, target: Verifiable, t: TableSchema): Promise<TableVerdict> {
  const [s, d] = await Promise.all([source.countRows(t), target.countRows(t)]);
  return {
    table: tableKey(t.source),
    source: String(s),
    target: String(d),
    equal: s === d,
    method: 'sql',
    rows: s,
    differingRanges: s === d ? [] : [{ from: null, to: null, sourceRows: s, targetRows: d }],
  };
}

/** Everything the chunk loop needs about one table. */
interface Plan {
  readonly method: VerifyMethod;
  readonly note?: string;
  readonly source: SideTable;
  readonly target: SideTable;
  readonly nodeColumns: readonly NodeColumn[];
  readonly nodeKey: readonly NodeColumn[];
  /** Some key column compares by an expression on some side: chunks there scan the table. */
  readonly scans: boolean;
}

function column(engine: VerifySide['engine'], c: Column): string {
  return `t.${verifySql(engine).quoteIdent(c.name)}`;
}

/**
 * Key order. Chunk predicates must select the same keys on both sides, so both must order keys
 * alike. Numbers and temporals do everywhere. Text-like keys are compared by the byte (code point)
 * order of their canonical text on both sides: written plainly where the column already orders so (a
 * `_bin` or C collation, binary types, uuid), so its index serves the range, and otherwise as
 * `COLLATE "C"` / `CAST(… AS BINARY)` expressions, which scan that side's table per chunk (bounded by
 * MAX_SCANNED_CHUNKS). Between two servers of one engine a column with the same type and collation
 * on both sides keeps its own order, which both servers share.
 */
function planTable(t: TableSchema, src: VerifySide, dst: VerifySide, srcCols: Map<string, PhysicalColumn>, dstCols: Map<string, PhysicalColumn>): Plan {
  const inNode = t.columns.filter((c) => comparedInNode(c.type, src.engine, dst.engine));
  const keyColumns = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
  const own = keyColumns.map((c) => {
    const a = srcCols.get(c.name)!;
    const b = dstCols.get(c.name)!;
    if (src.engine === dst.engine && a.type === b.type && a.collation === b.collation) return [true, true];
    return [ownOrderIsByteOrder(src.engine, c.type, a), ownOrderIsByteOrder(dst.engine, c.type, b)];
  });
  const nodeColumns = t.columns.map((c) => ({ type: c.type, raw: readRaw(c.type) }));
  const side = (s: VerifySide, cols: Map<string, PhysicalColumn>, which: 0 | 1): SideTable => {
    const field = (c: Column) => fieldSql(s.engine, c.type, cols.get(c.name)!, column(s.engine, c));
    return {
      engine: s.engine,
      ref: tableRef(s.engine, s.tableId(t)),
      key: keyColumns.map((c, i) => keySql(s.engine, c.type, cols.get(c.name)!, column(s.engine, c), own[i]![which]!)),
      values: t.columns.map((c, i) => (nodeColumns[i]!.raw ? rawSql(s.engine, c.type, column(s.engine, c)) : field(c))),
      hash: rowHashSql(s.engine, t.columns.map(field)),
    };
  };
  return {
    method: inNode.length > 0 ? 'rows' : 'sql',
    ...(inNode.length > 0
      ? { note: `compared row by row: ${inNode.map((c) => `${c.name} (${c.type.kind})`).join(', ')} print differently in MySQL and Postgres` }
      : {}),
    source: side(src, srcCols, 0),
    target: side(dst, dstCols, 1),
    nodeColumns,
    nodeKey: keyColumns.map((c) => nodeColumns[t.columns.indexOf(c)]!),
    scans: own.some((o) => !o[0] || !o[1]),
  };
}

/** One side's running total: rows, and the sum of chunk checksums (sql) or chunk digests (rows). */
interface Tally {
  rows: number;
  sum: bigint;
}

async function verifyTable(
  t: TableSchema,
  src: VerifySide,
  dst: VerifySide,
  o: typeof DEFAULTS & VerifyOptions,
  estimate: () => Promise<number>,
): Promise<TableVerdict> {
  const [srcCols, dstCols] = await Promise.all([physicalColumns(src, src.tableId(t)), physicalColumns(dst, dst.tableId(t))]);
  const missing = t.columns.filter((c) => !srcCols.has(c.name) || !dstCols.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    const where = dstCols.size === 0 ? 'the target table does not exist' : `columns ${missing.join(', ')} are missing`;
    return { table: tableKey(t.source), source: '-', target: '-', equal: false, method: 'sql', note: where, rows: 0, differingRanges: [] };
  }
  const plan = planTable(t, src, dst, srcCols, dstCols);
  const rows = plan.scans ? Math.max(o.chunkRows, Math.ceil((await estimate()) / MAX_SCANNED_CHUNKS)) : o.chunkRows;
  const chunks = await chunksOf(src, plan.source, rows);
  const tallies: [Tally, Tally] = [
    { rows: 0, sum: 0n },
    { rows: 0, sum: 0n },
  ];
  const differing: DifferingRange[] = [];
  let textOnly = 0;
  for (const chunk of chunks) {
    o.signal?.throwIfAborted();
    const result = await compareChunk(plan, chunk, src, dst, o, tallies);
    if (result === 'text') textOnly++;
    else if (result) differing.push(result);
  }
  // Checksums that differ over rows that compare equal: values the sides print differently (json text, say), or a target that caught up.
  const text = textOnly > 0 ? `${textOnly} chunk(s) with differing checksums had equal rows when read` : undefined;
  const note = [plan.note, text].filter(Boolean).join('; ');
  const summary = (x: Tally) => `${x.rows}:${plan.method === 'sql' ? x.sum : BigInt.asUintN(64, x.sum).toString(16).padStart(16, '0')}`;
  return {
    table: tableKey(t.source),
    source: summary(tallies[0]),
    target: summary(tallies[1]),
    equal: differing.length === 0,
    method: plan.method,
    ...(note ? { note } : {}),
    rows: tallies[0].rows,
    differingRanges: differing,
  };
}

/**
 * One chunk: both sides' checksums (or rows), compared again while they differ, up to `recheck`
 * times; a persisting difference is read row by row. Returns the differing range, null when equal,
 * or 'text' when the checksums differed but the rows are equal.
 */
async function compareChunk(
  plan: Plan,
  chunk: Chunk,
  src: VerifySide,
  dst: VerifySide,
  o: typeof DEFAULTS,
  tallies: [Tally, Tally],
): Promise<DifferingRange | 'text' | null> {
  const readRows = async (): Promise<[EncodedRow[], EncodedRow[]]> => {
    const [s, d] = await Promise.all([run(src, rowsSql(plan.source, chunk)), run(dst, rowsSql(plan.target, chunk))]);
    const encode = (r: (string | null)[]) => encodeRow(r, plan.nodeKey, plan.nodeColumns);
    return [s.map(encode), d.map(encode)];
  };
  const range = (sourceRows: number, targetRows: number, keys?: DifferingKey[]): DifferingRange => ({
    from: keyText(chunk.from),
    to: keyText(chunk.to),
    sourceRows,
    targetRows,
    ...(keys ? { keys: keys.slice(0, KEYS_SHOWN), differingKeys: keys.length } : {}),
  });

  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(o.recheckDelayMs);
    const last = attempt >= o.recheck;
    if (plan.method === 'sql') {
      const [[s], [d]] = await Promise.all([run(src, checksumSql(plan.source, chunk)), run(dst, checksumSql(plan.target, chunk))]);
      const equal = s![0] === d![0] && s![1] === d![1];
      if (equal || last) {
        tallies[0].rows += Number(s![0]);
        tallies[0].sum += BigInt(s![1]!);
        tallies[1].rows += Number(d![0]);
        tallies[1].sum += BigInt(d![1]!);
      }
      if (equal) return null;
      if (!last) continue;
      // The databases disagree: the rows say where, or that the texts differed but the values do not.
      const [sr, dr] = await readRows();
      const keys = diffRows(sr, dr);
      // Equal rows under differing checksums only when the counts agree too (keys that print alike would hide a row).
      if (keys.length === 0 && s![0] === d![0] && sr.length === dr.length) return 'text';
      return range(Number(s![0]), Number(d![0]), keys);
    }
    const [sr, dr] = await readRows();
    const keys = diffRows(sr, dr);
    const equal = keys.length === 0 && sr.length === dr.length;
    if (equal || last) {
      tallies[0].rows += sr.length;
      tallies[0].sum += chunkDigest(sr);
      tallies[1].rows += dr.length;
      tallies[1].sum += chunkDigest(dr);
    }
    if (equal) return null;
    if (last) return range(sr.length, dr.length, keys);
  }
}

/** A chunk bound as printed: the key's text, or `(a, b)` for a composite key. */
function keyText(bound: readonly string[] | null): string | null {
  if (!bound) return null;
  return bound.length === 1 ? bound[0]! : `(${bound.join(', ')})`;
}
