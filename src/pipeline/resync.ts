import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { pickKey, tableKey, type Row } from '../core/change-event.js';
import { rowKey } from '../core/coalesce.js';
import type { FerryEventBus } from '../core/events.js';
import { FerryError } from '../core/errors.js';
import type { Heartbeat } from '../core/heartbeat.js';
import type { LiveRows, RowReader } from '../core/row-reader.js';
import type { LetterKey } from '../core/dead-letter.js';
import type { TableSchema } from '../core/schema.js';
import type { SourceCatalogue } from '../core/source-catalogue.js';
import type { ChunkInjected, ResyncStage } from './resync-stage.js';

/** One resync of one table: POST /tables/{schema.table}/resync, or the checkpoint's hold after a restart. */
export interface ResyncRun {
  readonly id: string;
  /** The source table, `schema.table`. */
  readonly table: string;
  /** ISO 8601, UTC: when it was asked for. */
  readonly since: string;
}

export interface ResyncDeps {
  readonly source: Heartbeat & LiveRows & Pick<SourceCatalogue, 'describeTables'>;
  readonly stage: ResyncStage;
  readonly events: FerryEventBus;
  readonly log: Logger;
  readonly chunkRows: number;
  /** The stream attempt's: the resync ends with it, and the next attempt starts it over. */
  readonly signal: AbortSignal;
}

/** The source's description of `name` now, or a fatal error naming it (dropped or renamed during the resync). */
async function describeNow(source: Pick<SourceCatalogue, 'describeTables'>, name: string): Promise<TableSchema> {
  const table = (await source.describeTables()).find((t) => tableKey(t.source) === name);
  if (!table) throw new FerryError('fatal', `${name} is no longer at the source: its resync cannot go on`, { hint: 'exclude it (tables.exclude) and restart' });
  return table;
}

/** Settles with what `listen` hands its callback, or rejects when `signal` aborts. */
function until<T>(signal: AbortSignal, listen: (resolve: (value: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      off();
      reject(new FerryError('retriable', 'the stream stopped during a resync'));
    };
    const off = listen((value) => {
      off();
      signal.removeEventListener('abort', stop);
      resolve(value);
    });
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

/** What a walk over a table did: chunks, rows injected, keys deleted; a replay's rows the target rejected again. */
export interface Walked {
  readonly chunks: number;
  readonly rows: number;
  readonly deleted: number;
  readonly rejected: number;
}

/**
 * Copies `run.table` again while the stream goes on (the algorithm: resync-stage.ts). Writes the
 * start watermark, then one more with no chunk, then reads each chunk (the next `chunkRows` rows in
 * key order, a statement of its own) before writing its watermark, and waits for the stage to meet
 * it before reading the next, past the table's end too until one lifts the table's hold. Settles
 * once that chunk is committed to the target.
 *
 * With `letters` (a replay of the table's dead letters: the key-set mode), each chunk is the next
 * `chunkRows` of their keys, in letter order, and nothing is emptied or held; it settles once the
 * chunk that marked the last letters is committed.
 */
export async function runResync(run: ResyncRun, d: ResyncDeps, restarted: boolean, letters?: readonly LetterKey[]): Promise<Walked> {
  const keys = letters && uniqueKeys(letters);
  if (keys?.length === 0) return { chunks: 0, rows: 0, deleted: 0, rejected: 0 };
  const started = performance.now();
  const prefix = `ferry resync ${run.id} ${randomUUID().slice(0, 8)} `;
  const marker = (n: number | 'start') => `${prefix}${n}`;
  const waiting = new Map<string, (injected: ChunkInjected | null) => void>();
  const applied = new Set<string>();
  const offApplied = d.events.on('marker-applied', ({ marker: m }) => {
    if (m.startsWith(prefix)) applied.add(m);
  });
  let rejected = 0;
  const offReplayed = d.events.on('letters-replayed', (r) => {
    if (r.marker?.startsWith(prefix)) rejected += r.rejected;
  });
  const meet = async (m: string): Promise<ChunkInjected | null> => {
    const met = until<ChunkInjected | null>(d.signal, (resolve) => {
      waiting.set(m, resolve);
      return () => waiting.delete(m);
    });
    met.catch(() => {});
    await d.source.beat(m);
    return met;
  };
  // Two connections: chunks on one, the rows the stream's updates need on the other, which the stream waits for.
  const readers: RowReader[] = [];
  const open = async () => {
    const reader = await d.source.openRowReader();
    readers.push(reader);
    return reader;
  };
  try {
    const ahead = await open();
    d.stage.begin(
      await describeNow(d.source, run.table),
      run.since,
      marker('start'),
      (m, injected) => waiting.get(m)?.(injected),
      (table, keys) => ahead.readKeys(table, keys),
      letters,
    );
    if (!keys) d.events.emit('resync-started', { ...run, restarted });
    await meet(marker('start'));
    // Described once the table was emptied in stream order: a column added later restarts the resync (the stage says so).
    const table = await describeNow(d.source, run.table);
    d.stage.retable(table);
    d.stage.expectBare(marker(0));
    await meet(marker(0));
    const reader = await open();
    let after: Row | null = null;
    let keysRead = 0; // a replay's
    let rows = 0;
    let deleted = 0;
    for (let chunk = 1; ; chunk++) {
      const m = marker(chunk);
      let reached: Row | null = after;
      if (keys) {
        const next = keys.slice(keysRead, keysRead + d.chunkRows);
        d.stage.expectChunk(m, { rows: await reader.readKeys(table, next), keys: next, last: keysRead + next.length >= keys.length });
      } else {
        const range = await reader.readChunk(table, after, d.chunkRows);
        const last = range[range.length - 1];
        if (last) reached = pickKey(Object.fromEntries(table.columns.map((c, i) => [c.name, last[i] ?? null])), table.primaryKey);
        d.stage.expectChunk(m, { rows: range, last: range.length < d.chunkRows });
      }
      const injected = (await meet(m))!;
      // Not injected (a parent's change in its window may have acted on its rows unlogged): the same range again.
      if (!injected.again) {
        after = reached;
        keysRead += d.chunkRows;
      }
      rows += injected.rows;
      deleted += injected.deleted;
      if (!keys) d.events.emit('resync-chunk', { id: run.id, table: run.table, chunks: chunk, rows, chunkRows: injected.rows, readAhead: injected.readAhead });
      if (!injected.done) continue;
      if (!applied.has(m)) await until<void>(d.signal, (resolve) => d.events.on('marker-applied', ({ marker: a }) => a === m && resolve()));
      if (!keys) d.events.emit('resync-done', { id: run.id, table: run.table, chunks: chunk, rows, ms: performance.now() - started });
      return { chunks: chunk, rows, deleted, rejected };
    }
  } catch (err) {
    d.stage.abandon();
    throw err;
  } finally {
    offApplied();
    offReplayed();
    await Promise.all(readers.map((r) => r.close()));
  }
}

/** The keys of `letters`, each once, in the order of its first letter. */
function uniqueKeys(letters: readonly LetterKey[]): Row[] {
  const keys = new Map<unknown, Row>();
  for (const l of letters) if (!keys.has(rowKey(l.key))) keys.set(rowKey(l.key), l.key);
  return [...keys.values()];
}
