import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, runCli, startStreaming, waitFor } from '../helpers/ferry.js';

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
    await waitFor('the purge', async () => {
      await db.my.query(`PURGE BINARY LOGS TO '${head!.File}'`);
      const [logs] = await db.my.query('SHOW BINARY LOGS');
      return (logs as unknown[]).length === 1;
    }, 30_000);

    const r = await runCli(['run', '-c', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no longer has the binlog ferry must resume from/);
    expect(r.stderr).toMatch(/re-snapshot with snapshot\.mode: always/);
    expect(await checkpointOf(db.pg, 'purged')).toEqual(before);
  });
});
