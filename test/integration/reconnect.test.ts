import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import mysql from 'mysql2/promise';
import { startMariaDb, startPostgres, type LocalServer } from '../../src/demo/local-databases.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, type RunningCli, startStreaming, verifyWithCli, waitCaughtUp, waitFor } from '../helpers/ferry.js';
import { startWriteLoad } from '../helpers/write-load.js';
import { startProxy } from '../helpers/tcp-proxy.js';

/**
 * Lost connections and restarted servers, on private servers this file may kill.
 * ferry must notice, say so in its log, resume from its checkpoint by itself, and lose nothing.
 */
describe('ferry resumes by itself', () => {
  let maria: LocalServer;
  let postgres: LocalServer;
  let db: TestDatabases;
  let ferry: RunningCli;
  let config: string;

  beforeAll(async () => {
    [maria, postgres] = await Promise.all([startMariaDb(), startPostgres()]);
    db = await testDatabases('reconnect', { mariadb: maria.url(), postgres: postgres.url() });
    await db.my.query('CREATE TABLE items (id INT PRIMARY KEY, grp INT NOT NULL, val VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL)');
    await db.my.query("INSERT INTO items SELECT seq, seq % 17, CONCAT('seed', seq), seq FROM seq_1_to_20000");
    ({ config, ferry } = await startStreaming(db, { log: { level: 'debug' } }));
  });
  // When a case fails, what ferry said is the first thing to read.
  beforeEach(() => onTestFailed(() => console.log(`ferry output:\n${ferry?.output()}`)));
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
    await Promise.all([maria?.destroy(), postgres?.destroy()]);
  });

  /** A fresh source connection (the test's own dies with the server). */
  async function source() {
    const my = await mysql.createConnection({ uri: db.mysqlUrl, multipleStatements: true });
    my.on('error', () => {}); // it dies with the server in one of the tests
    return my;
  }

  /** Each retry line's resume point, with where the failed attempt and the next one started streaming. */
  function retryLines(output: string): { resumesFrom: string; failedFrom?: string; nextFrom?: string }[] {
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; from?: string; resumesFrom?: string });
    const starts = lines.map((l, i) => ({ i, from: l.msg.startsWith('streaming from ') ? l.from : undefined })).filter((s) => s.from !== undefined);
    return lines.flatMap((l, i) =>
      l.resumesFrom === undefined
        ? []
        : [
            {
              resumesFrom: l.resumesFrom,
              failedFrom: starts.filter((s) => s.i < i).pop()?.from,
              nextFrom: starts.find((s) => s.i > i)?.from,
            },
          ],
    );
  }

  async function expectEqualAfterCatchUp(): Promise<void> {
    const my = await source();
    try {
      await waitCaughtUp(my, db.pg, 'reconnect', 120_000);
    } finally {
      await my.end();
    }
    expect((await verifyWithCli(config)).equal).toBe(true);
  }

  it('when the binlog connection is killed on the server', async () => {
    const my = await source();
    const startedFrom = await checkpointOf(db.pg, 'reconnect');
    const load = startWriteLoad(my, 'items', { firstId: 100_000, pauseMs: 5 });
    // The attempt that fails must have committed something: its retry line names that, not where it began.
    await waitFor('a commit of the first attempt', async () => !isDeepStrictEqual(await checkpointOf(db.pg, 'reconnect'), startedFrom), 30_000);
    const [threads] = await my.query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    expect((threads as unknown[]).length).toBe(1);
    await my.query(`KILL ${(threads as { ID: number }[])[0]!.ID}`);
    await sleep(1500);
    await load.stop();
    await my.end();
    await expectEqualAfterCatchUp();
    expect(ferry.output()).toMatch(/reconnecting in/);
    expect(ferry.child.exitCode).toBeNull();
    const [retry] = retryLines(ferry.output());
    expect(retry!.resumesFrom).toBe(retry!.nextFrom);
    expect(retry!.resumesFrom).not.toBe(retry!.failedFrom);
  });

  it('when the source server is killed (-9) and restarted mid-stream', async () => {
    const my = await source();
    const load = startWriteLoad(my, 'items', { firstId: 200_000, pauseMs: 5 });
    await sleep(800);
    await maria.kill();
    await load.stop().catch(() => {}); // the load's connection dies with the server
    await my.destroy();
    await sleep(1000);
    await maria.start();
    const again = await source();
    const load2 = startWriteLoad(again, 'items', { firstId: 300_000, pauseMs: 5 });
    await sleep(1000);
    await load2.stop();
    await again.end();
    await expectEqualAfterCatchUp();
    expect(ferry.child.exitCode).toBeNull();
  });

  it('when the target server is killed (-9) and restarted mid-stream', async () => {
    const my = await source();
    const load = startWriteLoad(my, 'items', { firstId: 400_000, pauseMs: 5 });
    await sleep(800);
    await db.pg.end();
    await postgres.kill();
    await sleep(1500);
    await postgres.start();
    await load.stop();
    await my.end();
    (db as { pg: unknown }).pg = await reconnectPg(db.pgUrl);

    await expectEqualAfterCatchUp();
    expect(ferry.child.exitCode).toBeNull();
    ferry!.child.kill('SIGTERM');
    expect((await ferry!.done).code).toBe(0);
  });
});

async function reconnectPg(url: string) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('a binlog connection that goes silent (a half-open TCP session)', () => {
  let db: TestDatabases;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let ferry: RunningCli | undefined;
  beforeEach(() => onTestFailed(() => console.log(`ferry output:\n${ferry?.output()}`)));
  beforeAll(async () => {
    db = await testDatabases('silent');
    proxy = await startProxy(Number(new URL(db.mysqlUrl).port));
  });
  afterAll(async () => {
    await proxy?.close();
    await db?.close();
  });

  it('is restarted by the stall watchdog, and an idle healthy stream is not', async () => {
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
    const viaProxy = new URL(db.mysqlUrl);
    viaProxy.port = String(proxy.port);
    ({ ferry } = await startStreaming(
      { ...db, mysqlUrl: viaProxy.toString() },
      { source: { type: 'mysql', url: viaProxy.toString(), stallTimeoutSeconds: 5 } },
    ));
    // A first change proves the binlog connection is up (and through the proxy) before it goes silent.
    await db.my.query('INSERT INTO t VALUES (1, 1)');
    await waitCaughtUp(db.my, db.pg, 'silent');
    // Idle but alive: heartbeats keep the watchdog quiet for longer than its timeout.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    expect(ferry!.output()).not.toMatch(/not even heartbeats|stream interrupted/);
    proxy.silence();
    await db.my.query('INSERT INTO t VALUES (2, 2)');
    await waitFor('the watchdog', async () => /no binlog packets, not even heartbeats, for \d+s/.test(ferry!.output()), 30_000);
    await waitCaughtUp(db.my, db.pg, 'silent');
    const { rows } = await db.pg.query('SELECT count(*)::int AS n FROM silent.t');
    expect(rows[0].n).toBe(2);
    ferry!.child.kill('SIGTERM');
    expect((await ferry!.done).code).toBe(0);
  });
});
