import { tableKey, type Row, type Value } from '../core/change-event.js';
import type { SnapshotProgress } from '../core/checkpoint.js';
import type { FerryEventBus } from '../core/events.js';
import { comparePositions, earliest, type Position } from '../core/position.js';
import type { TableSchema } from '../core/schema.js';
import type { Sink, TablePrep } from '../core/sink.js';
import type { SnapshotReader, SnapshotSession, TableReader } from '../core/snapshot-reader.js';
import type { SourceCatalogue } from '../core/source-catalogue.js';
import type { SourceLog } from '../core/source-log.js';
import { FerryError } from '../core/errors.js';
import { forEachConcurrently } from '../core/concurrency.js';
import type { TableTransforms } from '../transforms/table-transforms.js';

export interface SnapshotDeps {
  /** Its readers, the log's head when the copy ends, and row estimates for progress. */
  readonly source: SnapshotReader & Pick<SourceLog, 'headPosition'> & Pick<SourceCatalogue, 'estimateRows'>;
  readonly sink: Sink;
  readonly events: FerryEventBus;
  /** The source's tables; the sink gets them as `transforms` makes them. */
  readonly tables: readonly TableSchema[];
  readonly transforms: TableTransforms;
  readonly fresh: boolean;
  readonly tablePrep: TablePrep;
  readonly parallelism: number;
  readonly chunkRows: number;
  readonly signal: AbortSignal;
}

export class SnapshotInterrupted extends Error {}

const TEXT_CHUNK_FACTOR = 4;

/**
 * Copies every selected table in primary-key chunks, committing each chunk with its progress, so an
 * interrupted snapshot resumes after its last committed chunk. Each table reader has its own
 * consistent view and binlog position; streaming then starts at the earliest of them (DESIGN §3.5):
 * full-row upserts replayed from there converge on the source's state.
 *
 * Until the stream passes the source log's head as it is when the copy ends (Checkpoint.overlapEnd),
 * the target may hold rows newer than the changes replayed: a delete or column-only update that finds
 * no row there is a replay. Every reader's view is older than that head (a resumed Postgres reader
 * sees the present, later than the position it reports), so past it a miss means the target diverged.
 */
export async function runSnapshot(deps: SnapshotDeps): Promise<Position> {
  const { source, sink, tables } = deps;
  const targets = tables.map((t) => deps.transforms.target(t));
  const started = performance.now();
  if (deps.fresh) {
    await sink.prepare(targets, deps.tablePrep, 'snapshot');
    if (deps.tablePrep === 'create' || deps.tablePrep === 'none') await refuseNonEmptyTargets(sink, targets);
    await sink.beginSnapshot();
  } else {
    await sink.prepare(targets, deps.tablePrep === 'none' ? 'none' : 'create', 'snapshot');
  }
  let progress = new Map((await sink.loadSnapshotProgress()).map((p) => [p.table, p]));
  const keyless = tables.filter((t) => t.primaryKey.length === 0 && !progress.get(tableKey(t.source))?.done);
  if (progress.size > 0 && keyless.length > 0) {
    // A table without a key is copied in one consistent pass with the slot's start; an interrupted
    // snapshot of it cannot resume, so every table starts over (the new slot starts elsewhere).
    deps.events.emit('snapshot-restarted', {
      reason: `${keyless.map((t) => tableKey(t.source)).join(', ')} ha${keyless.length === 1 ? 's' : 've'} no primary key and cannot resume`,
    });
    await sink.prepare(targets, 'truncate', 'snapshot');
    await sink.beginSnapshot();
    progress = new Map();
  }
  const todo = tables.filter((t) => !progress.get(tableKey(t.source))?.done);
  // A snapshot interrupted before its first chunk committed has nothing to resume: it starts fresh.
  const purpose = deps.fresh || progress.size === 0 ? 'fresh' : 'resume';
  const session = await source.openSnapshot(purpose);
  try {
    await forEachConcurrently(todo, deps.parallelism, (t) => copyTable(deps, session, t, progress.get(tableKey(t.source))));
  } finally {
    await session.close();
  }

  const final = await sink.loadSnapshotProgress();
  let position: Position | undefined;
  for (const p of final) position = earliest(position, p.position);
  position ??= await source.streamStartNow();
  const head = await source.headPosition();
  await sink.finishSnapshot(targets, { phase: 'stream', position, ...(comparePositions(head, position) > 0 ? { overlapEnd: head } : {}) });
  deps.events.emit('snapshot-done', { rows: final.reduce((n, p) => n + p.rows, 0), ms: performance.now() - started, position });
  return position;
}

/**
 * A fresh snapshot loads with COPY; rows already in a target table would collide or silently mix. A
 * target without a reader (a topic) has no rows to find: the snapshot's messages follow whatever it holds.
 */
