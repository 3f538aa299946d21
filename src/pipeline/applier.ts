import { tableKey, type Transaction } from '../core/change-event.js';
import type { FerryEventBus } from '../core/events.js';
import type { Sink, SinkTransaction } from '../core/sink.js';
import type { Source } from '../core/source.js';
import { batches, type BatchLimits } from './batcher.js';

export interface ApplierDeps {
  readonly source: Source;
  readonly sink: Sink;
  readonly events: FerryEventBus;
  readonly limits: BatchLimits;
  /** Called after every commit: the checkpoint moved. */
  readonly onCommit?: () => void;
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
  try {
    for await (const batch of batches(stream, deps.limits)) {
      if (!tx) {
        tx = await sink.begin();
        started = performance.now();
        counts = { transactions: 0, events: 0 };
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
      counts.transactions += batch.filter((t) => !t.partial).length;
      const last = batch[batch.length - 1]!;
      if (last.partial) continue;
      await tx.commit({ phase: 'stream', position: last.position });
      tx = null;
      await source.acknowledge(last.position);
      events.emit('batch-applied', { ...counts, position: last.position, commitTime: last.commitTime, ms: performance.now() - started });
      deps.onCommit?.();
    }
  } finally {
    await tx?.rollback();
  }
}
