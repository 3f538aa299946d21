import type { ClientBase } from 'pg';
import type { Connection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row, Transaction } from '../../src/core/change-event.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import {
  markReplayedSql,
  MARK_REPLAYED_IDS,
  mssqlCheckpointStore,
  UNREPLAYED_LETTERS_SQL,
  WRITE_CHECKPOINT_SQL,
  WRITE_DEAD_LETTER_SQL,
} from '../../src/checkpoint/mssql-checkpoint-table.js';
import { mysqlCheckpointStore } from '../../src/checkpoint/mysql-checkpoint-table.js';
import { postgresCheckpointStore } from '../../src/checkpoint/postgres-checkpoint-table.js';
import { MssqlDriver } from '../../src/sinks/mssql/mssql-driver.js';
import { MssqlWrites } from '../../src/sinks/mssql/mssql-writes.js';
import { LetteredKeys } from '../../src/sinks/lettered-keys.js';
import { SqlTransaction } from '../../src/sinks/sql-transaction.js';
import { parseTsql } from '../helpers/tsql.js';
import { modelPool, modelSession, TsqlModel } from '../helpers/tsql-model.js';

/**
 * The SQL sink and dead letters not replayed yet: a later delete or column-only update of a
 * dead-lettered row may find no row, and a replay's letters are marked replayed in the transaction
 * that applies what it read again. On the model of SQL Server (test/helpers/tsql-model.ts), with
 * each engine's statements.
 */

const col = (name: string, type: ColumnType): Column => ({ name, type, sourceType: '', nullable: true, autoIncrement: false, backfill: { value: null } });
const ITEMS: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'app', name: 'items' },
  columns: [col('id', { kind: 'int', bytes: 4, unsigned: false }), col('name', { kind: 'string', maxLength: 50 })],
  primaryKey: ['id'],
  indexes: [],
};
const row = (id: number, name: string): Row => ({ id, name });
const insert = (r: Row): ChangeEvent => ({ op: 'c', table: ITEMS.source, key: { id: r.id! }, before: null, after: r });
const remove = (id: number): ChangeEvent => ({ op: 'd', table: ITEMS.source, key: { id }, before: { id }, after: null });
/** An update that left a column out (Postgres: an unchanged TOAST value): a patch of the row in the target. */
const patch = (id: number, name: string): ChangeEvent => ({ op: 'u', table: ITEMS.source, key: { id }, before: null, after: { id, name }, unchanged: ['x'] });
const at = (pos: number) => ({ kind: 'mysql' as const, file: 'bin.000001', pos });
const txn = (pos: number, events: ChangeEvent[], more: Partial<Transaction> = {}): Transaction => ({
  events,
  position: at(pos),
  commitTime: new Date(),
  ...more,
});

/** app.items (unique on name) holding `rows`, the sink's lettered keys, and the statements ferry's tables were sent. */
function sink(rows: Row[]) {
  const model = new TsqlModel();
  model.define('app.items', {
    columns: ['id', 'name'],
    types: { id: 'int', name: 'nvarchar(50)' },
    primaryKey: ['id'],
    unique: [{ name: 'items_name_unique', columns: ['name'] }],
    rows,
  });
  const ferry: { statement: string; params: readonly unknown[] }[] = [];
  const session = modelSession(model, [], (statement, params) => {
    if (statement === WRITE_CHECKPOINT_SQL) return [{ owner: 'me' }];
    if (statement !== WRITE_DEAD_LETTER_SQL && !statement.includes('[ferry_dead_letters]')) return null;
    ferry.push({ statement, params });
    return [];
  });
  const driver = new MssqlDriver(modelPool(model), 60_000);
  const letters = new LetteredKeys();
  const context = {
    driver,
    writes: new MssqlWrites(driver),
    store: mssqlCheckpointStore(modelPool(model), 'p', 'me'),
    tables: new Map([['public.items', ITEMS]]),
    overlap: { end: null },
    holds: { current: {} },
    letters,
    errorPolicy: () => 'dead-letter' as const,
  };
  const apply = async (transactions: Transaction[], commit = true) => {
    const tx = new SqlTransaction(session, context);
    await tx.start();
    try {
      await tx.write(transactions);
      if (!commit) {
        await tx.rollback();
        return tx;
      }
      await tx.commit({ phase: 'stream', position: transactions.at(-1)!.position });
    } catch (err) {
      await tx.rollback();
      throw err;
    }
    return tx;
  };
  return { model, letters, ferry, apply };
}

