import { describe, expect, it } from 'vitest';
import { FerryEventBus } from '../../src/core/events.js';
import type { Position } from '../../src/core/position.js';
import { FerryMetrics } from '../../src/metrics/metrics.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';
import { PauseGate } from '../../src/core/pause-gate.js';

const at = (file: string, pos: number): Position => ({ kind: 'mysql', file, pos });

function applied(bus: FerryEventBus, commitTime: Date, position = at('binlog.000001', 100)): void {
  bus.emit('batch-applied', { transactions: 1, events: 1, perTable: [{ table: 'shop.orders', op: 'c', events: 1 }], position, commitTime, ms: 3 });
}

describe('LiveStatus lag', () => {
  it('is unknown until something is applied, and then the source clock minus the commit time', () => {
    let now = Date.parse('2026-11-21T10:00:10Z');
    const bus = new FerryEventBus();
    const status = new LiveStatus('p', bus, () => now);
    expect(status.lagSeconds()).toBeNull();
    bus.emit('phase', { phase: 'streaming' });
    expect(status.readiness(5)).toMatchObject({ ready: false });
    applied(bus, new Date('2026-11-21T10:00:09.500Z'));
    expect(status.lagSeconds()).toBeCloseTo(0.5);
    expect(status.readiness(5).ready).toBe(true);
    now += 10_000; // nothing applied for ten seconds: the lag grows with the clock
    expect(status.lagSeconds()).toBeCloseTo(10.5);
    expect(status.readiness(5)).toMatchObject({ ready: false, reason: expect.stringMatching(/above 5 s/) });
  });

  it('is measured on the source clock: a source clock an hour ahead of ours does not read as an hour of lag', () => {
    const ours = Date.parse('2026-11-21T10:00:00Z');
    const hour = 3_600_000;
    const bus = new FerryEventBus();
    const status = new LiveStatus('p', bus, () => ours);
    bus.emit('heartbeat', { clockOffsetMs: hour, head: at('binlog.000001', 200), retainedBytes: null });
    // The source stamped the heartbeat 200 ms ago by its own clock.
    applied(bus, new Date(ours + hour - 200));
    expect(status.lagSeconds()).toBeCloseTo(0.2);
    // …and one an hour behind ours does not read as negative (or zero) lag when ferry is behind.
    bus.emit('heartbeat', { clockOffsetMs: -hour, head: at('binlog.000001', 200), retainedBytes: null });
    applied(bus, new Date(ours - hour - 7000));
    expect(status.lagSeconds()).toBeCloseTo(7);
  });

  it('tells bytes behind within one binlog file, and nothing across files', () => {
    const bus = new FerryEventBus();
    const status = new LiveStatus('p', bus);
    applied(bus, new Date(), at('binlog.000001', 100));
    expect(status.lagBytes()).toBeNull(); // no head read yet
    bus.emit('heartbeat', { clockOffsetMs: 0, head: at('binlog.000001', 350), retainedBytes: null });
    expect(status.lagBytes()).toBe(250);
    bus.emit('heartbeat', { clockOffsetMs: 0, head: at('binlog.000002', 4), retainedBytes: null });
    expect(status.lagBytes()).toBeNull();
  });
});

describe('LiveStatus holds', () => {
  it('is not ready while a table is quarantined, naming it, and shows each hold in /status', () => {
    const bus = new FerryEventBus();
    const status = new LiveStatus('orders', bus);
    bus.emit('phase', { phase: 'streaming' });
    applied(bus, new Date());
    const quarantined = {
      state: 'quarantined',
      since: '2026-12-04T17:00:00.000Z',
      position: at('binlog.000001', 90),
      key: { id: 7 },
      reason: 'check',
      message: 'violates check constraint',
    } as const;
    bus.emit('stream-started', { from: at('binlog.000001', 90), tables: ['shop.orders', 'shop.items'], holds: { 'shop.items': quarantined } });
    expect(status.readiness(5)).toMatchObject({
      ready: false,
      quarantined: ['shop.items'],
      reason: expect.stringMatching(/quarantined .*: shop\.items; .*resync/),
    });
    bus.emit('table-hold', { table: 'shop.orders', hold: { state: 'resyncing', since: '2026-12-04T17:01:00.000Z' } });
    expect(status.toJSON().holds).toEqual({
      'shop.items': { ...quarantined, position: 'binlog.000001:90' },
      'shop.orders': { state: 'resyncing', since: '2026-12-04T17:01:00.000Z' },
    });
    bus.emit('table-hold', { table: 'shop.items', hold: null });
    expect(status.readiness(5).ready).toBe(true);
    expect(Object.keys(status.toJSON().holds)).toEqual(['shop.orders']);
    status.close();
  });
});

describe('FerryMetrics', () => {
  it('leaves the lag series out until it is known, then labels it with the pipeline', async () => {
    const bus = new FerryEventBus();
    const metrics = new FerryMetrics('orders', bus, new LiveStatus('orders', bus), { source: false, target: false });
    try {
      expect(await metrics.text()).not.toMatch(/^ferry_replication_lag_seconds/m);
      applied(bus, new Date(Date.now() - 2000));
      bus.emit('failure', { kind: 'retriable', message: 'connection lost' });
      const text = await metrics.text();
      expect(text).toMatch(/^ferry_replication_lag_seconds\{pipeline="orders"\} 2(\.\d+)?$/m);
      expect(text).toMatch(/^ferry_events_applied_total\{table="shop.orders",op="c",pipeline="orders"\} 1$/m);
      expect(text).toMatch(/^ferry_errors_total\{kind="retriable",pipeline="orders"\} 1$/m);
      expect(text).toMatch(/^ferry_apply_batch_seconds_count\{pipeline="orders"\} 1$/m);
    } finally {
      metrics.close();
    }
  });
});

describe('PauseGate', () => {
  it('holds the applier while paused and lets it through on resume or abort', async () => {
    const gate = new PauseGate(new FerryEventBus());
    const signal = new AbortController();
    await gate.passed(signal.signal); // open: at once
    gate.pause();
    let through = false;
    const waiting = gate.passed(signal.signal).then(() => (through = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(through).toBe(false);
    gate.resume();
    await waiting;
    gate.pause();
    const stopping = gate.passed(signal.signal);
    signal.abort();
    await stopping;
    expect(gate.paused).toBe(true);
  });
});
