import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres, type LocalServer } from '../../src/demo/local-databases.js';
import { startCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';

/**
 * A replicated table that stays quiet while another table writes: ferry's WAL heartbeat keeps the
 * slot's confirmed_flush_lsn near the WAL head, so the slot does not pin WAL. A private server, so
 * the WAL is this test's alone.
 */
describe('Postgres slot on a quiet replicated table', () => {
  let server: LocalServer;
  let db: RouteDatabases;
  let ferry: RunningCli;
  beforeAll(async () => {
    server = await startPostgres();
    db = await routeDatabases({ source: 'postgres', target: 'postgres', label: 'Postgres → Postgres' }, 'slot_idle', {
      mariadb: inject('mariadbUrl'),
      postgres: server.url(),
    });
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
    await server?.destroy();
  });

  it('after an idle minute with writes to a non-replicated table, confirmed_flush_lsn is within 1 MiB of the WAL head', async () => {
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 100)}; CREATE TABLE noise (id serial PRIMARY KEY, payload text)`);
    const base = db.config();
    // The default heartbeat interval, and only items replicated.
    const config = writeConfig({ ...base, source: { ...(base.source as object), heartbeatSeconds: 5 }, tables: { include: ['public.items'] } });
    ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    const started = Date.now();
    let writes = 0;
    while (Date.now() - started < 60_000) {
      await db.source.query("INSERT INTO noise (payload) SELECT repeat('n', 1000) FROM generate_series(1, 5)");
      writes++;
      await sleep(100);
    }
    const [s] = await db.source.query(`SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint AS behind,
      pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS head FROM pg_replication_slots WHERE slot_name = 'ferry_slot_idle'`);
    const walWritten = Number(s!.head);
    console.log(
      `slot: ${writes} write transactions to a non-replicated table over 60 s; confirmed_flush_lsn ${Number(s!.behind)} bytes behind the WAL head (head at ${walWritten} bytes)`,
    );
    expect(Number(s!.behind)).toBeLessThan(1024 * 1024);
    expect(ferry.child.exitCode).toBeNull();
  });
});
