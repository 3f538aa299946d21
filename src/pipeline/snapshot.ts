import { pickKey, tableKey } from '../core/change-event.js';
import type { SnapshotProgress } from '../core/checkpoint.js';
import type { FerryEventBus } from '../core/events.js';
import { earliest, type Position } from '../core/position.js';
import type { TableSchema } from '../core/schema.js';
import type { Sink, TablePrep } from '../core/sink.js';
import type { SnapshotSession, Source } from '../core/source.js';
import { FerryError } from '../errors.js';

export interface SnapshotDeps {
  readonly source: Source;
  readonly sink: Sink;
  readonly events: FerryEventBus;
  readonly tables: readonly TableSchema[];
  readonly fresh: boolean;
  readonly tablePrep: TablePrep;
  readonly parallelism: number;
  readonly chunkRows: number;
  readonly signal: AbortSignal;
}

export class SnapshotInterrupted extends Error {}

/**
 * Copies every selected table in primary-key chunks, committing each chunk with its progress, so an
 * interrupted snapshot resumes after its last committed chunk. Each table reader has its own
 * consistent view and binlog position; streaming then starts at the earliest of them (DESIGN §3.5):
 * full-row upserts replayed from there converge on the source's state.
 */
export async function runSnapshot(deps: SnapshotDeps): Promise<Position> {
  const { source, sink, tables } = deps;
  const started = performance.now();
  if (deps.fresh) {
    await sink.prepare(tables, deps.tablePrep);
    if (deps.tablePrep === 'create' || deps.tablePrep === 'none') await refuseNonEmptyTargets(sink, tables);
    await sink.beginSnapshot();
  } else {
    await sink.prepare(tables, deps.tablePrep === 'none' ? 'none' : 'create');
  }
  let progress = new Map((await sink.loadSnapshotProgress()).map((p) => [p.table, p]));
  const keyless = tables.filter((t) => t.primaryKey.length === 0 && !progress.get(tableKey(t.source))?.done);
  if (progress.size > 0 && keyless.length > 0) {
    // A table without a key is copied in one consistent pass with the slot's start; an interrupted
    // snapshot of it cannot resume, so every table starts over (the new slot starts elsewhere).
    deps.events.emit('snapshot-restarted', { reason: `${keyless.map((t) => tableKey(t.source)).join(', ')} ha${keyless.length === 1 ? 's' : 've'} no primary key and cannot resume` });
    await sink.prepare(tables, 'truncate');
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
  await sink.finishSnapshot(tables, { phase: 'stream', position });
  deps.events.emit('snapshot-done', { rows: final.reduce((n, p) => n + p.rows, 0), ms: performance.now() - started, position });
  return position;
}

/** A fresh snapshot loads with COPY; rows already in a target table would collide or silently mix. */
async function refuseNonEmptyTargets(sink: Sink, tables: readonly TableSchema[]): Promise<void> {
  for (const t of tables) {
    if ((await sink.readRows(t, null, 1)).length > 0) {
      throw new FerryError('config', `target table ${t.target.schema}.${t.target.name} already has rows and a fresh snapshot would copy into it`, {
        hint: 'set snapshot.tablePrep: truncate or drop-and-create to replace them, or empty the table',
      });
    }
  }
}

async function copyTable(deps: SnapshotDeps, session: SnapshotSession, table: TableSchema, previous: SnapshotProgress | undefined): Promise<void> {
  const { source, sink, events, chunkRows } = deps;
  const name = tableKey(table.source);
  const started = performance.now();
  const reader = await session.openReader();
  try {
    // A resumed table keeps the earliest position any of its chunks was read at.
    const position = earliest(previous?.position, reader.position);
    let rows = previous?.rows ?? 0;
    let lastKey = previous?.lastKey ?? null;
    events.emit('snapshot-table-started', { table: name, estimatedRows: await source.estimateRows(table), resumedRows: rows });
    let chunk = await reader.readChunk(table, lastKey, chunkRows);
    for (;;) {
      if (deps.signal.aborted) throw new SnapshotInterrupted(`snapshot stopped before ${name} was complete`);
      const done = chunk.length < chunkRows;
      if (chunk.length > 0) lastKey = pickKey(chunk[chunk.length - 1]!, table.primaryKey);
      // Read the next chunk while this one loads.
      const next = done ? null : reader.readChunk(table, lastKey, chunkRows);
      next?.catch(() => {});
      rows += chunk.length;
      await sink.loadChunk(table, chunk, { table: name, lastKey, rows, done, position });
      events.emit('snapshot-chunk-loaded', { table: name, rows: chunk.length, totalRows: rows });
      if (!next) break;
      chunk = await next;
    }
    events.emit('snapshot-table-done', { table: name, rows, ms: performance.now() - started });
  } finally {
    await reader.close();
  }
}

/** Runs `work` over items with at most `limit` in flight; the first failure stops new work and is thrown. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let index = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && index < items.length) {
      const item = items[index++]!;
      try {
        await work(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure instanceof Error ? failure : new FerryError('fatal', String(failure));
}
