import { tableKey, type ChangeEvent, type Op, type Transaction } from '../core/change-event.js';
import type { FerryEventBus, TableOps } from '../core/events.js';
import type { Position } from '../core/position.js';
import type { Sink, SinkTransaction } from '../core/sink.js';
import type { Source } from '../core/source.js';
import { batches, type BatchLimits } from './batcher.js';
import type { PauseGate } from './pause-gate.js';

export interface ApplierDeps {
  readonly source: Source;
  readonly sink: Sink;
  readonly events: FerryEventBus;
  readonly limits: BatchLimits;
  /** Called after every commit: the checkpoint moved. */
  readonly onCommit?: () => void;
  /** Paused, the applier starts no new target transaction. */
  readonly gate?: PauseGate;
  readonly signal?: AbortSignal;
}

/** Events per table and operation, for the metrics. */
class TableOpCounter {
  readonly #counts = new Map<string, { table: string; op: Op; events: number }>();

  add(events: readonly ChangeEvent[]): void {
    for (const e of events) {
      const table = tableKey(e.table);
      const key = `${table}\u0000${e.op}`;
      const entry = this.#counts.get(key);
      if (entry) entry.events++;
      else this.#counts.set(key, { table, op: e.op, events: 1 });
    }
  }

  list(): TableOps[] {
    return [...this.#counts.values()];
  }
}

/**
 * Applies transactions in source order. Each target commit carries the checkpoint of the last whole
 * source transaction in it; only then is the source told it may release what came before (DESIGN §3.3).
 * Pieces of one large source transaction share one target transaction, so readers never see half of it.
 */
export async function applyStream(stream: AsyncIterable<Transaction>, deps: ApplierDeps): Promise<void> {
  const { sink, source, events } = deps;
  let tx: SinkTransaction | null = null;
  let started = 0;
  let counts = { transactions: 0, events: 0 };
  let perTable = new TableOpCounter();
  let markers: { marker: string; position: Position; changesAfter: number }[] = [];
  try {
    for await (const batch of batches(stream, deps.limits)) {
      if (!tx) {
        if (deps.gate && deps.signal) await deps.gate.passed(deps.signal);
        tx = await sink.begin();
        started = performance.now();
        counts = { transactions: 0, events: 0 };
        perTable = new TableOpCounter();
        markers = [];
      }
      for (const t of batch) {
        if (t.schemaChange) {
          await tx.addColumns(t.schemaChange.table, t.schemaChange.addColumns);
          events.emit('schema-changed', { table: tableKey(t.schemaChange.table), addedColumns: t.schemaChange.addColumns.map((c) => c.name) });
        }
      }
      const changes = batch.flatMap((t) => t.events);
      if (changes.length > 0) await tx.write(changes);
      counts.events += changes.length;
      perTable.add(changes);
      for (const t of batch) {
        // A transaction counts once, with its last piece, and only when it changed replicated tables.
        if (!t.partial && (t.events.length > 0 || t.schemaChange)) {
          counts.transactions++;
          for (const m of markers) m.changesAfter++;
        }
        if (t.marker) markers.push({ marker: t.marker, position: t.position, changesAfter: 0 });
      }
      const last = batch[batch.length - 1]!;
      if (last.partial) continue;
      await tx.commit({ phase: 'stream', position: last.position });
      tx = null;
      await source.acknowledge(last.position);
      events.emit('batch-applied', { ...counts, perTable: perTable.list(), position: last.position, commitTime: last.commitTime, ms: performance.now() - started });
      for (const m of markers) events.emit('marker-applied', m);
      deps.onCommit?.();
    }
  } finally {
    await tx?.rollback();
  }
}
