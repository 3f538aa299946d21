import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row } from '../../src/core/change-event.js';
import { coalesce } from '../../src/core/coalesce.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import { MssqlDriver } from '../../src/sinks/mssql/mssql-driver.js';
import type { MssqlSession } from '../../src/sinks/mssql/mssql-session.js';
import { COLUMN_NAMES_SQL, MssqlWrites } from '../../src/sinks/mssql/mssql-writes.js';
import { LetteredKeys } from '../../src/sinks/lettered-keys.js';
import { SqlTransaction } from '../../src/sinks/sql-transaction.js';
import { mssqlCheckpointStore, WRITE_CHECKPOINT_SQL } from '../../src/checkpoint/mssql-checkpoint-table.js';
import type { RowsWrite, RowWrites } from '../../src/sinks/row-writes.js';
import { parseTsql } from '../helpers/tsql.js';
import { modelPool, modelSession, TsqlModel } from '../helpers/tsql-model.js';

const col = (name: string, type: ColumnType, extra: Partial<Column> = {}): Column => ({
  name,
  type,
  sourceType: '',
  nullable: true,
  autoIncrement: false,
  backfill: { value: null },
  ...extra,
});
const INT: ColumnType = { kind: 'int', bytes: 4, unsigned: false };
const ITEMS: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'app', name: 'items' },
  columns: [col('id', INT), col('name', { kind: 'string', maxLength: 50 }), col('amount', { kind: 'decimal', precision: 12, scale: 2 })],
  primaryKey: ['id'],
  indexes: [],
};

/** The target table app.items on the model, with `rows`, and the writes on it. */
function target(rows: Row[] = [], options: { identity?: boolean; keyless?: boolean } = {}) {
  const model = new TsqlModel();
  model.define('app.items', {
    columns: ['id', 'name', 'amount'],
    types: { id: 'int', name: 'nvarchar(50)', amount: 'decimal(12,2)' },
    ...(options.keyless ? {} : { primaryKey: ['id'], unique: [{ name: 'items_name_unique', columns: ['name'] }] }),
    ...(options.identity ? { identity: 'id' } : {}),
    rows,
  });
  const driver = new MssqlDriver(modelPool(model), 60_000);
  return { model, session: modelSession(model), writes: new MssqlWrites(driver) };
}

const row = (id: number, name: string | null, amount: string | null = '1.00'): Row => ({ id, name, amount });
const insert = (r: Row): ChangeEvent => ({ op: 'c', table: ITEMS.source, key: { id: r.id! }, before: null, after: r });
const update = (before: Row, after: Row, unchanged?: string[]): ChangeEvent => ({
  op: 'u',
  table: ITEMS.source,
  key: { id: after.id! },
  before,
  after,
  ...(unchanged ? { unchanged } : {}),
});
const remove = (r: Row): ChangeEvent => ({ op: 'd', table: ITEMS.source, key: { id: r.id! }, before: r, after: null });

/** Applies `events` as the SQL transaction does: coalesced per key, each write in turn. */
async function apply(writes: MssqlWrites, session: MssqlSession, events: ChangeEvent[], checked = true): Promise<void> {
  for (const w of coalesce(events, () => ITEMS.primaryKey)) {
    if (w.kind === 'rows') await writes.applyRows(session, ITEMS, w, checked);
    else if (w.kind === 'truncate') await writes.truncate(session, ITEMS);
    else await writes.applyExact(session, ITEMS, w.event);
  }
}

