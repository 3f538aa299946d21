import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';
import { startWriteLoad } from '../helpers/write-load.js';

const run = promisify(execFile);

/** The mariadb client's connection arguments for a mysql:// URL of the test servers (root, no password). */
function clientArgs(url: string): string[] {
  const u = new URL(url);
  return ['-h', u.hostname, '-P', u.port, '-u', decodeURIComponent(u.username)];
}

/**
 * docs/operations.md's runbook on one MariaDB server: the source database dumped under a write load
 * with its binlog position, restored into the target database, then `ferry run` from that position
 * with tablePrep none. The dump's position is read from the lines mariadb-dump writes for a replica.
 */
async function dumpAndRestore(db: RouteDatabases, options: string[]): Promise<string> {
  const load = startWriteLoad(db.source, 'items', { firstId: 100_000, seedRows: 2000 });
  await waitFor('the write load', async () => load.transactions > 20);
  const { stdout: dump } = await run(
    'mariadb-dump',
    ['--no-defaults', ...clientArgs(db.source.url), '--master-data=2', '--single-transaction', ...options, db.name],
    {
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  await waitFor('writes after the dump', async () => load.transactions > 60);
  const restore = run('mariadb', ['--no-defaults', ...clientArgs(db.target.url), db.targetSchema]);
  restore.child.stdin!.end(dump);
  await restore;
  await load.stop();
  return dump;
}

async function runFrom(db: RouteDatabases, startPosition: Record<string, unknown>): Promise<void> {
  const config = writeConfig(db.config({ source: { type: 'mysql', url: db.source.url, startPosition }, snapshot: { mode: 'never', tablePrep: 'none' } }));
  const ferry = startCli(['run', '-c', config]);
  await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null);
  expect(ferry.output()).toMatch(/the stream starts at source\.startPosition/);
  await db.waitCaughtUp();
  const verdict = await verifyWithCli(config);
  expect(verdict.tables.map((t) => t.table)).toEqual([`${db.name}.items`]);
  expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);

  // A checkpoint wins over startPosition from then on, and says so.
  ferry.child.kill('SIGTERM');
  expect((await ferry.done).code).toBe(0);
  const again = startCli(['run', '-c', config]);
  await waitFor('the second start', async () => /streaming from/.test(again.output()) || again.child.exitCode !== null);
  expect(again.output()).toMatch(/the stream resumes at the checkpoint \S+.*, not at source\.startPosition/);
  again.child.kill('SIGTERM');
  expect((await again.done).code).toBe(0);
}

describe('source.startPosition: MariaDB, a restored dump', () => {
  let maria: LocalServer;
  const servers = () => ({ mariadb: maria.url(), postgres: inject('postgresUrl') });
  beforeAll(async () => {
    maria = await startMariaDb(); // private: the purge below would break the shared server's other tests
  });
  afterAll(async () => maria?.destroy());

  const seeded = async (name: string) => {
    const db = await routeDatabases({ source: 'mysql', target: 'mysql', label: 'MariaDB → MariaDB' }, name, servers());
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('mysql', 2000)}`);
    return db;
  };

  it('streams from the dump’s binlog file and offset: equal by checksums', async () => {
    const db = await seeded('sp_file');
    try {
      const dump = await dumpAndRestore(db, []);
      const m = /CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)/.exec(dump);
      expect(m, 'the dump names its binlog position').not.toBeNull();
      await runFrom(db, { file: m![1], pos: Number(m![2]) });
    } finally {
      await db.close();
    }
  });

  it('streams from the dump’s GTID position: equal by checksums', async () => {
    const db = await seeded('sp_gtid');
    try {
      const dump = await dumpAndRestore(db, ['--gtid']);
      const m = /gtid_slave_pos='([^']+)'/.exec(dump);
      expect(m, 'the dump names its GTID position').not.toBeNull();
      await runFrom(db, { gtid: m![1] });
    } finally {
      await db.close();
    }
  });

  it('refuses a purged position, naming the oldest binlog the source has', async () => {
    const db = await seeded('sp_purged');
    try {
      const [at] = await db.source.query('SHOW MASTER STATUS');
      const [gtid] = await db.source.query('SELECT @@gtid_binlog_pos AS pos');
      await db.source.query('INSERT INTO items VALUES (5001, 1, "a", 1); FLUSH BINARY LOGS; INSERT INTO items VALUES (5002, 1, "b", 1); FLUSH BINARY LOGS');
      const [head] = await db.source.query('SHOW MASTER STATUS');
      // The server keeps a binlog until its crash-recovery checkpoint has moved on: retry until it is gone.
      await waitFor(
        'the purge',
        async () => {
          await db.source.query(`PURGE BINARY LOGS TO '${head!.File}'`);
          return (await db.source.query('SHOW BINARY LOGS')).length === 1;
        },
        30_000,
      );
      for (const [startPosition, said] of [
        [{ file: at!.File, pos: Number(at!.Position) }, `it no longer has ${at!.File}: its oldest binlog is ${head!.File}`],
        [{ gtid: gtid!.pos }, `it no longer has GTID ${gtid!.pos}: its oldest binlog ${head!.File} starts after GTID`],
      ] as const) {
        const config = writeConfig(db.config({ source: { type: 'mysql', url: db.source.url, startPosition }, snapshot: { mode: 'never', tablePrep: 'none' } }));
        const r = await runCli(['run', '-c', config]);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(`the source cannot stream from source.startPosition`);
        expect(r.stderr).toContain(said);
        expect((await db.checkpoint())?.position ?? null, 'no position recorded').toBeNull();
      }
    } finally {
      await db.close();
    }
  });
});

describe('source.startPosition: Postgres, an LSN of an existing slot', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'sp_lsn');
  });
  afterAll(async () => db?.close());

  it('streams the changes after the LSN, and refuses one before the slot’s, naming it', async () => {
    await db.source.query(`${ITEMS_DDL}; CREATE PUBLICATION ferry_sp_lsn FOR TABLE items WITH (publish_via_partition_root = true)`);
    const [before] = await db.source.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const [slot] = await db.source.query("SELECT lsn::text FROM pg_create_logical_replication_slot('ferry_sp_lsn', 'pgoutput')");
    await db.source.query(seedItemsSql('postgres', 3)); // in the "backup": before the start position
    const [noted] = await db.source.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    await db.source.query("INSERT INTO items VALUES (4, 1, 'four', 4), (5, 1, 'five', 5); UPDATE items SET val = 'changed' WHERE id = 4");

    const early = writeConfig(
      db.config({ source: { type: 'postgres', url: db.source.url, startPosition: { lsn: before!.lsn } }, snapshot: { mode: 'never' } }),
    );
    const refused = await runCli(['run', '-c', early]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(
      `the source cannot stream from source.startPosition LSN ${before!.lsn}: replication slot ferry_sp_lsn has confirmed ${slot!.lsn}`,
    );
    expect((await db.checkpoint())?.position ?? null).toBeNull();

    const config = writeConfig(
      db.config({ source: { type: 'postgres', url: db.source.url, heartbeatSeconds: 1, startPosition: { lsn: noted!.lsn } }, snapshot: { mode: 'never' } }),
    );
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null);
    await db.waitCaughtUp();
    const rows = await db.target.query(`SELECT id, val FROM ${db.targetSchema}.items ORDER BY id`);
    expect(rows.map((r) => [Number(r.id), r.val])).toEqual([
      [4, 'changed'],
      [5, 'five'],
    ]);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
});