describe('a row with a dead letter not replayed yet', () => {
  it('is deleted, or updated with only some columns, as a row that may be missing: the stream goes on', async () => {
    const s = sink([row(1, 'one')]);
    await s.apply([txn(5, [insert(row(2, 'one')), insert(row(3, 'three'))])]);
    expect(s.letters.has('public.items', { id: 2 })).toBe(true);
    expect(s.model.rows('app.items').map((r) => r.id)).toEqual([1, 3]);
    await s.apply([txn(6, [patch(2, 'two')]), txn(7, [remove(2)])]);
    await s.apply([txn(8, [patch(2, 'deux')])]);
    await s.apply([txn(9, [remove(2)])]);
    // Another row the target lacks is a divergence, as before.
    await expect(s.apply([txn(10, [remove(9)])])).rejects.toThrow(/no row with id = 9/);
    await expect(s.apply([txn(10, [patch(8, 'eight')])])).rejects.toThrow(/no row with id = 8/);
  });

  it('has its column-only update applied with the others, before the inserts: a unique value it gives up is free for them', async () => {
    const s = sink([row(1, 'one'), row(2, 'two')]);
    // An update of row 2 rejected earlier: the row is there, with its old values.
    s.letters.add([{ table: 'public.items', key: { id: 2 } }]);
    await s.apply([txn(6, [patch(2, 'deux'), insert(row(3, 'two'))])]);
    expect(s.model.rows('app.items')).toEqual([row(1, 'one'), row(2, 'deux'), row(3, 'two')]);
    expect(s.letters.has('public.items', { id: 3 })).toBe(false);
  });

  it('moved to another key by a column-only update it lacks: the stream stops, naming it, instead of losing the row under its new key', async () => {
    const s = sink([row(1, 'one')]);
    await s.apply([txn(5, [insert(row(2, 'one'))])]);
    const moved: ChangeEvent = { op: 'u', table: ITEMS.source, key: { id: 20 }, before: { id: 2 }, after: { id: 20, name: 'twenty' }, unchanged: ['x'] };
    await expect(s.apply([txn(6, [moved])])).rejects.toThrow(/no row with id = 2/);
    expect(s.model.rows('app.items').map((r) => r.id)).toEqual([1]);
  });

  it('counts only once its transaction committed: a rolled back one lets nothing through', async () => {
    const s = sink([row(1, 'one')]);
    await s.apply([txn(5, [insert(row(2, 'one'))])], false);
    expect(s.letters.has('public.items', { id: 2 })).toBe(false);
    await expect(s.apply([txn(6, [remove(2)])])).rejects.toThrow(/no row with id = 2/);
  });

  it('is loaded with the letters the store holds unreplayed', () => {
    const letters = new LetteredKeys();
    letters.load([{ table: 'public.items', key: { id: 2, code: Buffer.from([0xbe, 0xef]) } }]);
    expect(letters.has('public.items', { id: 2, code: Buffer.from([0xbe, 0xef]) })).toBe(true);
    expect(letters.has('public.items', { id: 2, code: Buffer.from([0xbe]) })).toBe(false);
    letters.load([]);
    expect(letters.any('public.items')).toBe(false);
  });
});

