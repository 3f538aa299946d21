import { backlogFor, createItems, fingerprint, hasMarker, writeBacklog } from './data.js';
import { freshDatabase, until, withDb, type Db } from './db.js';
import { Ferry, type FerryProcess } from './processes.js';
import type { Arm, Contender } from './race.js';
import type { Servers } from './servers.js';

/** Polls `url` until the backlog's marker row is there: everything before it was applied, in order. */
async function untilMarker(url: string): Promise<void> {
  await withDb(url, (db) => until(`the backlog marker in ${url}`, () => hasMarker(db)));
}

/** Throws unless `url`'s bench.items fingerprints like the source's. */
async function expectEqual(url: string, expected: string | null): Promise<void> {
  const actual = await withDb(url, fingerprint);
  if (actual !== expected) throw new Error(`${url}: bench.items is ${actual} (count:sum(qty):sum(length(note))), the source's is ${expected}`);
}

/** ferry draining a backlog it has not read yet: timed from `ferry run` until the marker is on the target. */
function ferryDrain(targetUrl: string, pipeline: () => Ferry, expected: () => string | null, arm?: string): Contender {
  let running: FerryProcess;
  return {
    tool: 'ferry',
    arm,
    async run() {
      running = pipeline().run();
      await Promise.race([untilMarker(targetUrl), running.running.done.then(() => Promise.reject(new Error('ferry stopped before the backlog was applied')))]);
    },
    async check() {
      await running.stop();
      await expectEqual(targetUrl, expected());
    },
  };
}

