import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { pipelineConfig, runCli, startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { startWriteLoad } from '../helpers/write-load.js';
import { ADMIN_TOKEN, startWithAdmin, waitReady } from '../helpers/admin.js';

/**
 * The Kafka path end to end through the built CLI: MariaDB → ferry (producer) → Kafka → two ferry
 * appliers in one consumer group → Postgres. Kafka is librdkafka's mock cluster (a real Kafka
 * protocol peer), which has neither the admin CreateTopics request nor the idempotent producer:
 * topics are made through the mock, and target.idempotent is off. The mock keeps about 5 MB per
 * partition and drops older messages, as retention would: the loads here stay well under it.
 */
const PARTITIONS = 6;

let mock: KafkaMock;
let db: TestDatabases;

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
  db = await testDatabases('kafka_e2e');
});

afterAll(async () => {
  await db?.close();
  await mock?.stop();
});

/**
 * ferry's own topics and one per table of `schema` (the test database's unless told), as an
 * operator creates them before starting ferry.
 */
async function createTopics(prefix: string, tables: readonly string[], partitions = PARTITIONS, schema = db.name): Promise<void> {
  await mock.createTopic(`${prefix}.ferry.schema`, 1);
  await mock.createTopic(`${prefix}.ferry.checkpoint`, 1);
  for (const t of tables) await mock.createTopic(`${prefix}.${schema}.${t}`, partitions);
}

function producerConfig(prefix: string, on = db, target: Record<string, unknown> = {}): string {
  return writeConfig({
    pipeline: `${prefix}-produce`,
    source: { type: 'mysql', url: on.mysqlUrl },
    target: { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix, idempotent: false, ...target },
    tables: { include: [`${on.name}.*`] },
    apply: { batchMaxMs: 50 },
  });
}

function applierConfig(prefix: string, on = db, extra: Record<string, unknown> = {}, group = `${prefix}-apply`): string {
  return writeConfig({
    pipeline: `${prefix}-apply`,
    source: { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix, group },
    target: { type: 'postgres', url: on.pgUrl },
    ...extra,
  });
}

/**
 * `body` with a producer (`producerFile`) and an applier (`prefix`) running on `on`'s databases:
 * both must still run at its end, are killed after it, and a failure shows the tail of their logs.
 */
async function withPipeline(
  prefix: string,
  on: TestDatabases,
  producerFile: string,
  body: (p: { producer: RunningCli; applier: RunningCli }) => Promise<void>,
): Promise<void> {
  const producer = startCli(['run', '-c', producerFile]);
  const applier = startCli(['run', '-c', applierConfig(prefix, on)]);
  try {
    await body({ producer, applier });
    expect(producer.child.exitCode).toBeNull();
    expect(applier.child.exitCode).toBeNull();
  } catch (err) {
    (err as Error).message += `\n--- applier:\n${applier.output().slice(-2500)}\n--- producer:\n${producer.output().slice(-2500)}`;
    throw err;
  } finally {
    producer.child.kill('SIGKILL');
    applier.child.kill('SIGKILL');
  }
}

