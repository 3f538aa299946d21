import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../src/core/queue.js';

/** A queue of numbers where each item weighs its own value. */
const queueOf = (capacity: number) => new BoundedQueue<number>(capacity, (n) => n);

/** Whether a promise has settled by the time pending callbacks ran. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await tick();
  return settled;
}

async function drain<T>(q: BoundedQueue<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of q) out.push(item);
  return out;
}

describe('BoundedQueue push', () => {
  it('accepts items below capacity and reports false once the weight reaches it', () => {
    const q = queueOf(10);
    expect(q.push(4)).toBe(true);
    expect(q.push(5)).toBe(true);
    expect(q.weight).toBe(9);
    expect(q.push(1)).toBe(false);
    expect(q.weight).toBe(10);
  });

  it('still queues the item that took it over capacity', async () => {
    const q = queueOf(10);
    expect(q.push(25)).toBe(false);
    q.end();
    expect(await drain(q)).toEqual([25]);
  });

  it('refuses items after end', async () => {
    const q = queueOf(10);
    q.push(1);
    q.end();
    expect(q.push(2)).toBe(false);
    expect(await drain(q)).toEqual([1]);
  });
});

describe('BoundedQueue whenSpace', () => {
  it('resolves at once at or below half capacity', async () => {
    const q = queueOf(10);
    q.push(5);
    expect(await isSettled(q.whenSpace())).toBe(true);
  });

  it('waits until the consumer has drained the queue to half its capacity', async () => {
    const q = queueOf(4);
    for (let i = 0; i < 4; i++) q.push(1);
    const space = q.whenSpace();
    const consumer = q[Symbol.asyncIterator]();

    await consumer.next(); // weight 3
    expect(await isSettled(space)).toBe(false);
    await consumer.next(); // weight 2 = half
    expect(await isSettled(space)).toBe(true);
    expect(q.weight).toBe(2);
  });

  it('resolves when the queue ends', async () => {
    const q = queueOf(2);
    q.push(2);
    const space = q.whenSpace();
    expect(await isSettled(space)).toBe(false);
    q.end();
    expect(await isSettled(space)).toBe(true);
  });

  it('resolves when the queue fails', async () => {
    const q = queueOf(2);
    q.push(2);
    const space = q.whenSpace();
    q.fail(new Error('binlog reader died'));
    expect(await isSettled(space)).toBe(true);
  });
});

describe('BoundedQueue consumer', () => {
  it('delivers items in push order', async () => {
    const q = queueOf(100);
    [3, 1, 2].forEach((n) => q.push(n));
    q.end();
    expect(await drain(q)).toEqual([3, 1, 2]);
  });

  it('lets queued items drain after end, then finishes', async () => {
    const q = queueOf(100);
    q.push(1);
    q.push(2);
    q.end();
    const consumer = q[Symbol.asyncIterator]();
    expect(await consumer.next()).toEqual({ done: false, value: 1 });
    expect(await consumer.next()).toEqual({ done: false, value: 2 });
    expect(await consumer.next()).toEqual({ done: true, value: undefined });
  });

  it('wakes a waiting consumer when an item arrives', async () => {
    const q = queueOf(100);
    const next = q[Symbol.asyncIterator]().next();
    expect(await isSettled(next)).toBe(false);
    q.push(7);
    expect(await next).toEqual({ done: false, value: 7 });
  });

  it('wakes a waiting consumer when the queue ends', async () => {
    const q = queueOf(100);
    const next = q[Symbol.asyncIterator]().next();
    q.end();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it("throws the producer's error to a waiting consumer", async () => {
    const q = queueOf(100);
    const next = q[Symbol.asyncIterator]().next();
    const error = new Error('binlog reader died');
    q.fail(error);
    await expect(next).rejects.toBe(error);
  });

  it("throws the producer's error before items still queued", async () => {
    const q = queueOf(100);
    q.push(1);
    q.push(2);
    const error = new Error('binlog reader died');
    q.fail(error);
    await expect(drain(q)).rejects.toBe(error);
  });

  it('keeps the first error when failed twice', async () => {
    const q = queueOf(100);
    const first = new Error('first');
    q.fail(first);
    q.fail(new Error('second'));
    await expect(drain(q)).rejects.toBe(first);
  });
});