describe('SQL Server apply: a transaction coalesced per key, set-based through the stage', () => {
  it('deletes, updates, re-keys and inserts; the last image of each key wins and no other row changes', async () => {
    const { model, session, writes } = target([row(1, 'one'), row(2, 'two'), row(3, 'three'), row(4, 'four')]);
    await apply(writes, session, [
      update(row(1, 'one'), row(1, 'uno', '2.50')),
      update(row(1, 'uno', '2.50'), row(1, 'eins', '3.75')),
      remove(row(2, 'two')),
      insert(row(5, 'five')),
      update(row(5, 'five'), row(6, 'six')),
      insert(row(2, 'two again')),
      update(row(4, 'four'), row(7, 'four')), // a key change
    ]);
    expect(model.rows('app.items').sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      row(1, 'eins', '3.75'),
      row(2, 'two again'),
      row(3, 'three'),
      row(6, 'six'),
      row(7, 'four'),
    ]);
    expect(model.tables.has('#ferry_stage')).toBe(false);
  });

  it('stops at a delete of a row the target lacks, naming the first such key and how many; a replay (unchecked) passes', async () => {
    const { session, writes } = target([row(1, 'one'), row(3, 'three')]);
    await expect(apply(writes, session, [remove(row(1, null)), remove(row(2, null)), remove(row(4, null))])).rejects.toThrow(
      /the target has no row with id = 2, which the source deleted/,
    );
    const replay = target([row(1, 'one')]);
    await apply(replay.writes, replay.session, [remove(row(1, null)), remove(row(2, null))], false);
    expect(replay.model.rows('app.items')).toEqual([]);
  });

  it('patches only the columns an update sent (Postgres unchanged TOAST), also when the key moved, and stops when the row is missing', async () => {
    const { model, session, writes } = target([row(20, 'keep me', '5.00'), row(21, 'keep me too', '6.00')]);
    await apply(writes, session, [update({ id: 20 }, { id: 20, amount: '5.50' }, ['name'])]);
    await apply(writes, session, [update({ id: 21 }, { id: 22, amount: '6.50' }, ['name'])]);
    expect(model.rows('app.items')).toEqual([row(20, 'keep me', '5.50'), row(22, 'keep me too', '6.50')]);
    await expect(apply(writes, session, [update({ id: 32 }, { id: 32, amount: '1.00' }, ['name'])])).rejects.toThrow(
      /the target has no row with id = 32, which the source updated \(with only the columns it sent/,
    );
  });

  it('deletes rows the batch created and deleted again without expecting them, and upserts rows a replay finds', async () => {
    const { model, session, writes } = target([row(9, 'replayed')]);
    await apply(writes, session, [insert(row(34, 'brief')), remove(row(34, 'brief')), insert(row(9, 'replayed again'))]);
    expect(model.rows('app.items')).toEqual([row(9, 'replayed again')]);
  });

  it("gives a row image older than an added column that column's backfill on insert, and leaves it alone on update", async () => {
    const added = { ...ITEMS, columns: [...ITEMS.columns, col('flag', INT, { backfill: { value: 7 } })] };
    const model = new TsqlModel();
    model.define('app.items', {
      columns: ['id', 'name', 'amount', 'flag'],
      types: { id: 'int', name: 'nvarchar(50)', flag: 'int', amount: 'decimal(12,2)' },
      rows: [{ ...row(1, 'a'), flag: 3 }],
    });
    const writes = new MssqlWrites(new MssqlDriver(modelPool(model), 60_000));
    const w: RowsWrite = {
      kind: 'rows',
      table: ITEMS.source,
      deletes: [],
      inserts: [row(2, 'old image')],
      upserts: [row(1, 'b')],
      patches: [],
      transients: [],
    };
    await writes.applyRows(modelSession(model), added, w, true);
    expect(model.rows('app.items')).toEqual([
      { ...row(1, 'b'), flag: 3 },
      { ...row(2, 'old image'), flag: 7 },
    ]);
  });

  it('names the row that collides with another on a unique key the source does not have', async () => {
    const { model, session, writes } = target([row(30, 'thirty'), row(35, 'back')]);
    await expect(apply(writes, session, [insert(row(41, 'new 41')), insert(row(40, 'thirty'))])).rejects.toThrow(
      /the row with id = 40 collides with another row of the target on unique key items_name_unique/,
    );
    await expect(apply(writes, session, [update({ id: 35 }, { id: 35, name: 'thirty' }, ['amount'])])).rejects.toThrow(/the row with id = 35 collides/);
    expect(model.statements.some((s) => s.startsWith('UPDATE t SET [name] = s.[name]'))).toBe(true);
  });

  it("joins a text key to the stage in the key column's own collation, which the stage (tempdb's default) would conflict with", async () => {
    const CODES: TableSchema = { ...ITEMS, columns: [col('code', { kind: 'string', maxLength: 10 }), ITEMS.columns[2]!], primaryKey: ['code'] };
    const model = new TsqlModel();
    model.define('app.items', {
      columns: ['code', 'amount'],
      types: { code: 'nvarchar(10)', amount: 'decimal(12,2)' },
      collations: { code: 'Latin1_General_100_BIN2' },
      primaryKey: ['code'],
      rows: [
        { code: 'a', amount: '1.00' },
        { code: 'b', amount: '2.00' },
        { code: 'c', amount: '3.00' },
      ],
    });
    const writes = new MssqlWrites(new MssqlDriver(modelPool(model), 60_000));
    const w: RowsWrite = {
      kind: 'rows',
      table: CODES.source,
      deletes: [{ code: 'a' }],
      inserts: [{ code: 'd', amount: '4.00' }],
      upserts: [{ code: 'b', amount: '2.50' }],
      patches: [{ match: { code: 'c' }, set: { amount: '3.50' } }],
      transients: [],
    };
    await writes.applyRows(modelSession(model), CODES, w, true);
    expect(model.rows('app.items')).toEqual([
      { code: 'b', amount: '2.50' },
      { code: 'c', amount: '3.50' },
      { code: 'd', amount: '4.00' },
    ]);
  });

  it("keeps the source's identity values", async () => {
    const { model, session, writes } = target([], { identity: true });
    await apply(writes, session, [insert(row(100, 'a')), insert(row(7, 'b'))]);
    expect(model.rows('app.items').map((r) => r.id)).toEqual([100, 7]);
  });

  it('moves a row to a new identity key with only the columns an update sent: kept aside, deleted, inserted again (an identity is never updated)', async () => {
    const { model, session, writes } = target([row(21, 'keep me', '6.00'), row(23, 'other', '1.00')], { identity: true });
    await apply(writes, session, [update({ id: 21 }, { id: 22, amount: '6.50' }, ['name'])]);
    await apply(writes, session, [update({ id: 23 }, { id: 23, amount: '1.25' }, ['name'])]);
    expect(model.rows('app.items').sort((a, b) => Number(a.id) - Number(b.id))).toEqual([row(22, 'keep me', '6.50'), row(23, 'other', '1.25')]);
    expect(model.statements.filter((s) => s.startsWith('SET IDENTITY_INSERT'))).toHaveLength(2);
    expect(model.tables.has('#ferry_moved')).toBe(false);
    await expect(apply(writes, session, [update({ id: 31 }, { id: 32, amount: '1.00' }, ['name'])])).rejects.toThrow(
      /the target has no row with id = 31, which the source updated/,
    );
  });

  it('truncates in stream order: TRUNCATE, or DELETE where a foreign key references the table', async () => {
    const truncate: ChangeEvent = { op: 't', table: ITEMS.source, key: {}, before: null, after: null };
    const { model, session, writes } = target([row(1, 'a')]);
    await apply(writes, session, [insert(row(8, 'gone')), truncate, insert(row(9, 'after'))]);
    expect(model.rows('app.items')).toEqual([row(9, 'after')]);
    model.referenced.add('app.items');
    await apply(writes, session, [truncate]);
    expect(model.rows('app.items')).toEqual([]);
    expect(model.branches).toEqual(['truncate', 'delete']);
  });
});

