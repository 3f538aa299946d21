import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createItems, fillItems } from './data.js';
import { freshDatabase, openDb, until, withDb, type Db } from './db.js';
import { expectReplicating, resetReplica } from './drain-arms.js';
import { Ferry, start, type FerryProcess, type Running } from './processes.js';
import { quantile, type Results } from './results.js';
import type { Servers } from './servers.js';

/** A replicator under test: started before a measurement, stopped after, so the others run alone. */
interface Replicator {
  readonly tool: string;
  readonly targetUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Throws when the replicator stopped on an error (a probe would never arrive). */
  expectRunning(): Promise<void>;
}

/** A load generator: unthrottled for a capacity measurement, or at a fixed rate of transactions per second. */
interface Load {
  /** Runs for `seconds`; resolves with the transactions it committed. */
  run(seconds: number, rate?: number): Promise<number>;
}

interface Options {
  readonly seconds: number;
  readonly runs: number;
  readonly results: Results;
}

const PROBE_EVERY_MS = 100;
const POLL_EVERY_MS = 5;
/** The load runs this long before probes start, so a replicator just started is measured warm, under the load. */
const WARM_UP_SECONDS = 5;

/**
 * Replication latency under a steady write load: after the warm-up, every 100 ms a probe row is
 * inserted at the source and its arrival is polled for on the target every 5 ms, both on this
 * process's clock. Latency is the time from the probe's INSERT to its first sighting, so it
 * overstates by up to a poll interval.
 */
async function measure(sourceUrl: string, targetUrl: string, load: Promise<unknown>): Promise<number[]> {
  const source = await openDb(sourceUrl);
  const target = await openDb(targetUrl);
  const sent = new Map<number, number>();
  const latencies: number[] = [];
  let loadDone = false;
  void load.finally(() => (loadDone = true));
  let next = Number(await source.scalar('SELECT coalesce(max(id), 0) FROM bench.probe')) + 1;
  await new Promise((r) => setTimeout(r, WARM_UP_SECONDS * 1000));
  const poll = async () => {
    while (!loadDone || sent.size > 0) {
      const seen = Number(await target.scalar('SELECT coalesce(max(id), 0) FROM bench.probe'));
      const now = performance.now();
      for (const [id, at] of sent)
        if (id <= seen) {
          latencies.push(now - at);
          sent.delete(id);
        }
      await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
    }
  };
  try {
    const polling = poll();
    while (!loadDone) {
      const id = next++;
      sent.set(id, performance.now());
      await source.exec(`INSERT INTO bench.probe VALUES (${id})`);
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
    await load;
    await Promise.race([
      polling,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`probes not seen on ${targetUrl} within 120 s of the load's end`)), 120_000)),
    ]);
    return latencies;
  } finally {
    await source.close();
    await target.close();
  }
}

/** Inserts a probe and waits until `r` applied it: everything before it is there too. */
async function caughtUp(sourceUrl: string, r: Replicator): Promise<number> {
  const started = performance.now();
  const id = await withDb(sourceUrl, async (db) => {
    const id = Number(await db.scalar('SELECT coalesce(max(id), 0) FROM bench.probe')) + 1;
    await db.exec(`INSERT INTO bench.probe VALUES (${id})`);
    return id;
  });
  await withDb(r.targetUrl, (db) =>
    until(`${r.tool} to catch up`, async () => {
      await r.expectRunning();
      return Number(await db.scalar('SELECT coalesce(max(id), 0) FROM bench.probe').catch(() => 0)) >= id;
    }),
  );
  return (performance.now() - started) / 1000;
}

function ferryReplicator(tool: string, ferry: Ferry, targetUrl: string): Replicator {
  let running: FerryProcess | null = null;
  return {
    tool,
    targetUrl,
    start: async () => void (running = ferry.run()),
    stop: async () => {
      await running?.stop();
      running = null;
    },
    expectRunning: async () => {
      if (!running || running.running.child.exitCode === null) return;
      await running.running.done;
      throw new Error(`${tool} exited while it should be replicating`);
    },
  };
}

/**
 * The capacity on this load's transactions, in transactions per second: the load runs unthrottled
 * for 10 s with `r` stopped, then `r` drains the backlog. The lesser of the two rates, since half of
 * a drain rate the source itself cannot sustain would not be half load.
 */
