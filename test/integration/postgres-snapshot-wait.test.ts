import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type LocalServer } from '../../src/demo/local-databases.js';
import { type RunningCli, startCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';

const PG_TO_PG = { source: 'postgres', target: 'postgres', label: 'Postgres → Postgres' } as const;

/**
 * Creating the slot for a fresh snapshot waits for every transaction open on the server to end. A
 * private server: the transaction this test holds open would hold back every other test's slot too.
 */
describe('Postgres snapshot held back by an open transaction', () => {
  let server: LocalServer;
  let db: RouteDatabases;
  let held: pg.Client;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    server = await startPostgres();
    db = await routeDatabases(PG_TO_PG, 'slot_wait', { mariadb: inject('mariadbUrl'), postgres: server.url() });
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 10)}`);
    held = new pg.Client({ connectionString: db.source.url, application_name: 'held-open-by-test' });
    await held.connect();
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await held?.end().catch(() => {});
    await db?.close();
    await server?.destroy();
  });

  it('names the transaction it waits for within seconds, and goes on once it commits', async () => {
    const {
      rows: [{ pid }],
    } = await held.query('SELECT pg_backend_pid() AS pid');
    await held.query('BEGIN');
    await held.query("INSERT INTO items VALUES (11, 1, 'held', 1)");
    const started = Date.now();
    ferry = startCli(['run', '-c', writeConfig(db.config())]);
    const line = await waitFor(
      'the wait to be named',
      async () =>
        ferry!
          .output()
          .split('\n')
          .find((l) => l.includes('has waited')),
      15_000,
    );
    const namedAfterMs = Date.now() - started;
    const { msg } = JSON.parse(line) as { msg: string };
    expect(msg).toMatch(
      new RegExp(
        `creating replication slot ferry_slot_wait \\(the snapshot's starting point\\) has waited \\d+s for 1 open transaction to end: pid ${pid} \\(application held-open-by-test, user \\w+, database slot_wait; idle in transaction for \\d+s, last statement: INSERT INTO items`,
      ),
    );
    expect(msg).toMatch(new RegExp(`fix: commit or roll back in those sessions, or end them: SELECT pg_terminate_backend\\(${pid}\\)`));
    expect(namedAfterMs).toBeLessThan(15_000);
    expect((await db.checkpoint())?.phase ?? 'none').not.toBe('stream');

    await held.query('COMMIT');
    await waitFor('the snapshot to finish', async () => (await db.checkpoint())?.phase === 'stream', 60_000);
    expect(await db.target.query('SELECT count(*)::int AS n FROM items')).toEqual([{ n: 11 }]);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    console.log(`named the open transaction ${namedAfterMs} ms after ferry started`);
  });
});