/** Rows of `table` in `on`'s target, 0 while the applier has not made it. */
async function targetRows(on: TestDatabases, table: string, where = 'true'): Promise<number> {
  return (await on.pg.query(`SELECT count(*)::int AS n FROM ${on.name}.${table} WHERE ${where}`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n;
}

/** Offsets of every partition of `topic` now: where the next message will go. */
async function topicEnds(topic: string): Promise<Map<number, string>> {
  const admin = new Kafka({ clientId: 'test', brokers: mock.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
}

/** Whether the appliers have applied every message of `topic` there is now (their offsets in the target). */
async function appliedAll(pipeline: string, topic: string, on = db): Promise<boolean> {
  const ends = await topicEnds(topic);
  const { rows } = await on.pg.query('SELECT partition, next_offset FROM ferry.ferry_kafka_offsets WHERE pipeline = $1 AND topic = $2', [pipeline, topic]);
  const applied = new Map(rows.map((r) => [r.partition as number, r.next_offset as string]));
  return [...ends].every(([p, end]) => end === '0' || applied.get(p) === end);
}

/**
 * Journal rows are inserted once at the source and never changed: from now on, an UPDATE of one in
 * the target is a change applied twice. The trigger fires in ferry's replica-role sessions too.
 */
async function watchReapplied(): Promise<void> {
  await db.pg.query(`CREATE TABLE reapplied (id int, at timestamptz DEFAULT now());
    CREATE FUNCTION note_reapplied() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO reapplied (id) VALUES (NEW.id); RETURN NEW; END $$;
    CREATE TRIGGER reapplied AFTER UPDATE ON ${db.name}.journal FOR EACH ROW EXECUTE FUNCTION note_reapplied();
    ALTER TABLE ${db.name}.journal ENABLE ALWAYS TRIGGER reapplied`);
}

/** Until the target equals the source, by ferry verify's checksums over a direct config. */
async function waitIdentical(ms = 120_000): Promise<void> {
  const direct = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl));
  await waitFor(
    'the target to equal the source',
    async () => {
      const verdict = await verifyWithCli(direct, 'checksums', ['--recheck', '0']);
      return verdict.tables.length === 2 && verdict.equal;
    },
    ms,
  );
}

/** The partitions an applier last said it was assigned. */
function ownedPartitions(applier: RunningCli): number {
  const m = [...applier.output().matchAll(/assigned (\d+) partition/g)];
  return Number(m[m.length - 1]?.[1] ?? 0);
}

/** A steady stream of single-row journal inserts, which can be held while the appliers catch up. */
function startJournal() {
  let n = 0;
  let held = false;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      if (!held) await db.my.query(`INSERT INTO journal (n, note) VALUES (${++n}, 'entry ${n}')`);
      await sleep(10);
    }
  })();
  return {
    hold: (on: boolean) => (held = on),
    async stop() {
      stopped = true;
      await done;
    },
  };
}

describe('MariaDB → Kafka → 2 appliers → Postgres', () => {
  it('ends identical under load through kill -9 of the producer and of an applier, rebalances, and a broker down for 10 s', async () => {
    const prefix = 'e2e';
    const applierPipeline = `${prefix}-apply`;
    const journalTopic = `${prefix}.${db.name}.journal`;
    await db.my.query(`CREATE TABLE items (id INT PRIMARY KEY, grp INT, val VARCHAR(64), amount DECIMAL(12,2));
      CREATE TABLE journal (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, note VARCHAR(40) NOT NULL)`);
    await db.my.query(`INSERT INTO items SELECT seq, seq % 17, CONCAT('seed', seq), seq % 100 FROM seq_1_to_3000`);
    await createTopics(prefix, ['items', 'journal']);
    const producerFile = producerConfig(prefix);
    const applierFile = applierConfig(prefix);

    let producer = startCli(['run', '-c', producerFile]);
    let first = startCli(['run', '-c', applierFile]);
    let second: RunningCli | null = null;
    const load = startWriteLoad(db.my, 'items', { firstId: 100_000, pauseMs: 20, seedRows: 3000 });
    const journal = startJournal();
    try {
      await waitFor('the first applier to apply', async () => ownedPartitions(first) > 0, 60_000);

      // The producer side: kill -9 mid-stream, and a broker away for 10 s. The topics are at-least-once:
      // a restarted producer sends again what came after its last checkpoint.
      await sleep(2000);
      producer.child.kill('SIGKILL');
      await producer.done;
      producer = startCli(['run', '-c', producerFile]);
      await sleep(2000);
      await mock.brokerDown(2);
      await sleep(10_000);
      await mock.brokerUp(2);

      // Once the appliers have applied every journal message there is, any journal row applied again is seen.
      journal.hold(true);
      await sleep(1000);
      await waitFor('the journal to be applied', () => appliedAll(applierPipeline, journalTopic), 60_000);
      await watchReapplied();
      journal.hold(false);

      // The consumer side: a second member joins while the first applies (a rebalance under load),
      // the first is killed -9 (its partitions move after its session timeout), and comes back.
      second = startCli(['run', '-c', applierFile]);
      const joined = second;
      await waitFor('both appliers to own partitions', async () => ownedPartitions(joined) > 0 && ownedPartitions(first) < 2 * PARTITIONS, 60_000);
      await sleep(2000);
      first.child.kill('SIGKILL');
      await first.done;
      await waitFor('the second applier to own every partition', async () => ownedPartitions(joined) === 2 * PARTITIONS, 60_000);
      first = startCli(['run', '-c', applierFile]);
      await waitFor('the first applier to rejoin', async () => ownedPartitions(first) > 0, 60_000);
      await sleep(2000);

      await load.stop();
      await journal.stop();
      expect(load.transactions).toBeGreaterThan(100);
      await waitIdentical().catch(async (e) => {
        const direct = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl));
        console.log('VERDICT', JSON.stringify(await verifyWithCli(direct, 'checksums', ['--recheck', '0'])).slice(0, 3000));
        for (const [n, p] of [
          ['PRODUCER', producer],
          ['FIRST', first],
          ['SECOND', second!],
        ] as const)
          console.log(
            n,
            p
              .output()
              .split('\n')
              .filter((l) => !/rejoin|Heartbeat/.test(l))
              .slice(-40)
              .join('\n'),
          );
        throw e;
      });
      expect((await db.pg.query('SELECT id FROM reapplied')).rows).toEqual([]);
      expect(await appliedAll(applierPipeline, journalTopic)).toBe(true);
      for (const p of [producer, first, second]) expect(p.child.exitCode, p.output()).toBeNull();

      for (const p of [producer, first, second]) p.child.kill('SIGTERM');
      const ends = await Promise.all([producer.done, first.done, second.done]);
      for (const end of ends) expect(end.code, end.stderr).toBe(0);
    } finally {
      await load.stop().catch(() => {});
      await journal.stop().catch(() => {});
      for (const p of [producer, first, second]) p?.child.kill('SIGKILL');
    }
  }, 300_000);
});

