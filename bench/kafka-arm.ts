import { startKafkaMock, type KafkaMock } from '../test/helpers/kafka-mock.js';
import { backlogFor, createItems, fingerprint, writeBacklog } from './data.js';
import { freshDatabase, until, withDb } from './db.js';
import { Ferry, type FerryProcess } from './processes.js';
import type { Arm, Contender } from './race.js';
import type { Servers } from './servers.js';

/**
 * The mock cluster keeps about 5 MB per partition and drops older messages (as retention would):
 * the backlog must fit in the topic before the appliers have applied it. 100,000 rows make 135,000
 * changes of about 430 bytes: under 2 MB a partition.
 */
const PARTITIONS = 32;
const MAX_ROWS = 100_000;

/**
 * The Kafka path against the direct one on the same MariaDB backlog: ferry reading it into Kafka
 * (librdkafka's mock cluster on loopback) while two appliers in one consumer group apply it to
 * Postgres, against one ferry applying it to Postgres directly. Both are timed from `ferry run` of
 * the reading process until the target's table equals the source's; the appliers are started (and
 * have joined their group) before the clock starts, as they would be running in production.
 */
export function kafkaArm(s: Servers, rows: number): { arm: Arm; close(): Promise<void> } {
  const backlog = backlogFor(Math.min(rows, MAX_ROWS));
  let mock: KafkaMock | null = null;
  let direct: Ferry;
  let producer: Ferry;
  let appliers: Ferry[] = [];
  let expected: string | null = null;
  let applying: FerryProcess[] = [];
  const source = { type: 'mysql', url: s.mariaSource.url('bench') };

  /**
   * Runs `reader` until `url`'s bench.items fingerprints like the source's (on the Kafka path the
   * marker row travels in a partition of its own, so it says nothing of the others); any of its
   * processes stopping first fails the run.
   */
  const drained =
    (url: string, reader: () => Ferry, others: () => FerryProcess[] = () => []): Contender['run'] =>
    async () => {
      const running = reader().run();
      const stopped = [running, ...others()].map((p) =>
        p.running.done.then(() => Promise.reject(new Error(`ferry stopped before the backlog was applied:\n${p.running.output()}`))),
      );
      for (const p of stopped) p.catch(() => {});
      try {
        await Promise.race([
          withDb(url, (db) => until(`the backlog in ${url}`, async () => (await fingerprint(db).catch(() => null)) === expected, 100)),
          ...stopped,
        ]);
      } finally {
        await running.stop();
      }
    };
  const equal = (url: string) =>
    withDb(url, async (db) => {
      const actual = await fingerprint(db);
      if (actual !== expected) throw new Error(`${url}: bench.items is ${actual}, the source's is ${expected}`);
    });

  const arm: Arm = {
    name: 'CDC drain MariaDB → Kafka → Postgres',
    work: backlog.inserts + backlog.updates + backlog.deletes,
    async setupRun(run) {
      mock ??= await startKafkaMock({ brokers: 3 });
      const prefix = `k${run}`;
      for (const [topic, partitions] of [
        ['ferry.schema', 1],
        ['ferry.checkpoint', 1],
        ['bench.items', PARTITIONS],
        ['bench.done', 1],
      ] as const) {
        await mock.createTopic(`${prefix}.${topic}`, partitions);
      }
      await withDb(await freshDatabase(s.mariaSource.url(), 'bench'), createItems);
      direct = new Ferry(`kafka-direct-${run}`, {
        source: { ...source, serverId: 211 },
        target: { type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'kbench_direct') },
        tables: { include: ['bench.*'] },
      });
      const kafka = { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix };
      producer = new Ferry(`kafka-produce-${run}`, {
        source: { ...source, serverId: 212 },
        target: { ...kafka, idempotent: false },
        tables: { include: ['bench.*'] },
      });
      const applierTarget = { type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'kbench_kafka') };
      appliers = [1, 2].map((_n) => new Ferry(`kafka-apply-${run}`, { source: { ...kafka, group: `apply-${run}` }, target: applierTarget }));
      await Promise.all([direct.snapshot(), producer.snapshot()]);
      await withDb(s.mariaSource.url('bench'), async (db) => {
        await writeBacklog(db, backlog);
        expected = await fingerprint(db);
      });
    },
    contenders: [
      {
        tool: `ferry via Kafka (1 producer, 2 appliers, ${PARTITIONS} partitions)`,
        async prepare() {
          applying = appliers.map((a) => a.run());
          // Both members in the group, every partition assigned: the mock's rebalance waits out a session timeout.
          await new Promise((resolve) => setTimeout(resolve, 15_000));
        },
        run: drained(
          s.pgTarget.url('kbench_kafka'),
          () => producer,
          () => applying,
        ),
        async check() {
          await Promise.all(applying.map((a) => a.stop()));
          await equal(s.pgTarget.url('kbench_kafka'));
        },
      },
      {
        tool: 'ferry direct (MariaDB → Postgres)',
        run: drained(s.pgTarget.url('kbench_direct'), () => direct),
        check: () => equal(s.pgTarget.url('kbench_direct')),
      },
    ],
  };
  return { arm, close: async () => mock?.stop() };
}