async function refuseNonEmptyTargets(sink: Sink, tables: readonly TableSchema[]): Promise<void> {
  for (const t of tables) {
    if (sink.reader && (await sink.reader.readRows(t, null, 1)).length > 0) {
      throw new FerryError('config', `target table ${t.target.schema}.${t.target.name} already has rows and a fresh snapshot would copy into it`, {
        hint: 'set snapshot.tablePrep: truncate or drop-and-create to replace them, or empty the table',
      });
    }
  }
}

/** Where a table's copy stands: what its committed chunks hold, and the position it is consistent from. */
interface TableCopy {
  readonly name: string;
  readonly position: Position;
  rows: number;
  lastKey: Row | null;
}

async function copyTable(deps: SnapshotDeps, session: SnapshotSession, table: TableSchema, previous: SnapshotProgress | undefined): Promise<void> {
  const name = tableKey(table.source);
  const started = performance.now();
  const reader = await session.openReader();
  try {
    // A resumed table keeps the earliest position any of its chunks was read at.
    const copy: TableCopy = { name, position: earliest(previous?.position, reader.position), rows: previous?.rows ?? 0, lastKey: previous?.lastKey ?? null };
    deps.events.emit('snapshot-table-started', { table: name, estimatedRows: await deps.source.estimateRows(table), resumedRows: copy.rows });
    // The source's bulk text reaches the target undecoded: only rows the transform passes as they are may go that way.
    if (reader.readChunkText && deps.transforms.passesRows(table) && deps.sink.loadsSourceText?.(deps.transforms.target(table)))
      await copyAsText(deps, reader, table, copy);
    else await copyAsRows(deps, reader, table, copy);
    deps.events.emit('snapshot-table-done', { table: name, rows: copy.rows, ms: performance.now() - started });
  } finally {
    await reader.close();
  }
}

/** Chunks read as rows, made the target's by the transform and loaded by the sink, the next chunk read while this one loads. */
async function copyAsRows(deps: SnapshotDeps, reader: TableReader, table: TableSchema, copy: TableCopy): Promise<void> {
  const { sink, events, chunkRows } = deps;
  const target = deps.transforms.target(table);
  const where = deps.transforms.pushdown(table);
  let chunk = await reader.readChunk(table, copy.lastKey, chunkRows, where);
  for (;;) {
    if (deps.signal.aborted) throw new SnapshotInterrupted(`snapshot stopped before ${copy.name} was complete`);
    const done = chunk.length < chunkRows;
    if (chunk.length > 0) copy.lastKey = keyOf(table, chunk[chunk.length - 1]!);
    const next = done ? null : reader.readChunk(table, copy.lastKey, chunkRows, where);
    next?.catch(() => {});
    copy.rows += chunk.length;
    await sink.loadChunk(target, deps.transforms.chunk(table, chunk), {
      table: copy.name,
      lastKey: copy.lastKey,
      rows: copy.rows,
      done,
      position: copy.position,
    });
    events.emit('snapshot-chunk-loaded', { table: copy.name, rows: chunk.length, totalRows: copy.rows });
    if (!next) return;
    chunk = await next;
  }
}

/**
 * Chunks streamed from the source's bulk text straight into the target's, never decoded in between.
 * They never sit in memory, so they are TEXT_CHUNK_FACTOR times larger: each chunk boundary stalls
 * the stream while the chunk commits.
 */
async function copyAsText(deps: SnapshotDeps, reader: TableReader, table: TableSchema, copy: TableCopy): Promise<void> {
  const { sink, events } = deps;
  const chunkRows = deps.chunkRows * TEXT_CHUNK_FACTOR;
  for (let done = false; !done; ) {
    if (deps.signal.aborted) throw new SnapshotInterrupted(`snapshot stopped before ${copy.name} was complete`);
    let rows = 0;
    let lastKey = copy.lastKey;
    await sink.loadChunkText!(deps.transforms.target(table), reader.readChunkText!(table, copy.lastKey, chunkRows), (read) => {
      rows = read.rows;
      lastKey = read.lastKey ?? copy.lastKey;
      done = read.rows < chunkRows;
      return { table: copy.name, lastKey, rows: copy.rows + rows, done, position: copy.position };
    });
    // Only now is the chunk committed.
    copy.rows += rows;
    copy.lastKey = lastKey;
    events.emit('snapshot-chunk-loaded', { table: copy.name, rows, totalRows: copy.rows });
  }
}

/** The primary key of a snapshot row (its values in column order). */
function keyOf(table: TableSchema, values: readonly Value[]): Row {
  return Object.fromEntries(table.primaryKey.map((name) => [name, values[table.columns.findIndex((c) => c.name === name)] ?? null]));
}
