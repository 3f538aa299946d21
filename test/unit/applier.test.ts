import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Transaction } from '../../src/core/change-event.js';
import { FerryEventBus, type FerryEvents } from '../../src/core/events.js';
import type { Position } from '../../src/core/position.js';
import type { Sink, SinkTransaction } from '../../src/core/sink.js';
import { applyStream } from '../../src/pipeline/applier.js';

const orders = { schema: 'shop', name: 'orders' };
const at = (pos: number): Position => ({ kind: 'mysql', file: 'binlog.000001', pos });
const insert = (id: number): ChangeEvent => ({ op: 'c', table: orders, key: { id }, before: null, after: { id } });

async function* stream(transactions: Transaction[]): AsyncIterable<Transaction> {
  yield* transactions;
}

/** One transaction at a time, the next only after a pause: each one is a batch of its own. */
async function* oneByOne(transactions: Transaction[]): AsyncIterable<Transaction> {
  for (const t of transactions) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    yield t;
  }
}

/** A sink that only records commits, and a source that only records acknowledgements: the applier's bookkeeping alone. */
async function apply(transactions: Transaction[], from = stream) {
  const committed: Position[] = [];
  const acknowledged: Position[] = [];
  const written: Transaction[][] = [];
  const tx: SinkTransaction = {
    write: async (batch) => void written.push([...batch]),
    addColumns: async () => {},
    setForeignKeys: async () => {},
    commit: async (c) => void committed.push(c.position!),
    rollback: async () => {},
  };
  const events = new FerryEventBus();
  const applied: FerryEvents['batch-applied'][] = [];
  const markers: FerryEvents['marker-applied'][] = [];
  events.on('batch-applied', (b) => applied.push(b));
  events.on('marker-applied', (m) => markers.push(m));
  await applyStream(from(transactions), {
    source: { acknowledge: async (p: Position) => void acknowledged.push(p) },
    sink: { begin: async () => tx } as unknown as Sink,
    events,
    limits: { maxRows: 1000, maxMs: 1000 },
  });
  return { committed, acknowledged, applied, markers, written };
}

describe('applyStream bookkeeping', () => {
  it('counts a transaction handed on in pieces once, even when its last piece is empty; heartbeats not at all', async () => {
    const { applied, committed, acknowledged } = await apply([
      { events: [insert(1), insert(2)], position: at(100), commitTime: new Date(), partial: true },
      { events: [], position: at(200), commitTime: new Date() }, // the rest of it: nothing left
      { events: [], position: at(300), commitTime: new Date(), heartbeat: true },
    ]);
    expect(applied.reduce((n, b) => n + b.transactions, 0)).toBe(1);
    expect(applied.flatMap((b) => b.perTable)).toEqual([{ table: 'shop.orders', op: 'c', events: 2 }]);
    expect(committed.at(-1)).toEqual(at(300));
    expect(acknowledged).toEqual(committed);
  });

  it('reports a marker with its own position and the transactions with changes after it in the same commit', async () => {
    const { markers } = await apply([
      { events: [insert(1)], position: at(100), commitTime: new Date() },
      { events: [], position: at(200), commitTime: new Date(), marker: 'cutover:x' },
      { events: [], position: at(300), commitTime: new Date() },
      { events: [insert(2)], position: at(400), commitTime: new Date() },
    ]);
    expect(markers).toEqual([{ marker: 'cutover:x', position: at(200), changesAfter: 1 }]);
  });

  it('makes no commit for a transaction that holds nothing for the target; the next commit carries its position on', async () => {
    // Another database's transactions, or ferry's own checkpoint writes read back from a log the target shares.
    const idle = (pos: number): Transaction => ({ events: [], position: at(pos), commitTime: new Date() });
    const { committed, acknowledged, applied } = await apply(
      [
        idle(100),
        idle(200),
        { events: [insert(1)], position: at(300), commitTime: new Date() },
        idle(400),
        { events: [], position: at(500), commitTime: new Date(), heartbeat: true },
        idle(600),
        { events: [], position: at(700), commitTime: new Date(), marker: 'cutover:x', heartbeat: true },
        idle(800),
      ],
      oneByOne,
    );
    expect(committed).toEqual([at(300), at(500), at(700)]);
    expect(acknowledged).toEqual(committed);
    expect(applied.map((b) => b.transactions)).toEqual([1, 0, 0]);
  });

  it('writes and commits a transaction that only sets or lifts a table hold: the hold commits with it', async () => {
    const idle = (pos: number): Transaction => ({ events: [], position: at(pos), commitTime: new Date() });
    const resync: Transaction = { ...idle(200), hold: { table: 'shop.orders', hold: { state: 'resyncing', since: '2026-12-04T17:00:00.000Z' } } };
    const lift: Transaction = { ...idle(400), hold: { table: 'shop.orders', hold: null } };
    const { committed, written, applied } = await apply([idle(100), resync, idle(300), lift], oneByOne);
    expect(committed).toEqual([at(200), at(400)]);
    expect(written).toEqual([[resync], [lift]]);
    expect(applied.map((b) => b.transactions)).toEqual([0, 0]);
  });

  it('commits at the end of an idle transaction that shares a batch with changes: a whole transaction', async () => {
    const { committed } = await apply([
      { events: [insert(1)], position: at(100), commitTime: new Date() },
      { events: [], position: at(200), commitTime: new Date() },
    ]);
    expect(committed).toEqual([at(200)]);
  });
});