describe('the checkpoint in the transaction of the rows it describes', () => {
  const transaction = (owner: string) => {
    const { model, writes } = target([row(1, 'one')]);
    const session = modelSession(model, [], (statement) => (statement === WRITE_CHECKPOINT_SQL ? [{ owner }] : null));
    const driver = new MssqlDriver(modelPool(model), 60_000);
    const tx = new SqlTransaction(session, {
      driver,
      writes,
      store: mssqlCheckpointStore(modelPool(model), 'p', 'me'),
      tables: new Map([['public.items', ITEMS]]),
      overlap: { end: null },
      holds: { current: {} },
      letters: new LetteredKeys(),
    });
    return { model, tx };
  };
  const at = (pos: number) => ({ kind: 'mysql' as const, file: 'bin.000001', pos });

  it('writes the rows and the checkpoint on one session between BEGIN and COMMIT', async () => {
    const { model, tx } = transaction('me');
    await tx.start();
    await tx.write([{ events: [insert(row(2, 'two')), remove(row(1, 'one'))], position: at(5), commitTime: new Date() }]);
    await tx.commit({ phase: 'stream', position: at(5) });
    const run = model.statements.filter(
      (s) => s === 'BEGIN' || s === 'COMMIT' || s === 'ROLLBACK' || s === WRITE_CHECKPOINT_SQL || /^(DELETE|INSERT INTO \[app\])/.test(s),
    );
    expect(run[0]).toBe('BEGIN');
    expect(run.slice(-2)).toEqual([WRITE_CHECKPOINT_SQL, 'COMMIT']);
    expect(run.some((s) => s.startsWith('DELETE t FROM [app].[items]'))).toBe(true);
    expect(model.rows('app.items')).toEqual([row(2, 'two')]);
  });

  it('commits neither when another process owns the pipeline: the rows are rolled back with the refused checkpoint', async () => {
    const { model, tx } = transaction('another');
    await tx.start();
    await tx.write([{ events: [insert(row(2, 'two'))], position: at(5), commitTime: new Date() }]);
    await expect(tx.commit({ phase: 'stream', position: at(5) })).rejects.toThrow(/another ferry process took over pipeline p/);
    expect(model.statements.at(-1)).toBe('ROLLBACK');
    expect(model.rows('app.items')).toEqual([row(1, 'one')]);
  });
});