async function capacity(sourceUrl: string, load: Load, r: Replicator): Promise<number> {
  const transactions = await load.run(10);
  await r.start();
  const seconds = await caughtUp(sourceUrl, r);
  await r.stop();
  console.log(`  the load wrote ${transactions} transactions in 10 s; ${r.tool} drained them in ${seconds.toFixed(2)} s`);
  return Math.min(transactions / 10, transactions / seconds);
}

/** Measures every replicator `runs` times at half of the first one's drain capacity, alternating their order. */
async function latencyRace(arm: string, sourceUrl: string, load: Load, replicators: Replicator[], o: Options): Promise<void> {
  const rate = Math.max(1, Math.round((await capacity(sourceUrl, load, replicators[0]!)) / 2));
  console.log(`  ${arm}: load at ${rate} transactions/s (half of the capacity) for ${o.seconds} s`);
  for (let run = 1; run <= o.runs; run++) {
    for (const r of run % 2 ? replicators : [...replicators].reverse()) {
      await r.start();
      await caughtUp(sourceUrl, r);
      const latencies = await measure(sourceUrl, r.targetUrl, load.run(WARM_UP_SECONDS + o.seconds, rate));
      await r.stop();
      const [p50, p99, max] = [quantile(latencies, 0.5), quantile(latencies, 0.99), Math.max(...latencies)];
      console.log(
        `  ${arm} · ${r.tool} · run ${run}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms (${latencies.length} probes)`,
      );
      o.results.add({ arm, tool: r.tool, values: [p99], unit: 'ms', also: { p50: [p50], max: [max], rate: [rate] } });
    }
  }
}

