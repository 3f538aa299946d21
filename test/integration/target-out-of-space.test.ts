import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { type RunningCli, startStreaming, waitFor } from '../helpers/ferry.js';

/**
 * A target whose disk is full: Postgres raises SQLSTATE 53100 with its own hint when a write cannot
 * extend a file. A trigger that fires for replication sessions too (ENABLE ALWAYS) raises exactly that,
 * and dropping it is "space freed".
 */
describe('a target out of disk space', () => {
  let db: TestDatabases;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await testDatabases('outofspace');
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it("says so with Postgres's hint, not as a rejected row, and resumes by itself once space is back", async () => {
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)');
    ({ ferry } = await startStreaming(db));
    await db.pg.query(`
      CREATE FUNCTION outofspace.disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        RAISE EXCEPTION 'could not extend file "base/16384/16390": No space left on device' USING ERRCODE = 'disk_full', HINT = 'Check free disk space.';
      END $$;
      CREATE TRIGGER disk_full BEFORE INSERT ON outofspace.t FOR EACH ROW EXECUTE FUNCTION outofspace.disk_full();
      ALTER TABLE outofspace.t ENABLE ALWAYS TRIGGER disk_full`);
    await db.my.query('INSERT INTO t VALUES (2, 2)');

    const line = await waitFor(
      'the retry line',
      async () =>
        ferry!
          .output()
          .split('\n')
          .find((l) => l.includes('out of disk space')),
      30_000,
    );
    const { msg } = JSON.parse(line) as { msg: string };
    expect(msg).toMatch(
      /^stream interrupted \(the target, applying a change to outofspace\.t: out of disk space \(could not extend file "base\/16384\/16390": No space left on device\)\); fix: Check free disk space\. Then free disk space on that server/,
    );
    expect(ferry.output()).not.toMatch(/target rejected|fix the target table/);
    expect(ferry.child.exitCode).toBeNull();

    await db.pg.query('DROP TRIGGER disk_full ON outofspace.t');
    await waitFor('row 2 on the target', async () => (await db.pg.query('SELECT v FROM outofspace.t WHERE id = 2')).rows[0]?.v === 2, 60_000);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
});