describe("a replay's letters", () => {
  const letter = (id: number, key: number) => ({ id, table: 'public.items', key: { id: key } });

  it('are marked replayed in the transaction of the rows read again, and their keys checked again once committed', async () => {
    const s = sink([row(1, 'one')]);
    await s.apply([txn(5, [insert(row(2, 'one'))])]);
    s.ferry.length = 0;
    const tx = await s.apply([txn(6, [{ ...insert(row(2, 'two')), op: 'r' }], { marker: 'm1', replayed: [letter(7, 2)] })]);
    const marked = s.ferry.find((f) => f.statement.startsWith('UPDATE'))!;
    expect(marked).toEqual({ statement: markReplayedSql(1), params: ['p', 7] });
    expect(tx.replayed()).toEqual([{ marker: 'm1', table: 'public.items', letters: 1, rejected: 0 }]);
    expect(s.model.rows('app.items').map((r) => r.id)).toEqual([1, 2]);
    expect(s.letters.any('public.items')).toBe(false);
  });

  it('count the rows the target rejects again, whose keys keep their new letter', async () => {
    const s = sink([row(1, 'one')]);
    await s.apply([txn(5, [insert(row(2, 'one'))])]);
    const tx = await s.apply([txn(6, [{ ...insert(row(2, 'one')), op: 'r' }], { marker: 'm1', replayed: [letter(7, 2)] })]);
    expect(tx.replayed()).toEqual([{ marker: 'm1', table: 'public.items', letters: 1, rejected: 1 }]);
    expect(s.letters.has('public.items', { id: 2 })).toBe(true);
  });

  it('are not marked when the transaction rolls back', async () => {
    const s = sink([row(1, 'one')]);
    await s.apply([txn(5, [insert(row(2, 'one'))])]);
    await s.apply([txn(6, [], { marker: 'm1', replayed: [letter(7, 2)] })], false);
    expect(s.letters.has('public.items', { id: 2 })).toBe(true);
  });
});

describe('marking letters replayed, per engine', () => {
  it('SQL Server: valid T-SQL, at most 1,000 ids a statement (a request takes 2,100 parameters), a replayed letter kept as it was', async () => {
    for (const n of [1, 3, MARK_REPLAYED_IDS]) expect(() => parseTsql(markReplayedSql(n))).not.toThrow();
    expect(() => parseTsql(UNREPLAYED_LETTERS_SQL)).not.toThrow();
    expect(markReplayedSql(2)).toBe(
      'UPDATE [ferry].[ferry_dead_letters] SET [replayed_at] = SYSUTCDATETIME() WHERE [pipeline] = @p1 AND [id] IN (@p2, @p3) AND [replayed_at] IS NULL',
    );
    const sent: unknown[][] = [];
    const c = {
      query: async (_s: string, params: unknown[]) => {
        sent.push(params);
        return [];
      },
    };
    const store = mssqlCheckpointStore(modelPool(new TsqlModel()), 'p', 'me');
    await store.markReplayed(
      c as never,
      Array.from({ length: 2500 }, (_, i) => i + 1),
    );
    expect(sent.map((p) => p.length - 1)).toEqual([1000, 1000, 500]);
    expect(sent[2]!.slice(0, 2)).toEqual(['p', 2001]);
  });

  it('Postgres and MySQL: one statement, ids bound as a list', async () => {
    const sent: { sql: string; params: unknown[] }[] = [];
    const c = {
      query: async (sql: string, params: unknown[]) => {
        sent.push({ sql, params });
        return [[], []];
      },
    };
    await postgresCheckpointStore(c as never, 'p', 'me').markReplayed(c as unknown as ClientBase, [3, 4]);
    await mysqlCheckpointStore(c as never, 'p', 'me').markReplayed(c as unknown as Connection, [3, 4]);
    await postgresCheckpointStore(c as never, 'p', 'me').markReplayed(c as unknown as ClientBase, []);
    expect(sent).toEqual([
      {
        sql: 'UPDATE ferry.ferry_dead_letters SET replayed_at = now() WHERE pipeline = $1 AND id = ANY($2::bigint[]) AND replayed_at IS NULL',
        params: ['p', [3, 4]],
      },
      {
        sql: 'UPDATE ferry.ferry_dead_letters SET replayed_at = UTC_TIMESTAMP(6) WHERE pipeline = ? AND id IN (?) AND replayed_at IS NULL',
        params: ['p', [3, 4]],
      },
    ]);
  });
});