function sysbench(s: Servers): Load {
  const base = [
    'oltp_write_only',
    '--db-driver=mysql',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${s.mariaSource.port}`,
    '--mysql-user=root',
    '--mysql-db=bench',
    '--tables=1',
    '--table-size=100000',
    '--threads=4',
  ];
  return {
    async run(seconds, rate) {
      const p = start('sysbench', [...base, `--time=${seconds}`, ...(rate ? [`--rate=${rate}`] : []), 'run'], 'sysbench');
      await p.done;
      return Number(/transactions:\s+(\d+)/.exec(p.output())?.[1] ?? NaN);
    },
  };
}

/** pgbench with a script shaped like sysbench's oltp_write_only: two updates, a delete and an insert of one row. */
function pgbench(sourceUrl: string): Load {
  const script = join(tmpdir(), `ferry-bench-${process.pid}.pgbench`);
  writeFileSync(
    script,
    [
      '\\set id random(1, 100000)',
      'BEGIN;',
      'UPDATE bench.items SET qty = qty + 1 WHERE id = :id;',
      'UPDATE bench.items SET note = md5(random()::text) WHERE id = :id;',
      'DELETE FROM bench.items WHERE id = :id;',
      "INSERT INTO bench.items VALUES (:id, 1, 'item-' || :id, 1.00, md5(random()::text), now());",
      'END;',
    ].join('\n'),
  );
  return {
    async run(seconds, rate) {
      const p: Running = start(
        'pgbench',
        ['-n', '-f', script, '-c', '4', '-j', '2', '-T', String(seconds), ...(rate ? ['-R', String(rate)] : []), sourceUrl],
        'pgbench',
      );
      await p.done;
      return Number(/number of transactions actually processed: (\d+)/.exec(p.output())?.[1] ?? NaN);
    },
  };
}

async function createProbe(db: Db): Promise<void> {
  await db.exec('CREATE TABLE bench.probe (id BIGINT PRIMARY KEY)');
}

export async function latencyArms(s: Servers, o: Options): Promise<void> {
  // MariaDB source: sysbench; ferry to MariaDB and to Postgres against a native replica.
  const mariaUrl = s.mariaSource.url('bench');
  await withDb(s.mariaReplica.url(), async (db) => {
    await resetReplica(db);
    await createProbe(db);
  });
  await withDb(await freshDatabase(s.mariaSource.url(), 'bench'), async (db) => {
    await createItems(db);
    await createProbe(db);
    const [file, pos] = (await db.row('SHOW MASTER STATUS'))!;
    await withDb(s.mariaReplica.url(), (replica) =>
      replica.exec(`SET GLOBAL slave_parallel_threads = 0; CHANGE MASTER TO MASTER_HOST = '127.0.0.1',
      MASTER_PORT = ${s.mariaSource.port}, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_LOG_FILE = '${file}', MASTER_LOG_POS = ${pos}, MASTER_USE_GTID = no`),
    );
  });
  await start(
    'sysbench',
    [
      'oltp_write_only',
      '--db-driver=mysql',
      '--mysql-host=127.0.0.1',
      `--mysql-port=${s.mariaSource.port}`,
      '--mysql-user=root',
      '--mysql-db=bench',
      '--tables=1',
      '--table-size=100000',
      'prepare',
    ],
    'sysbench prepare',
  ).done;
  await withDb(s.mariaTarget.url(), (db) => db.exec('DROP DATABASE IF EXISTS ferry; DROP DATABASE IF EXISTS bench'));
  const mm = new Ferry('lat-mm', { source: { type: 'mysql', url: mariaUrl, serverId: 301 }, target: { type: 'mysql', url: s.mariaTarget.url() } });
  const mp = new Ferry('lat-mp', {
    source: { type: 'mysql', url: mariaUrl, serverId: 302 },
    target: { type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'lat_mp') },
  });
  await Promise.all([mm.snapshot(), mp.snapshot()]);
  const replica: Replicator = {
    tool: 'native replica (slave_parallel_threads=0)',
    targetUrl: s.mariaReplica.url('bench'),
    start: () => withDb(s.mariaReplica.url(), (db) => db.exec('START SLAVE')),
    stop: () => withDb(s.mariaReplica.url(), (db) => db.exec('STOP SLAVE')),
    expectRunning: () => withDb(s.mariaReplica.url(), expectReplicating),
  };
  await latencyRace(
    'CDC latency, MariaDB source (sysbench oltp_write_only)',
    mariaUrl,
    sysbench(s),
    [ferryReplicator('ferry → MariaDB', mm, s.mariaTarget.url('bench')), ferryReplicator('ferry → Postgres', mp, s.pgTarget.url('lat_mp')), replica],
    o,
  );

  // Postgres source: pgbench; ferry against a native subscription.
  await withDb(s.pgSource.url(), (db) => db.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'lat'"));
  const pgUrl = await freshDatabase(s.pgSource.url(), 'lat');
  await withDb(pgUrl, async (db) => {
    await createItems(db);
    await fillItems(db, 100_000);
    await createProbe(db);
    await db.exec('CREATE PUBLICATION bench_native FOR TABLE bench.items, bench.probe');
  });
  const pp = new Ferry('lat-pp', {
    source: { type: 'postgres', url: pgUrl },
    target: { type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'lat_ferry') },
  });
  await pp.snapshot();
  const nativeUrl = await freshDatabase(s.pgTarget.url(), 'lat_native');
  await withDb(nativeUrl, async (db) => {
    await createItems(db);
    await createProbe(db);
    await db.exec(`CREATE SUBSCRIPTION bench_native CONNECTION 'host=127.0.0.1 port=${s.pgSource.port} dbname=lat user=postgres' PUBLICATION bench_native`);
    await until("the subscription's initial copy", async () => (await db.scalar("SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")) === '0');
    await db.exec('ALTER SUBSCRIPTION bench_native DISABLE');
  });
  const subscription: Replicator = {
    tool: 'native logical replication',
    targetUrl: nativeUrl,
    start: () => withDb(nativeUrl, (db) => db.exec('ALTER SUBSCRIPTION bench_native ENABLE')),
    stop: () => withDb(nativeUrl, (db) => db.exec('ALTER SUBSCRIPTION bench_native DISABLE')),
    expectRunning: async () => {},
  };
  await latencyRace(
    'CDC latency, Postgres source (pgbench -R)',
    pgUrl,
    pgbench(pgUrl),
    [ferryReplicator('ferry → Postgres', pp, s.pgTarget.url('lat_ferry')), subscription],
    o,
  );
  await withDb(nativeUrl, async (db) => {
    await db.exec('ALTER SUBSCRIPTION bench_native SET (slot_name = NONE)');
    await db.exec('DROP SUBSCRIPTION bench_native');
  });
  await withDb(pgUrl, (db) => db.exec("SELECT pg_drop_replication_slot('bench_native')"));
}
