import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import type { ChangeEvent, Row, Transaction, Value } from '../../src/core/change-event.js';
import type { Position } from '../../src/core/position.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import type { DatabaseSink } from '../../src/core/sink.js';
import type { FerryError } from '../../src/core/errors.js';
import type { TableHold } from '../../src/core/table-hold.js';
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { openMysqlSink } from '../../src/sinks/mysql/mysql-sink.js';
import type { UpsertStrategy } from '../../src/sinks/mysql/mysql-rows.js';
import { openPostgresSink } from '../../src/sinks/postgres/postgres-sink.js';
import { openMssqlSink } from '../../src/sinks/mssql/mssql-sink.js';
import { CHECKPOINT_TABLES } from '../../src/engines/registry.js';
import { canonical } from '../../src/verify/canonical.js';
import { freshMssqlDatabase, killLockHolders, MSSQL_TEST_URL, NO_MSSQL } from '../helpers/mssql.js';

/**
 * What every SQL sink must do, whatever the database: the same cases run against each sink in
 * SINKS, through the Sink port only, reading rows back through the port as well.
 */
interface SinkUnderTest {
  readonly name: string;
  /** Why this sink's database cannot run here: its cases are reported as skipped, with the reason. */
  readonly unavailable?: string;
  /**
   * A fresh, empty target database; returns a factory of sinks on it, and a way to make the
   * pipeline lock's session die (as a network partition would) without the process noticing.
   */
  setup(
    database: string,
  ): Promise<{ open(pipeline: string): Promise<DatabaseSink>; loseLock(): Promise<void>; exec(sql: string): Promise<void>; teardown(): Promise<void> }>;
}

const silent = pino({ level: 'silent' });

const SINKS: readonly SinkUnderTest[] = [
  {
    name: 'postgres',
    async setup(database) {
      const admin = new pg.Client({ connectionString: inject('postgresUrl') });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.end();
      const url = new URL(inject('postgresUrl'));
      url.pathname = `/${database}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      return {
        open: (pipeline) =>
          openPostgresSink({ url: url.toString(), checkpoint: CHECKPOINT_TABLES.postgres, pipeline, connections: 3, stallTimeoutSeconds: 30, log: silent }),
        loseLock: async () => {
          await client.query(`SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
        },
        exec: async (sql) => void (await client.query(sql)),
        teardown: () => client.end(),
      };
    },
  },
  mysqlSink('mysql', 'delete-insert'),
  // The upsert strategy ferry does not use by default (mysql-rows.ts), held to the same contract.
  mysqlSink('mysql, upserts by update-insert', 'update-insert'),
  // SQL Server, where FERRY_TEST_MSSQL_URL names one (npm run test:mssql).
  {
    name: 'mssql',
    ...(MSSQL_TEST_URL ? {} : { unavailable: NO_MSSQL }),
    async setup() {
      const db = await freshMssqlDatabase('contract');
      return {
        open: (pipeline) => openMssqlSink({ url: db.url, checkpoint: CHECKPOINT_TABLES.mssql, pipeline, connections: 3, stallTimeoutSeconds: 30, log: silent }),
        loseLock: () => killLockHolders(db),
        exec: async (statement) => void (await db.query(statement)),
        teardown: () => db.close(),
      };
    },
  },
];

function mysqlSink(name: string, upserts: UpsertStrategy): SinkUnderTest {
  return {
    name,
    async setup() {
      const url = inject('mariadbUrl');
      const admin = await mysql.createConnection({ uri: url });
      await admin.query('DROP DATABASE IF EXISTS contract');
      // ferry's own database is shared with the other tests on this server: only this pipeline's rows go.
      for (const table of ['ferry_checkpoint', 'ferry_snapshot_progress'])
        await admin.query(`DELETE FROM ferry.${table} WHERE pipeline = 'contract'`).catch(() => {});
      return {
        open: (pipeline) =>
          openMysqlSink({ url, checkpoint: CHECKPOINT_TABLES.mysql, pipeline, connections: 3, stallTimeoutSeconds: 30, log: silent, upserts }),
        loseLock: async () => {
          const lock = `ferry:${createHash('sha1').update('contract').digest('hex')}`;
          const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS id', [lock]);
          await admin.query(`KILL ${Number(rows[0]!.id)}`);
        },
        exec: async (sql) => void (await admin.query(sql)),
        teardown: () => admin.end(),
      };
    },
  };
}

