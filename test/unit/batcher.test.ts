import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Transaction } from '../../src/core/change-event.js';
import { batches, type BatchLimits } from '../../src/pipeline/batcher.js';

const table = { schema: 'app', name: 't' };
const event: ChangeEvent = { op: 'c', table, key: { id: 1 }, before: null, after: { id: 1 } };

/** A transaction identified by its binlog offset, with `events` change events. */
function tx(id: number, options: { events?: number; partial?: boolean; schemaChange?: boolean } = {}): Transaction {
  return {
    events: Array.from({ length: options.events ?? 1 }, () => event),
    position: { kind: 'mysql', file: 'bin.000001', pos: id },
    commitTime: new Date(0),
    ...(options.partial ? { partial: true } : {}),
    ...(options.schemaChange ? { schemaChange: { table, addColumns: [] } } : {}),
  };
}

/** Yields the transactions in order; a number in the list is a pause of that many milliseconds. */
async function* source(items: readonly (Transaction | number)[]): AsyncGenerator<Transaction> {
  for (const item of items) {
    if (typeof item === 'number') await sleep(item);
    else yield item;
  }
}

const idOf = (t: Transaction) => (t.position.kind === 'mysql' ? t.position.pos : -1);

/** Runs the batcher to the end; each batch as the list of its transaction ids. */
async function batchIds(items: readonly (Transaction | number)[], limits: BatchLimits): Promise<number[][]> {
  const out: number[][] = [];
  for await (const batch of batches(source(items), limits)) out.push(batch.map(idOf));
  return out;
}

const patient = { maxRows: 100, maxMs: 10_000 };

describe('batches', () => {
  it('yields nothing for an empty source', async () => {
    expect(await batchIds([], patient)).toEqual([]);
  });

  it('groups consecutive transactions up to maxRows events', async () => {
    expect(await batchIds([tx(1), tx(2), tx(3), tx(4), tx(5)], { maxRows: 2, maxMs: 10_000 })).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('counts events, not transactions, towards maxRows', async () => {
    expect(await batchIds([tx(1, { events: 2 }), tx(2, { events: 2 }), tx(3), tx(4)], { maxRows: 4, maxMs: 10_000 })).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('closes a batch at once when no further transaction is waiting, so a stream that keeps up is not held back', async () => {
    expect(await batchIds([tx(1), 20, tx(2)], patient)).toEqual([[1], [2]]);
    expect(await batchIds([tx(1), tx(2), 150, tx(3)], { maxRows: 100, maxMs: 30 })).toEqual([[1, 2], [3]]);
  });

  it('closes a batch maxMs after it began while transactions keep arriving', async () => {
    async function* busy(): AsyncGenerator<Transaction> {
      for (let id = 1; id <= 20; id++) {
        const until = Date.now() + 5;
        while (Date.now() < until); // decoding that keeps the source busy: each transaction is at hand
        yield tx(id);
      }
    }
    const sizes: number[] = [];
    for await (const batch of batches(busy(), { maxRows: 100, maxMs: 30 })) sizes.push(batch.length);
    expect(sizes.reduce((a, b) => a + b)).toBe(20);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
  });

  it('delivers a timed-out batch before the source produces more', async () => {
    // The source produces its second transaction only once the first has been delivered: without the
    // batch timing out, nothing would ever arrive (the test times out), however slow the machine.
    let delivered = () => {};
    const first = new Promise<void>((resolve) => (delivered = resolve));
    async function* held(): AsyncGenerator<Transaction> {
      yield tx(1);
      await first;
      yield tx(2);
    }
    const got: number[][] = [];
    for await (const batch of batches(held(), { maxRows: 100, maxMs: 30 })) {
      got.push(batch.map(idOf));
      delivered();
    }
    expect(got).toEqual([[1], [2]]);
  });

  it('ends a batch after a partial transaction', async () => {
    expect(await batchIds([tx(1), tx(2, { partial: true }), tx(3)], patient)).toEqual([[1, 2], [3]]);
  });

  it('sends a schema change alone, after the batch before it', async () => {
    expect(await batchIds([tx(1), tx(2), tx(3, { schemaChange: true }), tx(4)], patient)).toEqual([[1, 2], [3], [4]]);
  });

  it('yields no empty batch around a leading schema change', async () => {
    expect(await batchIds([tx(1, { schemaChange: true }), tx(2, { schemaChange: true })], patient)).toEqual([[1], [2]]);
  });

  it('closes the source when the consumer stops early', async () => {
    let closed = false;
    async function* endless(): AsyncGenerator<Transaction> {
      try {
        for (let i = 1; ; i++) yield tx(i);
      } finally {
        closed = true;
      }
    }
    for await (const batch of batches(endless(), { maxRows: 2, maxMs: 10_000 })) {
      expect(batch.map(idOf)).toEqual([1, 2]);
      break;
    }
    expect(closed).toBe(true);
  });

  it('a read that fails while the batch before it is being applied surfaces at the next read, not as an unhandled rejection', async () => {
    async function* failing(): AsyncGenerator<Transaction> {
      yield tx(1);
      await sleep(20);
      throw new Error('connection lost');
    }
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // maxMs 0: the batch is due at once, so it is handed on while the next read is still pending.
      const it = batches(failing(), { maxRows: 1000, maxMs: 0 });
      const first = await it.next();
      expect((first.value as Transaction[]).map(idOf)).toEqual([1]);
      await sleep(60); // the batch is being applied; meanwhile the read fails
      expect(unhandled).toEqual([]);
      await expect(it.next()).rejects.toThrow('connection lost');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