describe('single-topic mode', () => {
  it('keeps source transactions whole in the target, and carries a TRUNCATE in order', async () => {
    const prefix = 'single';
    const one = await testDatabases('kafka_single');
    try {
      await one.my.query(`CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL);
        INSERT INTO accounts SELECT seq, 1000 FROM seq_1_to_50; CREATE TABLE scratch (id INT PRIMARY KEY)`);
      await createTopics(prefix, []);
      await mock.createTopic(`${prefix}.changes`, 1);
      await withPipeline(prefix, one, producerConfig(prefix, one, { singleTopic: true }), async () => {
        await waitFor('the snapshot to be applied', async () => (await targetRows(one, 'accounts')) === 50, 60_000);
        // Transfers keep the total at 50,000 in every source transaction; a target that ever shows
        // another total has applied part of one.
        let stop = false;
        const transfers = (async () => {
          for (let i = 0; !stop; i++) {
            const from = 1 + (i % 50);
            const to = 1 + ((i * 7 + 3) % 50);
            await one.my.query(`START TRANSACTION; UPDATE accounts SET balance = balance - 5 WHERE id = ${from};
              INSERT INTO scratch VALUES (${i}); UPDATE accounts SET balance = balance + 5 WHERE id = ${to}; COMMIT`);
            await sleep(3);
          }
        })();
        await waitFor('the first transfer to be applied', async () => (await targetRows(one, 'accounts', 'balance <> 1000')) > 0, 30_000);
        const totals = new Set<number>();
        const states = new Set<string>();
        for (let polls = 0; polls < 200; polls++) {
          const { rows } = await one.pg.query(`SELECT sum(balance)::int AS s, string_agg(balance::text, ',' ORDER BY id) AS state FROM ${one.name}.accounts`);
          totals.add(rows[0].s);
          states.add(rows[0].state);
          await sleep(20);
        }
        stop = true;
        await transfers;
        await one.my.query('TRUNCATE TABLE scratch');
        await one.my.query('INSERT INTO scratch VALUES (-1)');
        expect([...totals]).toEqual([50_000]);
        expect(states.size).toBeGreaterThan(20);
        await waitFor(
          'the truncate and what followed it',
          async () => {
            const { rows } = await one.pg.query(`SELECT array_agg(id)::text AS ids FROM ${one.name}.scratch`).catch(() => ({ rows: [{ ids: null }] }));
            return rows[0].ids === '{-1}';
          },
          60_000,
        );
      });
    } finally {
      await one.close();
    }
  }, 180_000);
});