describe('a table without a key: one change at a time, every column compared', () => {
  const BAG = { ...ITEMS, primaryKey: [] };
  const bag = (rows: Row[]) => {
    const t = target(rows, { keyless: true });
    const exact = (e: ChangeEvent) => t.writes.applyExact(t.session, BAG, e);
    return { ...t, exact };
  };

  it('deletes and updates exactly one equal row, and stops when none is', async () => {
    const { model, exact } = bag([row(1, 'x'), row(1, 'x'), row(1, 'X')]);
    await exact(remove(row(1, 'x')));
    expect(model.rows('app.items')).toEqual([row(1, 'x'), row(1, 'X')]);
    await exact(update(row(1, 'X'), row(1, 'y')));
    expect(model.rows('app.items')).toEqual([row(1, 'x'), row(1, 'y')]);
    await expect(exact(remove(row(1, 'z')))).rejects.toThrow(/no row of app\.items equals the old image/);
    await exact(insert(row(2, null)));
    expect(model.rows('app.items')).toHaveLength(3);
  });
});

describe('ADD COLUMN mid-stream', () => {
  it('adds only the columns the table lacks, inside the open transaction (SQL Server DDL is transactional)', async () => {
    const ran: string[] = [];
    const session = {
      query: async (statement: string) => (statement === COLUMN_NAMES_SQL ? [{ name: 'id' }, { name: 'name' }, { name: 'amount' }, { name: 'seen' }] : []),
      run: async (statement: string) => void ran.push(statement),
    } as unknown as MssqlSession;
    const writes: RowWrites<MssqlSession> = new MssqlWrites(new MssqlDriver(modelPool(new TsqlModel()), 60_000));
    const seen = col('seen', INT);
    const flag = col('flag', INT, { nullable: false, backfill: { value: 7 } });
    const added = { ...ITEMS, columns: [...ITEMS.columns, seen, flag] };
    let committed = false;
    await writes.addColumns(session, added, [seen, flag], async () => {
      committed = true;
    });
    expect(committed).toBe(false);
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.join('; ')).toMatch(/^ALTER TABLE \[app\]\.\[items\] ADD \[flag\] int NOT NULL CONSTRAINT \[\w+\] DEFAULT 7 WITH VALUES; /);
    expect(ran.join('; ')).not.toMatch(/\[seen\]|\b(COMMIT|BEGIN)\b/);
    for (const s of ran) expect(() => parseTsql(s)).not.toThrow();
  });
});
