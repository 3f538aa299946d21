import { describe, expect, it } from 'vitest';
import { at, CUTOVER_REQUEST, cutoverOf, ended, ORDERS, quarantined } from '../helpers/cutover.js';

describe('a cutover while a table is held', () => {
  it('refuses to start, naming the table, its hold and the fix', () => {
    const { events, cutover } = cutoverOf();
    events.emit('phase', { phase: 'stopped' });
    events.emit('stream-started', { from: at(16n), tables: ['shop.orders'], holds: { 'shop.orders': quarantined } });
    const start = () => cutover.start(CUTOVER_REQUEST);
    expect(start).toThrow(
      /cannot cut over while a table is held: shop\.orders is quarantined since 2026-12-04T17:00:00\.000Z .*key \{"id":4\} \(check: violates check\)/,
    );
    expect(() => start()).toThrow(
      expect.objectContaining({ kind: 'config', hint: expect.stringMatching(/resync for each quarantined table \(shop\.orders\)/) }),
    );
    expect(cutover.view()).toBeNull();
    events.emit('table-hold', { table: 'shop.orders', hold: null });
    // Started once nothing is held (and then failing on what else it checks here: the stream is not running).
    expect(start()).toMatchObject({ state: 'failed', reason: expect.stringMatching(/not streaming/) });
  });

  it('refuses to start while a resync is asked for whose start has not committed its hold yet', async () => {
    const { resyncs, cutover } = cutoverOf();
    let finish = () => {};
    resyncs.attach({ tables: [ORDERS], run: () => new Promise<void>((resolve) => (finish = resolve)) }, undefined);
    const run = resyncs.request('shop.orders');
    expect(() => cutover.start(CUTOVER_REQUEST)).toThrow(new RegExp(`cannot cut over while a table is held: shop\\.orders is to be resynced \\(${run.id}`));
    finish();
    await new Promise((r) => setImmediate(r));
    cutover.start(CUTOVER_REQUEST);
    expect(await ended(cutover)).toMatchObject({ state: 'completed' });
  });

  it('refuses to start while a replay of dead letters runs', async () => {
    const { resyncs, cutover } = cutoverOf();
    let finish = () => {};
    resyncs.attach({ tables: [ORDERS], run: () => new Promise<void>((resolve) => (finish = resolve)) }, undefined);
    void resyncs.replay('shop.orders', 0);
    const run = resyncs.current!;
    expect(() => cutover.start(CUTOVER_REQUEST)).toThrow(
      new RegExp(`cannot cut over while a table is held: the dead letters of shop\\.orders are being replayed \\(${run.id}`),
    );
    finish();
    await new Promise((r) => setImmediate(r));
    expect(resyncs.current).toBeNull();
  });

  it('fails, unfencing the source, when the stream held a table during the drain (quarantined meanwhile)', async () => {
    const { events, cutover, calls } = cutoverOf();
    events.on('cutover-state', ({ state }) => {
      if (state === 'draining') events.emit('table-hold', { table: 'shop.orders', hold: quarantined });
    });
    cutover.start(CUTOVER_REQUEST);
    const view = await ended(cutover);
    expect(view).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/^cannot cut over while a table is held: shop\.orders is quarantined .*the source is writable again$/),
    });
    expect(calls).toEqual(['fence', 'unfence', 'unfence']);
  });

  it('completes where the stream commits once more before it stops, on a target that reads its checkpoint once and keeps it (Kafka)', async () => {
    const { cutover, calls } = cutoverOf();
    cutover.start(CUTOVER_REQUEST);
    expect(await ended(cutover)).toMatchObject({ state: 'completed', finalPosition: expect.any(String) });
    expect(calls).toEqual(['fence', 'stopped', 'recorded']);
  });
});
