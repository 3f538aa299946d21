import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, startPostgres, type LocalServer } from '../../src/demo/local-databases.js';
import { startCli, verifyWithCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';
import { startWriteLoad } from '../helpers/write-load.js';

/**
 * Postgres → MariaDB with both servers private, so this file may kill them: the source server (the
 * slot survives a crash) and the MySQL target, each killed (-9) and restarted under a write load.
 */
describe('Postgres → MariaDB: servers killed and restarted mid-stream', () => {
  let source: LocalServer;
  let target: LocalServer;
  let db: RouteDatabases;
  let ferry: RunningCli;
  let config: string;
  beforeAll(async () => {
    [source, target] = await Promise.all([startPostgres(), startMariaDb()]);
    db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'pg_restart', {
      mariadb: target.url(),
      postgres: source.url(),
    });
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 5000)}`);
    config = writeConfig(db.config());
    ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close().catch(() => {});
    await Promise.all([source?.destroy(), target?.destroy()]);
  });

  /** A connection of the test's own to the source database (the route's dies with a killed server). */
  async function sourceClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: db.source.url });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async function expectEqualAfterCatchUp(): Promise<void> {
    await db.waitCaughtUp(120_000);
    const verdict = await verifyWithCli(config);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    expect(ferry.child.exitCode, 'ferry kept running').toBeNull();
  }

  it('when the source server is killed (-9) and restarted', async () => {
    const client = await sourceClient();
    const load = startWriteLoad(client, 'items', { firstId: 100_000, pauseMs: 5, seedRows: 5000 });
    await sleep(1000);
    await source.kill();
    await load.stop().catch(() => {}); // the load's connection dies with the server
    await sleep(1000);
    await source.start();
    const again = await sourceClient();
    const load2 = startWriteLoad(again, 'items', { firstId: 200_000, pauseMs: 5, seedRows: 5000 });
    await sleep(1500);
    await load2.stop();
    await again.end();
    await expectEqualAfterCatchUp();
    expect(ferry.output()).toMatch(/reconnecting in/);
  });

  it('when the MySQL target server is killed (-9) and restarted', async () => {
    const client = await sourceClient();
    const load = startWriteLoad(client, 'items', { firstId: 300_000, pauseMs: 5, seedRows: 5000 });
    await sleep(1000);
    await target.kill();
    await sleep(1000);
    await target.start();
    await sleep(1500);
    await load.stop();
    await client.end();
    await expectEqualAfterCatchUp();
  });
});
