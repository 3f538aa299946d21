import type { Transaction } from '../core/change-event.js';

export interface BatchLimits {
  readonly maxRows: number;
  readonly maxMs: number;
}

/**
 * Groups consecutive source transactions into batches. A batch closes as soon as no further
 * transaction is waiting, so a stream that keeps up applies each transaction at once (latency), and
 * one that is behind, with transactions queued, gets large batches (throughput). It also closes at
 * `maxRows` events (transactions are never split here, so a batch may exceed it) and `maxMs` after
 * it began. A schema change travels alone. A batch may end inside a large transaction (its last item
 * is `partial`); the applier then keeps the target transaction open for the rest.
 */
export async function* batches(source: AsyncIterable<Transaction>, limits: BatchLimits): AsyncGenerator<Transaction[]> {
  const it = source[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<Transaction>> | null = null;
  let batch: Transaction[] = [];
  let rows = 0;
  let deadline = 0;
  try {
    for (;;) {
      if (!next) {
        next = it.next();
        // The batch may be handed on before this read is awaited (its deadline passed): a read that
        // fails meanwhile is taken when it is awaited, not left as an unhandled rejection.
        next.catch(() => {});
      }
      const result = batch.length === 0 ? await next : Date.now() >= deadline ? 'closed' : await ready(next);
      if (result === 'closed') {
        yield batch;
        batch = [];
        rows = 0;
        continue;
      }
      next = null;
      if (result.done) break;
      const t = result.value;
      if (t.schemaChange) {
        if (batch.length) yield batch;
        yield [t];
        batch = [];
        rows = 0;
        continue;
      }
      if (batch.length === 0) deadline = Date.now() + limits.maxMs;
      batch.push(t);
      rows += t.events.length;
      if (rows >= limits.maxRows || t.partial) {
        yield batch;
        batch = [];
        rows = 0;
      }
    }
    if (batch.length) yield batch;
  } finally {
    // With a read still pending the source is blocked inside it; aborting the stream ends it, and
    // awaiting return() here would wait for that read forever.
    if (!next) await it.return?.();
  }
}

/** `p`'s result when it is at hand (already read ahead), or 'closed' when it would take a turn of the event loop. */
async function ready<T>(p: Promise<T>): Promise<T | 'closed'> {
  let timer: NodeJS.Immediate | undefined;
  const later = new Promise<'closed'>((resolve) => (timer = setImmediate(() => resolve('closed'))));
  try {
    return await Promise.race([p, later]);
  } finally {
    clearImmediate(timer);
  }
}