describe('Postgres → Kafka → Postgres, cutover on the producer', () => {
  it('fences the source, drains into Kafka, and the applier brings the target level with the source', async () => {
    const prefix = 'pgcut';
    const src = await testDatabases('kafka_pgsrc');
    const dst = await testDatabases('kafka_pgdst');
    try {
      await src.pg.query(`CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL, payload bytea);
        INSERT INTO items SELECT g, 'seed ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 500) g`);
      await createTopics(prefix, ['items'], 3, 'public');
      const {
        ferry: producer,
        admin,
        configFile: producerConfig,
      } = await startWithAdmin({
        pipeline: `${prefix}-produce`,
        source: { type: 'postgres', url: src.pgUrl },
        target: { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix, idempotent: false },
        apply: { batchMaxMs: 50 },
      });
      const applier = startCli(['run', '-c', applierConfig(prefix, dst)]);
      try {
        await waitReady(admin);
        for (let i = 0; i < 20; i++) {
          await src.pg.query(
            `BEGIN; UPDATE items SET v = v || '+' WHERE id % 20 = ${i}; INSERT INTO items VALUES (${1000 + i}, 'new', NULL); DELETE FROM items WHERE id = ${i + 1}; COMMIT`,
          );
        }
        const cutover = await runCli(['cutover', '--admin', admin, '--token', ADMIN_TOKEN, '--verify', 'none', '--max-lag', '10', '--timeout', '60']);
        expect(cutover.code, cutover.stdout + cutover.stderr).toBe(0);
        expect(cutover.stdout).toMatch(/completed/);
        // Recorded in the checkpoint topic: a second producer of the pipeline refuses to start.
        const again = await runCli(['run', '-c', producerConfig]);
        expect(again.code, again.stderr).toBe(2);
        expect(again.stderr).toMatch(new RegExp(`pipeline ${prefix}-produce was cut over at`));
        // The fence ended every other session; a new one may read but not write.
        const app = new pg.Client({ connectionString: src.pgUrl });
        await app.connect();
        try {
          await expect(app.query("INSERT INTO items VALUES (-1, 'after the fence', NULL)")).rejects.toThrow(/read-only/);
        } finally {
          await app.end();
        }

        const direct = writeConfig({
          pipeline: `${prefix}-verify`,
          source: { type: 'postgres', url: src.pgUrl },
          target: { type: 'postgres', url: dst.pgUrl },
        });
        await waitFor(
          'the applier to bring the target level',
          async () => (await verifyWithCli(direct, 'checksums', ['--recheck', '0']).catch(() => ({ equal: false }))).equal,
          60_000,
        );
        expect(applier.child.exitCode, applier.output()).toBeNull();
      } finally {
        producer.child.kill('SIGKILL');
        applier.child.kill('SIGKILL');
      }
    } finally {
      await dst.pg.query('ALTER DATABASE kafka_pgsrc RESET default_transaction_read_only').catch(() => {});
      await src.close();
      await dst.close();
    }
  }, 180_000);
});

describe('schema change through Kafka', () => {
  it('carries an ADD COLUMN mid-stream: the applier adds it, rows before and after it land as the source has them', async () => {
    const prefix = 'altered';
    const one = await testDatabases('kafka_alter');
    try {
      await one.my.query(`CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL);
        INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_200`);
      await createTopics(prefix, ['items'], 3, one.name);
      await withPipeline(prefix, one, producerConfig(prefix, one), async () => {
        await waitFor('the snapshot to be applied', async () => (await targetRows(one, 'items')) === 200, 60_000);
        await one.my.query(`UPDATE items SET v = 'before' WHERE id <= 10;
          ALTER TABLE items ADD COLUMN note VARCHAR(30) NOT NULL DEFAULT 'none';
          INSERT INTO items VALUES (201, 'after', 'noted'); UPDATE items SET note = 'changed' WHERE id BETWEEN 5 AND 15`);
        const direct = writeConfig(pipelineConfig(one.name, one.mysqlUrl, one.pgUrl));
        await waitFor(
          'the target to equal the source',
          async () => (await verifyWithCli(direct, 'checksums', ['--recheck', '0']).catch(() => ({ equal: false }))).equal,
          60_000,
        );
      });
    } finally {
      await one.close();
    }
  }, 120_000);
});

