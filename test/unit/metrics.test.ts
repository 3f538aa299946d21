import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FerryEventBus } from '../../src/core/events.js';
import { FerryMetrics } from '../../src/metrics/metrics.js';
import type { KafkaEnds } from '../../src/metrics/kafka-metrics.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';
import { samples, typesOf, sampleValue } from '../helpers/exposition.js';
import { checkMetrics } from '../helpers/promtool.js';

// ferry's metrics as a scrape sees them (DESIGN §1.4); test/integration/promtool does the same on a running `ferry run`.

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const EVERY_KIND = ['retriable', 'fatal', 'config', 'heartbeat', 'cutover'];
const at = (pos: number) => ({ kind: 'mysql' as const, file: 'binlog.000001', pos });

async function withMetrics(kafka: KafkaEnds, body: (bus: FerryEventBus, metrics: FerryMetrics) => Promise<void>): Promise<void> {
  const bus = new FerryEventBus();
  const status = new LiveStatus('orders', bus);
  const metrics = new FerryMetrics('orders', bus, status, kafka);
  try {
    await body(bus, metrics);
  } finally {
    metrics.close();
    status.close();
  }
}
const noKafka: KafkaEnds = { source: false, target: false };

describe('FerryMetrics exposition', () => {
  it('has ferry_errors_total at 0 for every error kind before the first error, so increase() sees that one', async () => {
    await withMetrics(noKafka, async (bus, metrics) => {
      const before = await metrics.text();
      for (const kind of EVERY_KIND) expect(sampleValue(before, 'ferry_errors_total', { kind, pipeline: 'orders' }), kind).toBe(0);
      expect(sampleValue(before, 'ferry_transactions_applied_total', { pipeline: 'orders' })).toBe(0);
      bus.emit('failure', { kind: 'heartbeat', message: 'no grant' });
      const after = await metrics.text();
      expect(sampleValue(after, 'ferry_errors_total', { kind: 'heartbeat' })).toBe(1);
      expect(sampleValue(after, 'ferry_errors_total', { kind: 'fatal' })).toBe(0);
    });
  });

  it('has ferry_dead_letter_rows_total at 0 for every reason of each dead-letter table once streaming starts, and counts the rows', async () => {
    await withMetrics(noKafka, async (bus, metrics) => {
      expect(await metrics.text()).not.toMatch(/^ferry_dead_letter_rows_total\{/m);
      bus.emit('stream-started', { from: at(100), deadLetterTables: ['shop.audit', 'shop.orders'] });
      const zero = await metrics.text();
      expect(typesOf(zero).get('ferry_dead_letter_rows_total')).toBe('counter');
      for (const reason of ['unique', 'not-null', 'check', 'foreign-key', 'too-long', 'out-of-range', 'invalid-value', 'constraint'])
        expect(sampleValue(zero, 'ferry_dead_letter_rows_total', { table: 'shop.audit', reason, pipeline: 'orders' }), reason).toBe(0);
      bus.emit('rows-dead-lettered', { table: 'shop.orders', reason: 'unique', rows: 3 });
      bus.emit('rows-dead-lettered', { table: 'shop.orders', reason: 'unique', rows: 1 });
      const after = await metrics.text();
      expect(sampleValue(after, 'ferry_dead_letter_rows_total', { table: 'shop.orders', reason: 'unique' })).toBe(4);
      expect(sampleValue(after, 'ferry_dead_letter_rows_total', { table: 'shop.orders', reason: 'check' })).toBe(0);
    });
  });

  it('has ferry_dead_letters_replayed_total at 0 for each dead-letter table once streaming starts, and counts the letters replays mark', async () => {
    await withMetrics(noKafka, async (bus, metrics) => {
      bus.emit('stream-started', { from: at(100), deadLetterTables: ['shop.audit', 'shop.orders'] });
      expect(sampleValue(await metrics.text(), 'ferry_dead_letters_replayed_total', { table: 'shop.audit' })).toBe(0);
      bus.emit('letters-replayed', { marker: 'm1', table: 'shop.orders', letters: 3, rejected: 1 });
      bus.emit('letters-replayed', { marker: 'm2', table: 'shop.orders', letters: 2, rejected: 0 });
      const after = await metrics.text();
      expect(typesOf(after).get('ferry_dead_letters_replayed_total')).toBe('counter');
      expect(sampleValue(after, 'ferry_dead_letters_replayed_total', { table: 'shop.orders' })).toBe(5);
    });
  });

  it('has ferry_table_quarantined at 0 for every replicated table once streaming starts, 1 while a table is quarantined, 0 again once lifted', async () => {
    await withMetrics(noKafka, async (bus, metrics) => {
      expect(await metrics.text()).not.toMatch(/^ferry_table_quarantined\{/m);
      const hold = { state: 'quarantined', since: '2026-12-04T17:00:00.000Z', position: at(90), key: { id: 1 }, reason: 'check', message: 'no' } as const;
      bus.emit('stream-started', { from: at(100), tables: ['shop.orders', 'shop.items'], holds: { 'shop.items': hold } });
      const start = await metrics.text();
      expect(typesOf(start).get('ferry_table_quarantined')).toBe('gauge');
      expect(sampleValue(start, 'ferry_table_quarantined', { table: 'shop.orders', pipeline: 'orders' })).toBe(0);
      expect(sampleValue(start, 'ferry_table_quarantined', { table: 'shop.items' })).toBe(1);
      bus.emit('table-hold', { table: 'shop.orders', hold });
      bus.emit('table-hold', { table: 'shop.items', hold: { state: 'resyncing', since: '2026-12-04T17:05:00.000Z' } });
      const later = await metrics.text();
      expect(sampleValue(later, 'ferry_table_quarantined', { table: 'shop.orders' })).toBe(1);
      expect(sampleValue(later, 'ferry_table_quarantined', { table: 'shop.items' })).toBe(0);
      bus.emit('table-hold', { table: 'shop.orders', hold: null });
      expect(sampleValue(await metrics.text(), 'ferry_table_quarantined', { table: 'shop.orders' })).toBe(0);
    });
  });

  it('has ferry_build_info at 1 with the package version', async () => {
    await withMetrics(noKafka, async (_bus, metrics) => {
      const text = await metrics.text();
      expect(sampleValue(text, 'ferry_build_info', { version: PACKAGE_VERSION, pipeline: 'orders' })).toBe(1);
      expect(typesOf(text).get('ferry_build_info')).toBe('gauge');
    });
  });

  it('counts snapshot rows in a counter that only goes up: a resumed table starts at its rows, a refresh adds its own', async () => {
    await withMetrics(noKafka, async (bus, metrics) => {
      const rows = async () => sampleValue(await metrics.text(), 'ferry_snapshot_rows_total', { table: 'shop.orders' });
      expect(typesOf(await metrics.text()).get('ferry_snapshot_rows_total')).toBe('counter');
      bus.emit('snapshot-table-started', { table: 'shop.orders', estimatedRows: 300, resumedRows: 100 });
      expect(await rows()).toBe(100);
      bus.emit('snapshot-chunk-loaded', { table: 'shop.orders', rows: 150, totalRows: 250 });
      bus.emit('snapshot-chunk-loaded', { table: 'shop.orders', rows: 50, totalRows: 300 });
      bus.emit('snapshot-table-done', { table: 'shop.orders', rows: 300, ms: 5 });
      expect(await rows()).toBe(300);
      expect(sampleValue(await metrics.text(), 'ferry_snapshot_rows_estimated', { table: 'shop.orders' })).toBe(300);
      // A new table shows at 0 from its start.
      bus.emit('snapshot-table-started', { table: 'shop.users', estimatedRows: 10, resumedRows: 0 });
      expect(sampleValue(await metrics.text(), 'ferry_snapshot_rows_total', { table: 'shop.users' })).toBe(0);
      // A scheduled refresh copies the table again.
      bus.emit('snapshot-table-started', { table: 'shop.orders', estimatedRows: 300, resumedRows: 0 });
      bus.emit('snapshot-chunk-loaded', { table: 'shop.orders', rows: 300, totalRows: 300 });
      expect(await rows()).toBe(600);
    });
  });

  it('exports the Kafka metrics only for the ends that are Kafka', async () => {
    const kafkaIn = async (kafka: KafkaEnds) => {
      let names: string[] = [];
      await withMetrics(kafka, async (bus, metrics) => {
        bus.emit('kafka-produced', { messages: 10, ms: 4 });
        bus.emit('kafka-consumer-lag', { topic: 'cdc.shop.orders', partition: 0, lag: 3 });
        names = [...typesOf(await metrics.text()).keys()].filter((n) => n.startsWith('ferry_kafka_'));
      });
      return names.sort();
    };
    expect(await kafkaIn(noKafka)).toEqual([]);
    expect(await kafkaIn({ source: true, target: false })).toEqual(['ferry_kafka_consumer_lag_messages']);
    expect(await kafkaIn({ source: false, target: true })).toEqual(['ferry_kafka_produce_seconds']);
  });

  it('passes `promtool check metrics` with every metric carrying samples', async () => {
    await withMetrics({ source: true, target: true }, async (bus, metrics) => {
      bus.emit('phase', { phase: 'streaming' });
      bus.emit('snapshot-table-started', { table: 'shop.orders', estimatedRows: 3, resumedRows: 0 });
      bus.emit('snapshot-chunk-loaded', { table: 'shop.orders', rows: 3, totalRows: 3 });
      bus.emit('batch-applied', {
        transactions: 1,
        events: 1,
        perTable: [{ table: 'shop.orders', op: 'c', events: 1 }],
        position: at(200),
        commitTime: new Date(),
        ms: 3,
      });
      bus.emit('heartbeat', { clockOffsetMs: 2, head: at(300), retainedBytes: 1000 });
      bus.emit('failure', { kind: 'retriable', message: 'connection lost' });
      bus.emit('cutover-state', { id: 'c1', state: 'draining' });
      bus.emit('kafka-produced', { messages: 10, ms: 4 });
      bus.emit('kafka-consumer-lag', { topic: 'cdc.shop.orders', partition: 0, lag: 3 });
      bus.emit('stream-started', { from: at(200), deadLetterTables: ['shop.orders'], tables: ['shop.orders'] });
      bus.emit('rows-dead-lettered', { table: 'shop.orders', reason: 'check', rows: 2 });
      bus.emit('letters-replayed', { marker: 'm1', table: 'shop.orders', letters: 2, rejected: 0 });
      bus.emit('resync-started', { id: 'r1', table: 'shop.orders', since: '2026-12-04T17:00:00.000Z', restarted: false });
      bus.emit('resync-chunk', { id: 'r1', table: 'shop.orders', chunks: 1, rows: 3, chunkRows: 3, readAhead: 0 });
      const refreshStarted = new Date('2026-12-04T02:00:00.000Z');
      bus.emit('refresh-scheduled', { next: refreshStarted });
      bus.emit('refresh-done', { startedAt: refreshStarted, endedAt: new Date('2026-12-04T02:03:00.000Z'), rows: 3, tables: 1 });
      bus.emit('refresh-scheduled', { next: new Date('2026-12-05T02:00:00.000Z') });
      const text = await metrics.text();
      expect(await checkMetrics(text)).toBe('');
      expect(sampleValue(text, 'ferry_refreshes_total', { outcome: 'done' })).toBe(1);
      expect(sampleValue(text, 'ferry_refreshes_total', { outcome: 'failed' })).toBe(0);
      expect(sampleValue(text, 'ferry_refresh_last_success_timestamp_seconds', {})).toBe(Date.parse('2026-12-04T02:03:00.000Z') / 1000);
      expect(sampleValue(text, 'ferry_refresh_next_timestamp_seconds', {})).toBe(Date.parse('2026-12-05T02:00:00.000Z') / 1000);
      // promtool passes empty families too: each of ferry's must have had its samples checked.
      const sampled = new Set(samples(text).map((x) => x.name.replace(/_(bucket|sum|count)$/, '')));
      for (const name of typesOf(text).keys()) if (name.startsWith('ferry_')) expect(sampled.has(name), `${name} has no sample`).toBe(true);
      expect(sampleValue(text, 'ferry_cutover_state', { state: 'draining' })).toBe(1);
    });
  });
});
