import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startWithAdmin, waitReady } from '../helpers/admin.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { typesOf, sampleValue } from '../helpers/exposition.js';
import { pipelineConfig, waitFor, type RunningCli } from '../helpers/ferry.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { checkMetrics } from '../helpers/promtool.js';
import { FerryEventBus } from '../../src/core/events.js';
import { FerryMetrics, ProcessMetrics } from '../../src/metrics/metrics.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';

/**
 * GET /metrics of a running `ferry run` through `promtool check metrics` (DESIGN §1.4): a MariaDB →
 * Postgres pipeline, and the Kafka path's producer and applier. Before any error every
 * ferry_errors_total kind is there at 0, so the first error makes FerryErrorsIncreasing fire.
 */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const EVERY_KIND = ['retriable', 'fatal', 'config', 'heartbeat', 'cutover'];

async function scrape(admin: string): Promise<string> {
  const res = await fetch(`${admin}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** What every pipeline's exposition has before its first error, and promtool's verdict on it. */
async function expectCleanExposition(text: string, pipeline: string): Promise<void> {
  expect(await checkMetrics(text)).toBe('');
  for (const kind of EVERY_KIND) expect(sampleValue(text, 'ferry_errors_total', { kind, pipeline }), `ferry_errors_total{kind="${kind}"}`).toBe(0);
  expect(sampleValue(text, 'ferry_build_info', { version: VERSION, pipeline })).toBe(1);
}

const kafkaMetrics = (text: string) => [...typesOf(text).keys()].filter((n) => n.startsWith('ferry_kafka_')).sort();

let db: TestDatabases;
const running: RunningCli[] = [];

beforeAll(async () => {
  db = await testDatabases('promtool_live');
  await db.my.query("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL); INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_500");
});

afterAll(async () => {
  for (const ferry of running) ferry.child.kill('SIGKILL');
  await db?.close();
});

describe('promtool check metrics on a live exposition', () => {
  it('MariaDB → Postgres: passes, every error kind at 0, ferry_build_info, the snapshot rows counted, no Kafka metrics', async () => {
    const { ferry, admin } = await startWithAdmin(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl));
    running.push(ferry);
    await waitReady(admin);
    const text = await scrape(admin);
    await expectCleanExposition(text, db.name);
    expect(sampleValue(text, 'ferry_snapshot_rows_total', { table: `${db.name}.items` })).toBe(500);
    expect(typesOf(text).get('ferry_snapshot_rows_total')).toBe('counter');
    expect(kafkaMetrics(text)).toEqual([]);
    ferry.child.kill('SIGKILL');
  });

  describe('the Kafka path', () => {
    let mock: KafkaMock;
    beforeAll(async () => {
      mock = await startKafkaMock({ brokers: 1 });
    });
    afterAll(async () => {
      await mock?.stop();
    });

    it('producer and applier: pass, each with its own Kafka metrics only', async () => {
      const prefix = 'promtool';
      await mock.createTopic(`${prefix}.ferry.schema`, 1);
      await mock.createTopic(`${prefix}.ferry.checkpoint`, 1);
      await mock.createTopic(`${prefix}.${db.name}.items`, 2);
      const producer = await startWithAdmin({
        pipeline: `${prefix}-produce`,
        source: { type: 'mysql', url: db.mysqlUrl },
        target: { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix, idempotent: false },
        tables: { include: [`${db.name}.items`] },
        apply: { batchMaxMs: 50 },
      });
      running.push(producer.ferry);
      const applier = await startWithAdmin({
        pipeline: `${prefix}-apply`,
        source: { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix, group: `${prefix}-apply` },
        target: { type: 'postgres', url: db.pgUrl, schema: 'from_kafka' },
      });
      running.push(applier.ferry);
      await waitReady(producer.admin);
      // The applier has applied a batch from each partition once both lag series are there.
      const applied = await waitFor(
        'the applier to report its consumer lag',
        async () => {
          const text = await scrape(applier.admin);
          return (text.match(/^ferry_kafka_consumer_lag_messages\{/gm) ?? []).length === 2 ? text : null;
        },
        90_000,
      );
      await expectCleanExposition(applied, `${prefix}-apply`);
      expect(kafkaMetrics(applied)).toEqual(['ferry_kafka_consumer_lag_messages']);

      const produced = await scrape(producer.admin);
      await expectCleanExposition(produced, `${prefix}-produce`);
      expect(kafkaMetrics(produced)).toEqual(['ferry_kafka_produce_seconds']);
      expect(sampleValue(produced, 'ferry_kafka_produce_seconds_count')).toBeGreaterThan(0);
    }, 180_000);
  });
});

describe('promtool check metrics on the exposition of a process of several pipelines', () => {
  it('passes: each family once, every pipeline series with its pipeline label, the process and receiver series once', async () => {
    const processEvents = new FerryEventBus();
    const pipelines = ['a', 'b'].map((name) => {
      const events = new FerryEventBus();
      const metrics = new FerryMetrics(name, events, new LiveStatus(name, events), { source: false, target: false }, [], false);
      events.emit('phase', { phase: 'streaming' });
      events.emit('snapshot-table-started', { table: 'shop.items', estimatedRows: 10, resumedRows: 0 });
      events.emit('batch-applied', {
        transactions: 1,
        events: 2,
        perTable: [{ table: 'shop.items', op: 'c', events: 2 }],
        position: { kind: 'pg', lsn: 16n },
        commitTime: new Date(),
        ms: 12,
      });
      return metrics;
    });
    const text = await new ProcessMetrics(processEvents, ['http://hooks.example/ferry'], pipelines).text();
    expect(await checkMetrics(text)).toBe('');
    for (const pipeline of ['a', 'b']) {
      expect(sampleValue(text, 'ferry_build_info', { version: VERSION, pipeline })).toBe(1);
      expect(sampleValue(text, 'ferry_apply_batch_seconds_count', { pipeline })).toBe(1);
      expect(sampleValue(text, 'ferry_events_applied_total', { pipeline, table: 'shop.items', op: 'c' })).toBe(2);
    }
    expect(sampleValue(text, 'ferry_notifications_queued', { receiver: 'http://hooks.example/ferry' })).toBe(0);
    expect(text.match(/^# TYPE process_cpu_user_seconds_total /gm)).toHaveLength(1);
  });
});
