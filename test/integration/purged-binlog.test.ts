import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { inject } from 'vitest';
import { startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, pipelineConfig, runCli, startStreaming, waitCaughtUp, waitFor, writeConfig } from '../helpers/ferry.js';

describe('the binlog ferry must resume from was purged', () => {
  let maria: LocalServer;
  let db: TestDatabases;
  beforeAll(async () => {
    maria = await startMariaDb(); // private: purging the shared server's binlogs would break other tests
    db = await testDatabases('purged', { mariadb: maria.url(), postgres: inject('postgresUrl') });
  });
  afterAll(async () => {
    await db?.close();
    await maria?.destroy();
  });

  it('stops with an error that says so and how to recover, and keeps the checkpoint', async () => {
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)');
    const { config, ferry } = await startStreaming(db);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    const before = await checkpointOf(db.pg, 'purged');

    await db.my.query('INSERT INTO t VALUES (2, 2); FLUSH BINARY LOGS; INSERT INTO t VALUES (3, 3); FLUSH BINARY LOGS');
    const [[head]] = (await db.my.query('SHOW MASTER STATUS')) as unknown as [{ File: string }[]];
    // The server keeps a binlog until its crash-recovery checkpoint has moved on: retry until it is gone.
    await waitFor(
      'the purge',
      async () => {
        await db.my.query(`PURGE BINARY LOGS TO '${head!.File}'`);
        const [logs] = await db.my.query('SHOW BINARY LOGS');
        return (logs as unknown[]).length === 1;
      },
      30_000,
    );

    const r = await runCli(['run', '-c', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no longer has the binlog ferry must resume from/);
    expect(r.stderr).toMatch(/re-snapshot with snapshot\.mode: always/);
    expect(await checkpointOf(db.pg, 'purged')).toEqual(before);
  });

  it('tells a different server at the source URL (a new primary behind ferry) from a purge', async () => {
    const ours = await testDatabases('newprimary', { mariadb: maria.url(), postgres: inject('postgresUrl') });
    const other = await startMariaDb({ serverId: 2 });
    try {
      await ours.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)');
      const { ferry } = await startStreaming(ours);
      // More transactions applied than the other server will ever have written when ferry meets it.
      for (let id = 2; id <= 11; id++) await ours.my.query('INSERT INTO t VALUES (?, ?)', [id, id]);
      await waitCaughtUp(ours.my, ours.pg, 'newprimary');
      ferry.child.kill('SIGTERM');
      expect((await ferry.done).code).toBe(0);
      const before = await checkpointOf(ours.pg, 'newprimary');

      // The "new primary": the same database and table, none of the transactions ferry applied.
      const admin = await mysql.createConnection({ uri: other.url(), multipleStatements: true });
      await admin.query('CREATE DATABASE newprimary; CREATE TABLE newprimary.t (id INT PRIMARY KEY, v INT)');
      await admin.end();
      const moved = new URL(other.url());
      moved.pathname = '/newprimary';
      const r = await runCli(['run', '-c', writeConfig(pipelineConfig('newprimary', moved.toString(), ours.pgUrl))]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /the source is a different server than the one ferry streamed from \(a failover to a new primary\?\): its binlog ends at GTID 0-2-\d+, before ferry's checkpoint 0-1-\d+/,
      );
      expect(r.stderr).toMatch(/Point source\.url back at the server ferry streamed from/);
      expect(r.stderr).not.toMatch(/no longer has the binlog|was purged/);
      expect(await checkpointOf(ours.pg, 'newprimary')).toEqual(before);
    } finally {
      await ours.close();
      await other.destroy();
    }
  });
});
