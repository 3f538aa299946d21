import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ROUTES, routeDatabases, type RouteDatabases } from '../helpers/routes.js';

const route = ROUTES.find((r) => r.source === 'postgres' && r.target === 'postgres')!;

/**
 * A Postgres source's stderr through a fresh start and a resume: no Node warning (its one SQL
 * connection was given a query while another ran: pg 8 warns, pg 9 refuses), and one
 * "streaming from" per start (the WAL stream wrote its own as well).
 */
describe('Postgres source: what a run writes to stderr', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(route, 'pgsrc_logs');
    await db.source.query("CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 1000) g");
  });
  afterAll(async () => db?.close());

  it('has no DeprecationWarning and one "streaming from" per start', async () => {
    const config = writeConfig(db.config());
    for (const [start, id] of [
      ['fresh', 1001],
      ['resumed', 1002],
    ] as const) {
      // --trace-deprecation: a warning that comes anyway names its stack in the failure.
      const ferry = startCli(['run', '-c', config], { NODE_OPTIONS: '--trace-deprecation' });
      // The heartbeat starts with the stream and reads the head and the slot on the source connection at once.
      await waitFor(`the ${start} stream to start`, async () => /streaming from/.test(ferry.output()));
      await db.source.query(`INSERT INTO items VALUES (${id}, 'new')`);
      await waitFor(`row ${id} on the target`, async () => (await db.target.query(`SELECT 1 FROM ${db.targetSchema}.items WHERE id = ${id}`)).length === 1);
      ferry.child.kill('SIGTERM');
      const r = await ferry.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr, start).not.toContain('DeprecationWarning');
      expect(r.stderr.match(/streaming from/g), start).toHaveLength(1);
    }
  });
});