describe('dead letters through Kafka', () => {
  it('an applier keeps the row its Postgres target rejects once, with its source position, however often the partition comes again', async () => {
    const prefix = 'dead';
    const one = await testDatabases('kafka_dead');
    let producer: RunningCli | null = null;
    const appliers: RunningCli[] = [];
    const apply = (group: string) => {
      const applier = startCli(['run', '-c', applierConfig(prefix, one, { errors: { policy: 'dead-letter' } }, group)]);
      appliers.push(applier);
      return applier;
    };
    const letters = async () =>
      (
        await one.pg.query('SELECT letter_id, row_key, error_class, position FROM ferry.ferry_dead_letters WHERE pipeline = $1 ORDER BY id', [
          `${prefix}-apply`,
        ])
      ).rows;
    const applied = async () =>
      (await one.pg.query(`SELECT id, count(*)::int AS n FROM ${one.name}.items WHERE id > 50 GROUP BY id ORDER BY id`).catch(() => ({ rows: [] }))).rows;
    try {
      await one.my.query('CREATE TABLE items (id INT PRIMARY KEY, amount INT NOT NULL); INSERT INTO items VALUES (1, 10)');
      // One partition: every message in one order, read again below from its start.
      await createTopics(prefix, ['items'], 1, one.name);
      producer = startCli(['run', '-c', producerConfig(prefix, one)]);
      const first = apply(`${prefix}-apply`);
      await waitFor('the snapshot to be applied', async () => (await targetRows(one, 'items')) === 1, 60_000);
      await one.pg.query(`ALTER TABLE ${one.name}.items ADD CONSTRAINT amount_cap CHECK (amount < 5000)`);
      await one.my.query('BEGIN; INSERT INTO items VALUES (51, 10), (52, 9000), (53, 30); COMMIT');
      await waitFor('the dead letter of row 52', async () => (await letters()).length === 1, 60_000);
      await one.my.query('BEGIN; INSERT INTO items VALUES (54, 40), (55, 50); COMMIT');
      await waitFor('the transaction after it', async () => (await applied()).length === 4, 60_000);
      const [letter] = await letters();
      expect([letter.row_key, letter.error_class]).toEqual([{ id: 52 }, 'check']);

      // Every message of the partition again, as a redelivery brings them, to an applier whose target
      // offsets say nothing was applied. (The mock cluster hands out one producer batch per fetch, so
      // how a redelivery is cut into batches is tested on sourceTransactions, test/unit/kafka-envelope.)
      first.child.kill('SIGKILL');
      await first.done;
      await one.pg.query('UPDATE ferry.ferry_kafka_offsets SET next_offset = 0 WHERE pipeline = $1', [`${prefix}-apply`]);
      const again = apply(`${prefix}-again`);
      await waitFor('the partition applied again', async () => appliedAll(`${prefix}-apply`, `${prefix}.${one.name}.items`, one), 60_000);
      expect(await letters()).toEqual([letter]);
      expect(await applied()).toEqual([51, 53, 54, 55].map((id) => ({ id, n: 1 })));
      expect(again.child.exitCode).toBeNull();
      expect(producer.child.exitCode).toBeNull();
    } catch (err) {
      (err as Error).message += `\n--- applier:\n${appliers.at(-1)?.output().slice(-2500)}\n--- producer:\n${producer?.output().slice(-2500)}`;
      throw err;
    } finally {
      producer?.child.kill('SIGKILL');
      for (const a of appliers) a.child.kill('SIGKILL');
      await one.close();
    }
  }, 180_000);
});