export function drainArms(s: Servers, rows: number): Arm[] {
  const backlog = backlogFor(rows);
  const work = backlog.inserts + backlog.updates + backlog.deletes;

  // Postgres → Postgres: ferry and a native subscription, each with its slot made before the backlog.
  let ppFerry: Ferry;
  let ppExpected: string | null = null;
  const pgSourceUrl = s.pgSource.url('drain');
  const pgToPg: Arm = {
    name: 'CDC drain Postgres → Postgres',
    work,
    async setupRun(run) {
      await withDb(s.pgSource.url(), (db) => db.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'drain'"));
      await withDb(await freshDatabase(s.pgSource.url(), 'drain'), createItems);
      ppFerry = new Ferry(`drain-pp-${run}`, {
        source: { type: 'postgres', url: pgSourceUrl },
        target: { type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'drain_ferry') },
      });
      await ppFerry.snapshot();
      await withDb(await freshDatabase(s.pgTarget.url(), 'drain_native'), async (db) => {
        await createItems(db);
        await withDb(pgSourceUrl, (src) => src.exec('CREATE PUBLICATION bench_native FOR TABLE bench.items, bench.done'));
        await db.exec(`CREATE SUBSCRIPTION bench_native CONNECTION 'host=127.0.0.1 port=${s.pgSource.port} dbname=drain user=postgres'
          PUBLICATION bench_native WITH (copy_data = false, enabled = false)`);
      });
      await withDb(pgSourceUrl, async (db) => {
        await writeBacklog(db, backlog);
        ppExpected = await fingerprint(db);
      });
    },
    contenders: [
      ferryDrain(
        s.pgTarget.url('drain_ferry'),
        () => ppFerry,
        () => ppExpected,
      ),
      {
        tool: 'native logical replication (CREATE SUBSCRIPTION)',
        run: () =>
          withDb(s.pgTarget.url('drain_native'), async (db) => {
            await db.exec('ALTER SUBSCRIPTION bench_native ENABLE');
            await until('the subscription to apply the backlog', () => hasMarker(db));
          }),
        check: () =>
          withDb(s.pgTarget.url('drain_native'), async (db) => {
            await db.exec('ALTER SUBSCRIPTION bench_native DISABLE');
            await db.exec('ALTER SUBSCRIPTION bench_native SET (slot_name = NONE)');
            await db.exec('DROP SUBSCRIPTION bench_native');
            // Slot names are server-wide: the latency arm's subscription takes the same name.
            await withDb(pgSourceUrl, (src) => src.exec("SELECT pg_drop_replication_slot('bench_native')"));
            await expectEqual(s.pgTarget.url('drain_native'), ppExpected);
          }),
      },
    ],
  };

  // MariaDB → Postgres and MariaDB → MariaDB share one backlog; the peer is a native replica.
  let mpFerry: Ferry;
  let mmFerry: Ferry;
  let mExpected: string | null = null;
  let start = { file: '', pos: 0 };
  const mariaSourceUrl = s.mariaSource.url('bench');
  const replica = (threads: number): Contender => ({
    tool: `native replica (slave_parallel_threads=${threads})`,
    prepare: () =>
      withDb(s.mariaReplica.url(), async (db) => {
        await resetReplica(db);
        await db.exec(`SET GLOBAL slave_parallel_threads = ${threads}`);
        await db.exec(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${s.mariaSource.port}, MASTER_USER = 'root', MASTER_PASSWORD = '',
        MASTER_LOG_FILE = '${start.file}', MASTER_LOG_POS = ${start.pos}, MASTER_USE_GTID = no`);
      }),
    run: () =>
      withDb(s.mariaReplica.url(), async (db) => {
        await db.exec('START SLAVE');
        await until('the replica to apply the backlog', async () => {
          await expectReplicating(db);
          return hasMarker(db);
        });
      }),
    check: async () => {
      await withDb(s.mariaReplica.url(), (db) => db.exec('STOP SLAVE'));
      await expectEqual(s.mariaReplica.url('bench'), mExpected);
    },
  });
  const mariaSource: Arm = {
    name: 'CDC drain MariaDB → MariaDB',
    work,
    async setupRun(run) {
      await withDb(s.mariaReplica.url(), resetReplica);
      await withDb(await freshDatabase(s.mariaSource.url(), 'bench'), createItems);
      const source = { type: 'mysql', url: mariaSourceUrl };
      mpFerry = new Ferry(`drain-mp-${run}`, {
        source: { ...source, serverId: 201 },
        target: { type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'drain_mp') },
      });
      await withDb(s.mariaTarget.url(), (db) => db.exec('DROP DATABASE IF EXISTS ferry; DROP DATABASE IF EXISTS bench'));
      mmFerry = new Ferry(`drain-mm-${run}`, { source: { ...source, serverId: 202 }, target: { type: 'mysql', url: s.mariaTarget.url() } });
      await Promise.all([mpFerry.snapshot(), mmFerry.snapshot()]);
      await withDb(mariaSourceUrl, async (db) => {
        const [file, pos] = (await db.row('SHOW MASTER STATUS'))!;
        start = { file: file!, pos: Number(pos) };
        await writeBacklog(db, backlog);
        mExpected = await fingerprint(db);
      });
    },
    contenders: [
      ferryDrain(
        s.pgTarget.url('drain_mp'),
        () => mpFerry,
        () => mExpected,
        'CDC drain MariaDB → Postgres',
      ),
      ferryDrain(
        s.mariaTarget.url('bench'),
        () => mmFerry,
        () => mExpected,
      ),
      replica(0),
      replica(2),
    ],
  };
  return [pgToPg, mariaSource];
}

/** Throws when the replica's threads stopped on an error. */
export async function expectReplicating(db: Db): Promise<void> {
  const error = await db.scalar('SELECT concat(Last_SQL_Error, Last_IO_Error) FROM information_schema.SLAVE_STATUS').catch(() => null);
  if (error) throw new Error(`the MariaDB replica stopped: ${error}`);
}

/**
 * Stops the replica, forgets its source, and empties its copy of bench. It replicates only tables
 * of bench (a table filter, unlike a database filter, also skips DDL of ferry's own heartbeat table).
 */
export async function resetReplica(db: Db): Promise<void> {
  await db.exec('STOP SLAVE');
  await db.exec('RESET SLAVE ALL');
  await db.exec("SET GLOBAL replicate_wild_do_table = 'bench.%'");
  await db.exec('DROP DATABASE IF EXISTS bench');
  await createItems(db);
}
