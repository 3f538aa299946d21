import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPostgres, type LocalServer } from '../../src/demo/local-databases.js';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';

const PG_TO_PG = { source: 'postgres', target: 'postgres', label: 'Postgres → Postgres' } as const;

describe('Postgres source: bad input gets a clear error and loses nothing', () => {
  let replicaOnly: LocalServer;
  beforeAll(async () => {
    replicaOnly = await startPostgres({ walLevel: 'replica' });
  });
  afterAll(async () => replicaOnly?.destroy());

  it('wal_level=replica: check and run refuse, naming the setting and the fix; the target stays untouched', async () => {
    const db = await routeDatabases(PG_TO_PG, 'bad_wal', { mariadb: inject('mariadbUrl'), postgres: replicaOnly.url() });
    try {
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 10)}`);
      const config = writeConfig(db.config());
      const check = await runCli(['check', '-c', config]);
      expect(check.code).toBe(2);
      expect(check.stdout).toMatch(/wal_level is replica; logical decoding needs wal_level=logical/);
      expect(check.stdout).toMatch(/ALTER SYSTEM SET wal_level = 'logical'/);
      const run = await runCli(['run', '-c', config]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/preflight failed/);
      expect(await db.target.query("SELECT to_regclass('public.items') AS t")).toEqual([{ t: null }]);
    } finally {
      await db.close();
    }
  });

  it('a user that may not create the publication: check names the publication and the statement to run', async () => {
    const db = await routeDatabases(PG_TO_PG, 'bad_pub');
    try {
      await db.source.query(`${ITEMS_DDL};
        DROP ROLE IF EXISTS ferry_nopub; CREATE ROLE ferry_nopub LOGIN REPLICATION;
        GRANT SELECT ON items TO ferry_nopub;`);
      const url = new URL(db.source.url);
      url.username = 'ferry_nopub';
      const config = writeConfig({ ...db.config(), source: { type: 'postgres', url: url.toString() } });
      const check = await runCli(['check', '-c', config]);
      expect(check.code).toBe(2);
      expect(check.stdout).toMatch(/publication ferry_bad_pub does not exist and this user may not create it \(no CREATE privilege on the database\)/);
      expect(check.stdout).toMatch(/CREATE PUBLICATION ferry_bad_pub FOR TABLE public\.items/);
    } finally {
      await db.close();
    }
  });

  it('tables without a primary key (unless REPLICA IDENTITY FULL), or whose replica identity does not carry it, are refused', async () => {
    const db = await routeDatabases(PG_TO_PG, 'bad_nokey');
    try {
      await db.source.query(`CREATE TABLE nokey (a int); CREATE TABLE nokey_full (a int); ALTER TABLE nokey_full REPLICA IDENTITY FULL; ${ITEMS_DDL};
        CREATE TABLE ident_nothing (id int PRIMARY KEY); ALTER TABLE ident_nothing REPLICA IDENTITY NOTHING;
        CREATE TABLE ident_index (id int PRIMARY KEY, code int NOT NULL UNIQUE); ALTER TABLE ident_index REPLICA IDENTITY USING INDEX ident_index_code_key;`);
      const check = await runCli(['check', '-c', writeConfig(db.config())]);
      expect(check.code).toBe(2);
      expect(check.stdout).toMatch(/table public\.nokey has no primary key \(replica identity DEFAULT\)/);
      expect(check.stdout).toMatch(
        /\[warning: primary key\] table public\.nokey_full has no primary key: its rows are keyed by all columns \(replica identity FULL\)/,
      );
      expect(check.stdout).toMatch(/check failed: 3 problem/);
      expect(check.stdout).toMatch(/table public\.ident_nothing has replica identity NOTHING, which does not carry its primary key \(id\)/);
      expect(check.stdout).toMatch(/table public\.ident_index has replica identity USING INDEX \(code\), which does not carry its primary key \(id\)/);
      expect(check.stdout).not.toMatch(/public\.items/);
    } finally {
      await db.close();
    }
  });

  it('a replicated table renamed mid-stream stops ferry before any of its later changes is skipped', async () => {
    const db = await routeDatabases(PG_TO_PG, 'bad_rename');
    try {
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 10)}`);
      const config = writeConfig(db.config());
      const ferry = startCli(['run', '-c', config]);
      // The WAL sender is attached once ferry checked the publication and started replicating; the slot is
      // active during the snapshot's start too (it is created with an exported snapshot), so the phase is waited for first.
      await waitFor(
        'the WAL stream to start',
        async () =>
          (await db.checkpoint())?.phase === 'stream' &&
          /streaming from/.test(ferry.output()) &&
          (await db.source.query("SELECT active FROM pg_replication_slots WHERE slot_name = 'ferry_bad_rename'"))[0]?.active === true,
      );
      const before = await db.checkpoint();
      await db.source.query('ALTER TABLE items RENAME TO items_old; UPDATE items_old SET amount = 0 WHERE id = 1');
      const r = await ferry.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/table public\.items was renamed to public\.items_old at the source/);
      expect((await db.target.query('SELECT amount FROM public.items WHERE id = 1'))[0]!.amount).not.toBe('0.00');
      // Heartbeats may have moved it, the rename's transaction never.
      const after = await db.checkpoint();
      expect(BigInt(String(after!.position!.lsn)) >= BigInt(String(before!.position!.lsn))).toBe(true);
      // A table dropped and created again while ferry was stopped is no longer published: ferry says so at start.
      await db.source.query(`DROP TABLE items_old; ${ITEMS_DDL}; ${seedItemsSql('postgres', 10)}`);
      const again = await runCli(['run', '-c', config]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/public\.items is not in publication ferry_bad_rename \(dropped and created again/);
    } finally {
      await db.close();
    }
  });

  it('a value the MySQL target would round stops ferry without committing it', async () => {
    const db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'bad_round');
    try {
      await db.source.query('CREATE TABLE amounts (id int PRIMARY KEY, v numeric)');
      const ferry = startCli(['run', '-c', writeConfig(db.config())]);
      await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
      await db.source.query('INSERT INTO amounts VALUES (1, 1.5)');
      await db.waitCaughtUp();
      await db.source.query('INSERT INTO amounts VALUES (2, 0.1234567890123456789012345678901234)');
      const r = await ferry.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the target would change values of `bad_round_t`\.`amounts`/);
      const rows = await db.target.query('SELECT id FROM bad_round_t.amounts ORDER BY id');
      expect(rows.map((x) => Number(x.id))).toEqual([1]);
    } finally {
      await db.close();
    }
  });

  it('a primary key added at the source to a table copied without one stops ferry at start, naming both keys', async () => {
    const db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'bad_newkey');
    try {
      await db.source.query("CREATE TABLE log (id int NOT NULL, msg text); ALTER TABLE log REPLICA IDENTITY FULL; INSERT INTO log VALUES (1, 'a'), (2, 'b')");
      const config = writeConfig(db.config());
      const first = startCli(['run', '-c', config]);
      await waitFor('the stream to start', async () => /streaming from/.test(first.output()));
      first.child.kill('SIGTERM');
      expect((await first.done).code).toBe(0);
      await db.source.query('ALTER TABLE log ADD PRIMARY KEY (id)');
      const second = await runCli(['run', '-c', config]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/the primary key is \(none\) in the target, but \(id\) at the source/);
    } finally {
      await db.close();
    }
  });

  it('an interrupted snapshot with a table without a key starts over by itself and ends equal', async () => {
    const db = await routeDatabases(PG_TO_PG, 'restart_keyless');
    try {
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 100_000)};
        CREATE TABLE log (at int, msg text); ALTER TABLE log REPLICA IDENTITY FULL;
        INSERT INTO log SELECT g % 10, 'dup' FROM generate_series(1, 5000) g;`);
      const config = writeConfig(db.config({ snapshot: { chunkRows: 1000, parallelism: 1 } }));
      const first = startCli(['run', '-c', config]);
      await waitFor('a committed chunk', async () => (await db.snapshotRows()) > 0, 30_000);
      first.child.kill('SIGKILL');
      await first.done;
      expect((await db.checkpoint())?.phase).toBe('snapshot');
      const second = startCli(['run', '-c', config]);
      await waitFor('the stream to start', async () => /streaming from/.test(second.output()), 60_000);
      expect(second.output()).toMatch(/the interrupted snapshot starts over, every table emptied: public\.log has no primary key/);
      await db.source.query("DELETE FROM log WHERE ctid = (SELECT ctid FROM log WHERE at = 3 LIMIT 1); INSERT INTO items VALUES (999999, 1, 'late', 1)");
      await db.waitCaughtUp();
      const verdict = await verifyWithCli(config);
      expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
      expect(verdict.tables.find((t) => t.table === 'public.log')?.source).toMatch(/^4999:/);
      second.child.kill('SIGTERM');
      expect((await second.done).code).toBe(0);
    } finally {
      await db.close();
    }
  });

  for (const target of ['postgres', 'mysql'] as const) {
    it(`an update that leaves a TOAST value unchanged, of a row deleted on the ${target === 'mysql' ? 'MariaDB' : 'Postgres'} target, stops naming the table and the key; never skipped`, async () => {
      const db = await routeDatabases({ source: 'postgres', target, label: '' }, `toast_gone_${target}`);
      try {
        // EXTERNAL: out of line and uncompressed, so the body is a TOAST value an UPDATE of the title does not send.
        await db.source.query(`CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text NOT NULL);
          ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
          INSERT INTO docs SELECT g, 'title ' || g, repeat(md5(g::text), 2000) FROM generate_series(1, 3) g`);
        const config = writeConfig(db.config());
        const ferry = startCli(['run', '-c', config]);
        await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
        await db.waitCaughtUp();
        const docs = `${db.targetSchema}.docs`;
        await db.target.query(`DELETE FROM ${docs} WHERE id = 2`);
        const [head] = await db.source.query("SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn");
        await db.source.query("UPDATE docs SET title = 'changed' WHERE id = 2; UPDATE docs SET title = 'changed too' WHERE id = 3");

        const r = await ferry.done;
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(`target rejected a change to ${docs}: the target has no row with id = 2, which the source updated \\(with only the columns it sent`),
        );
        expect(r.stderr).toMatch(/re-snapshot the table/);
        const titles = await db.target.query(`SELECT id, title FROM ${docs} ORDER BY id`);
        expect(titles.map((t) => `${t.id}:${t.title}`)).toEqual(['1:title 1', '3:title 3']);
        expect(BigInt(String((await db.checkpoint())!.position!.lsn)) <= BigInt(String(head!.lsn))).toBe(true);
        // A restart stops at the same change again: it is never skipped.
        const again = await runCli(['run', '-c', config]);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/the target has no row with id = 2/);
      } finally {
        await db.close();
      }
    });
  }

  it('a slot of the same name in another database is refused, not dropped', async () => {
    const db = await routeDatabases(PG_TO_PG, 'bad_other');
    try {
      await db.source.query(ITEMS_DDL);
      await db.target.query("SELECT pg_create_logical_replication_slot('ferry_bad_other', 'pgoutput')");
      const run = await runCli(['run', '-c', writeConfig(db.config())]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/replication slot ferry_bad_other belongs to database bad_other_t/);
      expect(await db.target.query("SELECT database FROM pg_replication_slots WHERE slot_name = 'ferry_bad_other'")).toEqual([{ database: 'bad_other_t' }]);
    } finally {
      await db.target.query("SELECT pg_drop_replication_slot('ferry_bad_other')").catch(() => {});
      await db.close();
    }
  });

  describe('a dropped slot', () => {
    let db: RouteDatabases;
    beforeAll(async () => {
      db = await routeDatabases(PG_TO_PG, 'bad_slot');
    });
    afterAll(async () => db?.close());

    it('stops ferry with an error that asks for a new snapshot, and no slot is silently created from "now"', async () => {
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 100)}`);
      const config = writeConfig(db.config());
      const first = startCli(['run', '-c', config]);
      await waitFor('the stream to start', async () => /streaming from/.test(first.output()));
      await db.source.query('UPDATE items SET amount = amount + 1 WHERE id <= 10');
      await db.waitCaughtUp();
      first.child.kill('SIGTERM');
      expect((await first.done).code).toBe(0);
      const before = await db.checkpoint();

      await db.source.query("SELECT pg_drop_replication_slot('ferry_bad_slot'); DELETE FROM items WHERE id = 1");
      const second = await runCli(['run', '-c', config]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/replication slot ferry_bad_slot does not exist/);
      expect(second.stderr).toMatch(/take a new snapshot: set snapshot\.mode: always/);
      expect(await db.source.query("SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'ferry_bad_slot'")).toEqual([]);
      expect(await db.checkpoint()).toEqual(before);

      // What the error says to do works: a new snapshot, then streaming again.
      const again = startCli(['run', '-c', writeConfig(db.config({ snapshot: { mode: 'always', tablePrep: 'truncate' } }))]);
      await waitFor('the stream to start', async () => /streaming from/.test(again.output()));
      expect(await db.target.query('SELECT count(*)::int AS n FROM public.items')).toEqual([{ n: 99 }]);
      again.child.kill('SIGTERM');
      expect((await again.done).code).toBe(0);
    });
  });
});