/** Columns of a MySQL source table: a MySQL sink keeps `sourceType`, a Postgres sink maps `type`. */
const col = (name: string, type: ColumnType, sourceType: string, nullable = true): Column => ({
  name,
  type,
  sourceType,
  nullable,
  autoIncrement: false,
  backfill: { value: null },
});
const ITEMS: TableSchema = {
  engine: 'mysql',
  source: { schema: 'contract', name: 'items' },
  target: { schema: 'contract', name: 'items' },
  columns: [
    col('id', { kind: 'int', bytes: 4, unsigned: false }, 'int(11)', false),
    col('name', { kind: 'string', maxLength: 50 }, 'varchar(50)'),
    col('amount', { kind: 'decimal', precision: 12, scale: 2 }, 'decimal(12,2)'),
    col('at', { kind: 'datetime', fsp: 6 }, 'datetime(6)'),
  ],
  primaryKey: ['id'],
  indexes: [],
};

const at = (n: number): Position => ({ kind: 'mysql', file: 'bin.000001', pos: n });
const row = (id: number, name: string | null, amount = '1.00', when: string | null = '2024-01-01 00:00:00.000001'): Row => ({ id, name, amount, at: when });
const insert = (r: Row): ChangeEvent => ({ op: 'c', table: ITEMS.source, key: { id: r.id! }, before: null, after: r });
const update = (before: Row, after: Row): ChangeEvent => ({ op: 'u', table: ITEMS.source, key: { id: after.id! }, before, after });
const remove = (r: Row): ChangeEvent => ({ op: 'd', table: ITEMS.source, key: { id: r.id! }, before: r, after: null });
const truncate: ChangeEvent = { op: 't', table: ITEMS.source, key: {}, before: null, after: null };

/** Events as one source transaction at a position no test commits. */
const pending = (events: ChangeEvent[]): Transaction[] => [{ events, position: at(0), commitTime: new Date() }];

/** Applies events as one target transaction with the checkpoint at `position`. */
async function apply(sink: DatabaseSink, events: readonly ChangeEvent[], position: Position): Promise<void> {
  const tx = await sink.begin();
  try {
    await tx.write([{ events, position, commitTime: new Date() }]);
    await tx.commit({ phase: 'stream', position });
  } finally {
    await tx.rollback(); // after a failure, as the applier does; nothing once committed
  }
}

/** The target's rows, in canonical form, keyed by id. */
async function contents(sink: DatabaseSink): Promise<Record<number, (string | null)[]>> {
  const rows = await sink.reader.readRows(ITEMS, null, 10_000);
  return Object.fromEntries(rows.map((r) => [Number(r.id), ITEMS.columns.slice(1).map((c) => canonical(c.type, r[c.name] ?? null))]));
}

const expected = (...rows: Row[]) =>
  Object.fromEntries(rows.map((r) => [r.id, ITEMS.columns.slice(1).map((c) => canonical(c.type, (r[c.name] ?? null) as Value))]));

