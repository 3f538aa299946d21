import type { Transaction } from '../core/change-event.js';

export interface BatchLimits {
  readonly maxRows: number;
  readonly maxMs: number;
}

/**
 * Groups consecutive source transactions into batches, closing one when it reaches `maxRows` events
 * (transactions are never split here, so a batch may exceed it) or `maxMs` after it began. A schema change travels alone. A batch may end inside a large transaction
 * (its last item is `partial`); the applier then keeps the target transaction open for the rest.
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
      const result = batch.length === 0 ? await next : await raceDeadline(next, deadline);
      if (result === 'timeout') {
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

async function raceDeadline<T>(p: Promise<T>, deadline: number): Promise<T | 'timeout'> {
  const ms = deadline - Date.now();
  if (ms <= 0) return 'timeout';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