describe('Kafka path, bad input', () => {
  it('refuses to start the producer when its topics do not exist, naming them and how to create them', async () => {
    await db.my.query('CREATE TABLE IF NOT EXISTS items (id INT PRIMARY KEY)');
    const r = await runCli(['run', '-c', producerConfig('missing')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('topic missing.ferry.schema does not exist');
    expect(r.stderr).toContain('kafka-topics.sh --create --topic missing.ferry.checkpoint --partitions 1');
  });

  it('fails `ferry check` of an applier whose producer has not made its topics, and passes it once they exist', async () => {
    const before = await runCli(['check', '-c', applierConfig('unmade')]);
    expect(before.code).toBe(2);
    expect(before.stdout).toContain('topic unmade.ferry.schema does not exist');
    await createTopics('unmade', []);
    const after = await runCli(['check', '-c', applierConfig('unmade')]);
    expect(after.code, after.stdout).toBe(0);
  });

  it('refuses a table without a primary key, which appliers could not tell repeated from new', async () => {
    const prefix = 'keyless';
    const one = await testDatabases('kafka_keyless');
    try {
      await one.pg.query('CREATE TABLE log (at int NOT NULL, what text); ALTER TABLE log REPLICA IDENTITY FULL');
      await createTopics(prefix, ['log'], 2, 'public');
      const r = await runCli([
        'run',
        '-c',
        writeConfig({
          pipeline: `${prefix}-produce`,
          source: { type: 'postgres', url: one.pgUrl },
          target: { type: 'kafka', brokers: mock.brokers, topicPrefix: prefix, idempotent: false },
        }),
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('without a primary key cannot go through Kafka: public.log');
    } finally {
      await one.close();
    }
  }, 60_000);

  it('refuses MySQL foreign keys with referential actions, whose changes the binlog does not carry', async () => {
    const prefix = 'cascading';
    const one = await testDatabases('kafka_cascade');
    try {
      await one.my.query(`CREATE TABLE parent (id INT PRIMARY KEY);
        CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE)`);
      await createTopics(prefix, ['parent', 'child'], 2, one.name);
      const r = await runCli(['check', '-c', producerConfig(prefix, one)]);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stdout).toContain(`${one.name}.child (child_parent: ON DELETE CASCADE ON UPDATE RESTRICT)`);
    } finally {
      await one.close();
    }
  }, 60_000);

  it('stops the producer at a TRUNCATE on per-table topics, naming it and the way out', async () => {
    const prefix = 'truncated';
    const one = await testDatabases('kafka_truncate');
    try {
      await one.my.query('CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items VALUES (1), (2)');
      await createTopics(prefix, ['items'], 2, one.name);
      const producer = startCli(['run', '-c', producerConfig(prefix, one)]);
      await waitFor('the producer to stream', async () => /streaming from/.test(producer.output()), 60_000);
      await one.my.query('TRUNCATE TABLE items');
      const end = await producer.done;
      expect(end.code).toBe(1);
      expect(end.stderr).toContain(`TRUNCATE of ${one.name}.items cannot be carried in per-key order over Kafka`);
      expect(end.stderr).toContain('target.singleTopic: true');
    } finally {
      await one.close();
    }
  }, 120_000);

  it('stops an applier at a message that is not a change event, naming it, without moving past it', async () => {
    const prefix = 'garbage';
    await createTopics(prefix, ['items']);
    const kafka = new Kafka({ clientId: 'test', brokers: mock.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}.${db.name}.items`, messages: [{ key: 'k', value: 'not json', partition: 1 }] });
    await producer.disconnect();
    const r = await runCli(['run', '-c', applierConfig(prefix)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`message 0 of ${prefix}.${db.name}.items partition 1 is not a ferry change event`);
    const { rows } = await db.pg.query(`SELECT next_offset FROM ferry.ferry_kafka_offsets WHERE pipeline = $1`, [`${prefix}-apply`]);
    expect(rows.every((r) => r.next_offset === '0')).toBe(true);
  }, 120_000);

  it('stops an applier that finds messages deleted before it applied them (retention), applying nothing past the gap', async () => {
    const prefix = 'retained';
    const wide = await testDatabases('kafka_retention');
    try {
      // About 8 MB of snapshot messages in one partition: the mock keeps the last 5 MB, as retention would.
      await wide.my.query(`CREATE TABLE wide (id INT PRIMARY KEY, filler VARCHAR(400));
        INSERT INTO wide SELECT seq, REPEAT('x', 400) FROM seq_1_to_20000`);
      await createTopics(prefix, ['wide'], 1, wide.name);
      const snapshot = await runCli(['snapshot', '-c', producerConfig(prefix, wide)]);
      expect(snapshot.code, snapshot.stderr).toBe(0);
      const r = await runCli(['run', '-c', applierConfig(prefix, wide)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(`${prefix}\\.kafka_retention\\.wide partition 0 starts at offset [1-9]\\d*, but this target has applied it only up to offset 0`),
      );
      expect((await wide.pg.query('SELECT count(*)::int AS n FROM kafka_retention.wide').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n).toBe(0);
    } finally {
      await wide.close();
    }
  }, 120_000);
});