for (const sut of SINKS) {
  describe.skipIf(sut.unavailable !== undefined)(`sink contract: ${sut.name}${sut.unavailable ? ` (${sut.unavailable})` : ''}`, () => {
    let env: Awaited<ReturnType<SinkUnderTest['setup']>>;
    let sink: DatabaseSink;
    beforeAll(async () => {
      env = await sut.setup(`contract_${sut.name}`);
      sink = await env.open('contract');
      await sink.claim?.();
      await sink.prepare([ITEMS], 'create');
    });
    afterAll(async () => {
      await sink?.close();
      await env?.teardown();
    });

    it('starts with no checkpoint and an empty table', async () => {
      expect(await sink.loadCheckpoint()).toBeNull();
      expect(await contents(sink)).toEqual({});
    });

    it('inserts, and commits the checkpoint with the rows', async () => {
      await apply(sink, [insert(row(1, 'one')), insert(row(2, 'two')), insert(row(3, ''))], at(100));
      expect(await contents(sink)).toEqual(expected(row(1, 'one'), row(2, 'two'), row(3, '')));
      expect(await sink.loadCheckpoint()).toMatchObject({ phase: 'stream', position: at(100) });
    });

    it('keeps NULL apart from the empty string', async () => {
      await apply(sink, [insert(row(4, null, '0.00', null))], at(110));
      const rows = await contents(sink);
      expect(rows[3]![0]).toBe('');
      expect(rows[4]).toEqual([null, '0', null]); // canonical decimal: 0.00 and 0 are one value
    });

    it('applies a batch spanning many transactions: updates, deletes, key changes, last image wins', async () => {
      await apply(
        sink,
        [
          update(row(1, 'one'), row(1, 'uno', '2.50')),
          update(row(1, 'uno', '2.50'), row(1, 'eins', '3.75')),
          remove(row(2, 'two')),
          insert(row(5, 'five')),
          update(row(5, 'five'), row(6, 'six')), // a primary-key change
          insert(row(2, 'two again')),
          remove(row(4, null, '0.00', null)),
        ],
        at(120),
      );
      expect(await contents(sink)).toEqual(expected(row(1, 'eins', '3.75'), row(2, 'two again'), row(3, ''), row(6, 'six')));
    });

    it('replays an already-applied batch as a no-op where the target may be ahead of the stream (Checkpoint.overlapEnd)', async () => {
      const before = await contents(sink);
      await sink.finishSnapshot([ITEMS], { phase: 'stream', position: at(115), overlapEnd: at(120) });
      await apply(sink, [update(row(1, 'one'), row(1, 'eins', '3.75')), remove(row(4, null)), insert(row(6, 'six'))], at(120));
      expect(await contents(sink)).toEqual(before);
    });

    it('loses nothing and moves no checkpoint when the process dies between write and commit', async () => {
      const before = await contents(sink);
      const tx = await sink.begin();
      await tx.write(pending([insert(row(7, 'never committed')), remove(row(1, 'eins'))]));
      await tx.rollback(); // what a crash does to an open transaction
      expect(await contents(sink)).toEqual(before);
      expect((await sink.loadCheckpoint())?.position).toEqual(at(120));
    });

    it('truncates in stream order', async () => {
      await apply(sink, [insert(row(8, 'gone')), truncate, insert(row(9, 'after'))], at(130));
      expect(await contents(sink)).toEqual(expected(row(9, 'after')));
    });

    it('gives a row written before an added column the value the source gave existing rows', async () => {
      const flag = { ...col('flag', { kind: 'int', bytes: 4, unsigned: false }, 'int(11)', false), backfill: { value: 7 } };
      const tx = await sink.begin();
      await tx.addColumns(ITEMS.source, [flag]);
      await tx.write(pending([insert(row(10, 'old image'))]));
      await tx.commit({ phase: 'stream', position: at(140) });
      const rows = await sink.reader.readRows({ ...ITEMS, columns: [...ITEMS.columns, flag] }, null, 100);
      expect(rows.map((r) => [Number(r.id), String(r.flag)])).toEqual([
        [9, '7'],
        [10, '7'],
      ]);
    });

    it('leaves a column alone that an update did not carry (Postgres unchanged TOAST), also when the key moves', async () => {
      await apply(sink, [insert(row(20, 'keep me', '5.00')), insert(row(21, 'keep me too', '6.00'))], at(141));
      const partial = (before: Row, after: Row): ChangeEvent => ({ ...update(before, after), unchanged: ['name'] });
      await apply(sink, [partial({ id: 20 }, { id: 20, amount: '5.50', at: null }), partial({ id: 21 }, { id: 22, amount: '6.50', at: null })], at(142));
      const all = await contents(sink);
      expect(all['20']).toEqual(expected({ ...row(20, 'keep me', '5.50'), at: null })['20']);
      expect(all['22']).toEqual(expected({ ...row(22, 'keep me too', '6.50'), at: null })['22']);
      expect(all).not.toHaveProperty('21');
      await apply(sink, [remove(row(20, null)), remove(row(22, null))], at(143));
    });

    /** Applies `events` at `position` and returns the error it stopped with (the checkpoint must not have moved). */
    async function stopsAt(events: ChangeEvent[], position: Position): Promise<Error> {
      const before = await sink.loadCheckpoint();
      const error = await apply(sink, events, position).then(
        () => null,
        (err: Error) => err,
      );
      expect(error, 'the batch was applied').not.toBeNull();
      expect(await sink.loadCheckpoint()).toEqual(before);
      return error!;
    }
    const partial = (before: Row, after: Row): ChangeEvent => ({ ...update(before, after), unchanged: ['name'] });

    it('stops at a delete or a column-only update of a row the target does not have, naming the table and the key; commits nothing', async () => {
      await apply(sink, [insert(row(30, 'thirty'))], at(144));
      const before = await contents(sink);
      const del = await stopsAt([update(row(30, 'thirty'), row(30, 'thirty', '2.00')), remove(row(31, 'never copied'))], at(145));
      expect(del.message).toMatch(/target rejected a change to contract\.items: the target has no row with id = 31, which the source deleted/);
      expect((del as FerryError).hint).toMatch(/re-snapshot/);
      const patch = await stopsAt([partial({ id: 32 }, { id: 32, amount: '3.00', at: null })], at(145));
      expect(patch.message).toMatch(/the target has no row with id = 32, which the source updated \(with only the columns it sent/);
      // One of many keys in one set-based delete, and a composite of a patch and a delete.
      const many = await stopsAt([remove(row(30, null)), remove(row(33, null)), remove(row(9, null))], at(145));
      expect(many.message).toMatch(/no row with id = 33/);
      expect(await contents(sink)).toEqual(before);
    });

    it('counts a row a column-only update leaves as it was, and a row inserted and deleted in one batch, as no miss', async () => {
      await apply(sink, [partial({ id: 30 }, { id: 30, amount: '1.00', at: '2024-01-01 00:00:00.000001' })], at(146));
      await apply(
        sink,
        [insert(row(34, 'brief')), remove(row(34, 'brief')), insert(row(35, 'twice')), remove(row(35, 'twice')), insert(row(35, 'back'))],
        at(147),
      );
      expect(await contents(sink)).toEqual(expected(row(9, 'after'), row(10, 'old image'), row(30, 'thirty'), row(35, 'back')));
    });

    it("takes such misses for replays while the target may be ahead of the stream (a snapshot's overlap), and stops again past it", async () => {
      await sink.finishSnapshot([ITEMS], { phase: 'stream', position: at(150), overlapEnd: at(160) });
      await apply(sink, [remove(row(36, null)), partial({ id: 37 }, { id: 37, amount: '1.00', at: null }), insert(row(38, 'replayed'))], at(155));
      // Kept in the checkpoint, so a restart within the overlap reads it back (loadCheckpoint).
      expect(await sink.loadCheckpoint()).toMatchObject({ position: at(155), overlapEnd: at(160) });
      await apply(sink, [remove(row(38, null))], at(160));
      expect(await sink.loadCheckpoint()).not.toHaveProperty('overlapEnd');
      await stopsAt([remove(row(36, null))], at(161));
      expect(await contents(sink)).toEqual(expected(row(9, 'after'), row(10, 'old image'), row(30, 'thirty'), row(35, 'back')));
    });

    it('never writes a row with another key: a value another row holds in a unique key stops, naming the row and the key', async () => {
      await env.exec('CREATE UNIQUE INDEX items_name_unique ON contract.items (name)');
      try {
        const before = await contents(sink);
        const fresh = await stopsAt([insert(row(40, 'thirty'))], at(162));
        expect(fresh.message).toMatch(/the row with id = 40 collides with another row of the target on unique key items_name_unique/);
        const updated = await stopsAt([update(row(35, 'back'), row(35, 'thirty'))], at(162));
        expect(updated.message).toMatch(/the row with id = 35 collides with another row of the target on unique key items_name_unique/);
        const patched = await stopsAt([{ ...update({ id: 35 }, { id: 35, name: 'thirty' }), unchanged: ['amount', 'at'] }], at(162));
        expect(patched.message).toMatch(/the row with id = 35 collides with another row of the target on unique key items_name_unique/);
        // Many rows, one of them colliding: named all the same.
        const many = await stopsAt([...[41, 42, 43].map((id) => insert(row(id, `new ${id}`))), insert(row(44, 'after')), insert(row(45, 'new 45'))], at(162));
        expect(many.message).toMatch(/the row with id = 44 collides/);
        expect(await contents(sink)).toEqual(before);
        // A row that swaps its unique value with no other row is written as ever.
        await apply(sink, [update(row(35, 'back'), row(35, 'back again')), insert(row(46, 'back'))], at(163));
        expect(await contents(sink)).toEqual({ ...before, ...expected(row(35, 'back again'), row(46, 'back')) });
      } finally {
        await env.exec(sut.name === 'postgres' ? 'DROP INDEX contract.items_name_unique' : 'DROP INDEX items_name_unique ON contract.items');
      }
    });

    it('keeps table holds in the checkpoint: set and lifted by source transactions, read back by a sink opened anew, cleared by a fresh snapshot', async () => {
      const before = await contents(sink);
      const resyncing: TableHold = { state: 'resyncing', since: '2026-12-04T17:00:00.000Z' };
      const quarantined: TableHold = {
        state: 'quarantined',
        since: '2026-12-04T17:01:00.000Z',
        position: { kind: 'pg', lsn: 2n ** 60n + 3n },
        key: { id: 7, code: Buffer.from([0xbe, 0xef]) },
        reason: 'check',
        message: 'violates check constraint "others_check"',
      };
      const tx = await sink.begin();
      await tx.write([
        { events: [], position: at(170), commitTime: new Date(), hold: { table: 'contract.items', hold: resyncing } },
        // A resyncing table's rows are being copied again: a delete or column-only update may come before its row.
        { events: [remove(row(36, null)), partial({ id: 37 }, { id: 37, amount: '1.00', at: null })], position: at(171), commitTime: new Date() },
        { events: [], position: at(172), commitTime: new Date(), hold: { table: 'contract.others', hold: quarantined } },
      ]);
      await tx.commit({ phase: 'stream', position: at(172) });
      expect(await contents(sink)).toEqual(before);
      const holds = { 'contract.items': resyncing, 'contract.others': quarantined };
      expect(await sink.loadCheckpoint()).toEqual({ phase: 'stream', position: at(172), tables: ['contract.items'], holds });
      // Every commit writes them again, and a sink opened anew (a restart) reads them back.
      await apply(sink, [insert(row(47, 'held'))], at(173));
      const again = await env.open('contract');
      try {
        expect((await again.loadCheckpoint())?.holds).toEqual(holds);
      } finally {
        await again.close();
      }
      await apply(sink, [remove(row(47, null))], at(174));
      const lift = await sink.begin();
      await lift.write([{ events: [], position: at(175), commitTime: new Date(), hold: { table: 'contract.items', hold: null } }]);
      await lift.commit({ phase: 'stream', position: at(175) });
      expect((await sink.loadCheckpoint())?.holds).toEqual({ 'contract.others': quarantined });
      await stopsAt([remove(row(36, null))], at(176));
      await sink.beginSnapshot();
      expect(await sink.loadCheckpoint()).not.toHaveProperty('holds');
      await sink.finishSnapshot([ITEMS], { phase: 'stream', position: at(176) });
      expect(await sink.loadCheckpoint()).toEqual({ phase: 'stream', position: at(176), tables: ['contract.items'] });
    });

    it.runIf(sut.name === 'postgres')('adds the holds column to a checkpoint table an older ferry made, keeping its checkpoint', async () => {
      // Postgres only: each case has a database of its own there, while MariaDB's ferry database is shared with the tests running alongside.
      await env.exec('ALTER TABLE ferry.ferry_checkpoint DROP COLUMN holds');
      const again = await env.open('contract');
      try {
        expect(await again.loadCheckpoint()).toEqual({ phase: 'stream', position: at(176), tables: ['contract.items'] });
      } finally {
        await again.close();
      }
      await apply(sink, [], at(177));
      expect((await sink.loadCheckpoint())?.position).toEqual(at(177));
    });

    it('turns a second claimant of the pipeline away', async () => {
      const other = await env.open('contract');
      try {
        await expect(other.claim?.()).rejects.toThrow(/another ferry process is already running pipeline contract/);
      } finally {
        await other.close();
      }
    });

    it('refuses the commits of a process another one has taken the pipeline over from', async () => {
      const committed = (await sink.loadCheckpoint())?.position;
      const tx = await sink.begin();
      await tx.write(pending([insert(row(11, 'late'))]));
      await env.loseLock();
      const other = await env.open('contract');
      await other.claim?.();
      await expect(tx.commit({ phase: 'stream', position: at(150) })).rejects.toThrow(/another ferry process took over pipeline contract/);
      expect((await other.loadCheckpoint())?.position).toEqual(committed);
      expect(await contents(other)).not.toHaveProperty('11');
      await sink.close();
      sink = other;
    });
  });
}
