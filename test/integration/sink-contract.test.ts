import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import type { ChangeEvent, Row, Transaction, Value } from '../../src/core/change-event.js';
import type { Position } from '../../src/core/position.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import type { Sink } from '../../src/core/sink.js';
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { MysqlSink } from '../../src/sinks/mysql/mysql-sink.js';
import { PostgresSink } from '../../src/sinks/postgres/postgres-sink.js';
import { canonical } from '../../src/verify/canonical.js';

/**
 * What every SQL sink must do, whatever the database: the same cases run against each sink in
 * SINKS, through the Sink port only, reading rows back through the port as well.
 */
interface SinkUnderTest {
  readonly name: string;
  /**
   * A fresh, empty target database; returns a factory of sinks on it, and a way to make the
   * pipeline lock's session die (as a network partition would) without the process noticing.
   */
  setup(database: string): Promise<{ open(pipeline: string): Promise<Sink>; loseLock(): Promise<void>; teardown(): Promise<void> }>;
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
        open: (pipeline) => PostgresSink.open({ url: url.toString(), pipeline, connections: 3, stallTimeoutSeconds: 30, log: silent }),
        loseLock: async () => {
          await client.query(`SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
        },
        teardown: () => client.end(),
      };
    },
  },
  {
    name: 'mysql',
    async setup() {
      const url = inject('mariadbUrl');
      const admin = await mysql.createConnection({ uri: url });
      await admin.query('DROP DATABASE IF EXISTS contract');
      return {
        open: (pipeline) => MysqlSink.open({ url, pipeline, connections: 3, stallTimeoutSeconds: 30, log: silent }),
        loseLock: async () => {
          const lock = `ferry:${createHash('sha1').update('contract').digest('hex')}`;
          const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS id', [lock]);
          await admin.query(`KILL ${Number(rows[0]!.id)}`);
        },
        teardown: () => admin.end(),
      };
    },
  },
];

/** Columns of a MySQL source table: a MySQL sink keeps `sourceType`, a Postgres sink maps `type`. */
const col = (name: string, type: ColumnType, sourceType: string, nullable = true): Column => ({
  name, type, sourceType, nullable, autoIncrement: false, backfill: { value: null },
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
async function apply(sink: Sink, events: readonly ChangeEvent[], position: Position): Promise<void> {
  const tx = await sink.begin();
  await tx.write([{ events, position, commitTime: new Date() }]);
  await tx.commit({ phase: 'stream', position });
}

/** The target's rows, in canonical form, keyed by id. */
async function contents(sink: Sink): Promise<Record<number, (string | null)[]>> {
  const rows = await sink.readRows(ITEMS, null, 10_000);
  return Object.fromEntries(rows.map((r) => [Number(r.id), ITEMS.columns.slice(1).map((c) => canonical(c.type, r[c.name] ?? null))]));
}

const expected = (...rows: Row[]) =>
  Object.fromEntries(rows.map((r) => [r.id, ITEMS.columns.slice(1).map((c) => canonical(c.type, (r[c.name] ?? null) as Value))]));

for (const sut of SINKS) {
  describe(`sink contract: ${sut.name}`, () => {
    let env: Awaited<ReturnType<SinkUnderTest['setup']>>;
    let sink: Sink;
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
      await apply(sink, [
        update(row(1, 'one'), row(1, 'uno', '2.50')),
        update(row(1, 'uno', '2.50'), row(1, 'eins', '3.75')),
        remove(row(2, 'two')),
        insert(row(5, 'five')),
        update(row(5, 'five'), row(6, 'six')), // a primary-key change
        insert(row(2, 'two again')),
        remove(row(4, null, '0.00', null)),
      ], at(120));
      expect(await contents(sink)).toEqual(expected(row(1, 'eins', '3.75'), row(2, 'two again'), row(3, ''), row(6, 'six')));
    });

    it('replays an already-applied batch as a no-op', async () => {
      const before = await contents(sink);
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
      const rows = await sink.readRows({ ...ITEMS, columns: [...ITEMS.columns, flag] }, null, 100);
      expect(rows.map((r) => [Number(r.id), String(r.flag)])).toEqual([[9, '7'], [10, '7']]);
    });

    it('leaves a column alone that an update did not carry (Postgres unchanged TOAST), also when the key moves', async () => {
      await apply(sink, [insert(row(20, 'keep me', '5.00')), insert(row(21, 'keep me too', '6.00'))], at(141));
      const partial = (before: Row, after: Row): ChangeEvent => ({ ...update(before, after), unchanged: ['name'] });
      await apply(sink, [
        partial({ id: 20 }, { id: 20, amount: '5.50', at: null }),
        partial({ id: 21 }, { id: 22, amount: '6.50', at: null }),
      ], at(142));
      const all = await contents(sink);
      expect(all['20']).toEqual(expected({ ...row(20, 'keep me', '5.50'), at: null })['20']);
      expect(all['22']).toEqual(expected({ ...row(22, 'keep me too', '6.50'), at: null })['22']);
      expect(all).not.toHaveProperty('21');
      await apply(sink, [remove(row(20, null)), remove(row(22, null))], at(143));
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
      const tx = await sink.begin();
      await tx.write(pending([insert(row(11, 'late'))]));
      await env.loseLock();
      const other = await env.open('contract');
      await other.claim?.();
      await expect(tx.commit({ phase: 'stream', position: at(150) })).rejects.toThrow(/another ferry process took over pipeline contract/);
      expect((await other.loadCheckpoint())?.position).toEqual(at(143));
      expect(await contents(other)).not.toHaveProperty('11');
      await sink.close();
      sink = other;
    });
  });
}
