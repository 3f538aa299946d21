import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row, Transaction } from '../../src/core/change-event.js';
import type { ErrorPolicy } from '../../src/core/error-policy.js';
import { FerryEventBus } from '../../src/core/events.js';
import type { Sink } from '../../src/core/sink.js';
import { RowOfQuarantineTable } from '../../src/core/table-quarantine.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import { mssqlCheckpointStore, WRITE_CHECKPOINT_SQL, WRITE_DEAD_LETTER_SQL } from '../../src/checkpoint/mssql-checkpoint-table.js';
import { MssqlDriver } from '../../src/sinks/mssql/mssql-driver.js';
import { MSSQL_SAVEPOINTS } from '../../src/sinks/mssql/mssql-savepoints.js';
import { MssqlWrites } from '../../src/sinks/mssql/mssql-writes.js';
import { LetteredKeys } from '../../src/sinks/lettered-keys.js';
import { quarantineTable } from '../../src/pipeline/quarantine.js';
import { ResyncStage } from '../../src/pipeline/resync-stage.js';
import { SqlTransaction } from '../../src/sinks/sql-transaction.js';
import { parseTsql } from '../helpers/tsql.js';
import { modelPool, modelSession, TRANSACTION_ENDED, TsqlModel } from '../helpers/tsql-model.js';

/**
 * A row SQL Server rejects, under each error policy, and a resync: the SQL transaction
 * (sql-transaction.ts) with the SQL Server driver's savepoints, on the model of the server
 * (test/helpers/tsql-model.ts).
 */

const col = (name: string, type: ColumnType): Column => ({ name, type, sourceType: '', nullable: true, autoIncrement: false, backfill: { value: null } });
const ITEMS: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'app', name: 'items' },
  columns: [
    col('id', { kind: 'int', bytes: 4, unsigned: false }),
    col('name', { kind: 'string', maxLength: 50 }),
    col('amount', { kind: 'decimal', precision: 12, scale: 2 }),
  ],
  primaryKey: ['id'],
  indexes: [],
};
const row = (id: number, name: string, amount = '1.00'): Row => ({ id, name, amount });
const insert = (r: Row): ChangeEvent => ({ op: 'c', table: ITEMS.source, key: { id: r.id! }, before: null, after: r });
const at = (pos: number) => ({ kind: 'mysql' as const, file: 'bin.000001', pos });

/**
 * app.items (a unique index on name) holding `rows`, and a transaction on it under `policy` (`next`
 * opens another in the same sink); letters and the checkpoint's holds column are recorded, not run.
 */
function transaction(policy: ErrorPolicy, rows: Row[]) {
  const model = new TsqlModel();
  model.define('app.items', {
    columns: ['id', 'name', 'amount'],
    types: { id: 'int', name: 'nvarchar(50)', amount: 'decimal(12,2)' },
    primaryKey: ['id'],
    unique: [{ name: 'items_name_unique', columns: ['name'] }],
    rows,
  });
  const letters: (readonly unknown[])[] = [];
  const holds: unknown[] = [];
  const session = modelSession(model, [], (statement, params) => {
    if (statement === WRITE_CHECKPOINT_SQL) {
      holds.push(params[6]);
      return [{ owner: 'me' }];
    }
    if (statement !== WRITE_DEAD_LETTER_SQL) return null;
    letters.push(params);
    return [];
  });
  const driver = new MssqlDriver(modelPool(model), 60_000);
  const context = {
    driver,
    writes: new MssqlWrites(driver),
    store: mssqlCheckpointStore(modelPool(model), 'p', 'me'),
    tables: new Map([['public.items', ITEMS]]),
    overlap: { end: null },
    holds: { current: {} },
    letters: new LetteredKeys(),
    errorPolicy: () => policy,
  };
  const next = () => new SqlTransaction(session, context) as SqlTransaction<unknown>;
  return { model, tx: next(), next, letters, holds };
}

async function run(tx: SqlTransaction<unknown>, events: ChangeEvent[]): Promise<void> {
  await tx.start();
  try {
    await tx.write([{ events, position: at(5), commitTime: new Date() }]);
    await tx.commit({ phase: 'stream', position: at(5) });
  } catch (err) {
    await tx.rollback();
    throw err;
  }
}

describe('SQL Server savepoints', () => {
  it('are SAVE TRANSACTION and ROLLBACK TRANSACTION to a name, with XACT_ABORT OFF between save and release', () => {
    expect(MSSQL_SAVEPOINTS).toEqual({
      save: 'SET XACT_ABORT OFF; SAVE TRANSACTION [ferry_rows]',
      rollback: 'ROLLBACK TRANSACTION [ferry_rows]',
      release: 'SET XACT_ABORT ON',
    });
    for (const statement of Object.values(MSSQL_SAVEPOINTS)) expect(() => parseTsql(statement)).not.toThrow();
  });
});

describe('a row SQL Server rejects', () => {
  it('dead-letter: the row goes to ferry_dead_letters in the batch’s transaction, the others are applied once, in order', async () => {
    const { model, tx, letters } = transaction('dead-letter', [row(1, 'one')]);
    await run(tx as SqlTransaction<unknown>, [insert(row(2, 'two')), insert(row(3, 'one')), insert(row(4, 'four'))]);
    expect(model.rows('app.items').map((r) => r.id)).toEqual([1, 2, 4]);
    expect(letters).toHaveLength(1);
    const [, pipeline, table, key, operation, , reason, code, message, image] = letters[0]!;
    expect({ pipeline, table, key, operation, reason, code, image }).toEqual({
      pipeline: 'p',
      table: 'public.items',
      key: '{"id":3}',
      operation: 'insert',
      reason: 'unique',
      code: '2601',
      image: '{"id":3,"name":"one","amount":"1.00"}',
    });
    expect(message).toMatch(/unique index 'items_name_unique'/);
    expect(tx.deadLettered()).toEqual([{ table: 'public.items', reason: 'unique', rows: 1 }]);
    // The failed attempts were undone to the savepoint, the transaction kept, and XACT_ABORT back ON before the letter and the commit.
    const s = model.statements;
    expect(s.filter((x) => x === 'ROLLBACK TRANSACTION [ferry_rows]').length).toBeGreaterThan(0);
    expect(s.filter((x) => x === 'SET XACT_ABORT OFF')).toHaveLength(s.filter((x) => x === 'SET XACT_ABORT ON').length);
    expect(s.at(-1)).toBe('COMMIT');
    expect(s).not.toContain('ROLLBACK');
  });

  it('stop: names the rejected row’s key, and nothing of the transaction is applied', async () => {
    const { model, tx, letters } = transaction('stop', [row(1, 'one')]);
    await expect(run(tx as SqlTransaction<unknown>, [insert(row(2, 'two')), insert(row(3, 'one')), insert(row(4, 'four'))])).rejects.toThrow(
      /target rejected a change to app\.items: .*the row with id = 3/,
    );
    expect(model.rows('app.items').map((r) => r.id)).toEqual([1]);
    expect(letters).toEqual([]);
    expect(model.statements.at(-1)).toBe('ROLLBACK');
  });

  it('an error that ends the whole transaction (a conversion error) stops, naming the row it was written alone', async () => {
    const { model, tx, letters } = transaction('dead-letter', [row(1, 'one')]);
    const failure = run(tx as SqlTransaction<unknown>, [insert(row(2, 'two', '1e400'))]);
    await expect(failure).rejects.toThrow(/the row with id = 2: Error converting data type nvarchar to numeric/);
    await expect(failure).rejects.toMatchObject({
      hint: expect.stringContaining(`the target ended the whole transaction on this error (${TRANSACTION_ENDED})`),
    });
    expect(model.rows('app.items').map((r) => r.id)).toEqual([1]);
    expect(letters).toEqual([]);
  });

  it('an error that ends the whole transaction amid several rows stops naming the first and how many', async () => {
    const { model, tx } = transaction('dead-letter', [row(1, 'one')]);
    await expect(run(tx as SqlTransaction<unknown>, [insert(row(2, 'two')), insert(row(3, 'three', '1e400'))])).rejects.toThrow(
      /one of 2 rows written together, the first with id = 2: Error converting/,
    );
    expect(model.rows('app.items').map((r) => r.id)).toEqual([1]);
  });
});

describe('a write under a savepoint that fails for another reason', () => {
  it('puts XACT_ABORT back ON before the transaction is rolled back, so the pooled connection keeps it', async () => {
    const { model, tx } = transaction('dead-letter', [row(1, 'one')]);
    const remove: ChangeEvent = { op: 'd', table: ITEMS.source, key: { id: 9 }, before: row(9, 'nine'), after: null };
    await expect(run(tx as SqlTransaction<unknown>, [remove])).rejects.toThrow(/id = 9/);
    const s = model.statements;
    expect(s.slice(s.lastIndexOf('SET XACT_ABORT OFF'))).toEqual(expect.arrayContaining(['SET XACT_ABORT ON', 'ROLLBACK']));
    expect(s.lastIndexOf('SET XACT_ABORT ON')).toBeLessThan(s.lastIndexOf('ROLLBACK'));
  });
});

describe('quarantine-table on SQL Server', () => {
  /** What the coordinator does with the error: the hold committed at `position` in a transaction of its own. */
  const quarantine = async (next: () => SqlTransaction<unknown>, err: unknown) => {
    const begin = async () => {
      const tx = next();
      await tx.start();
      return tx;
    };
    await quarantineTable({ begin } as unknown as Sink, err as RowOfQuarantineTable, at(4), new FerryEventBus());
  };

  it('a rejected row rolls the batch back naming table, key and reason, XACT_ABORT back ON; the hold commits in the checkpoint’s holds column', async () => {
    const { model, tx, next, holds } = transaction('quarantine-table', [row(1, 'one')]);
    const err = await run(tx, [insert(row(2, 'two')), insert(row(3, 'one')), insert(row(4, 'four'))]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RowOfQuarantineTable);
    expect(err).toMatchObject({ table: 'public.items', key: { id: 3 }, rejection: { reason: 'unique', code: '2601' } });
    expect(model.rows('app.items').map((r) => r.id)).toEqual([1]);
    const s = model.statements;
    expect(s.filter((x) => x === 'SET XACT_ABORT OFF')).toHaveLength(s.filter((x) => x === 'SET XACT_ABORT ON').length);
    expect(s.at(-1)).toBe('ROLLBACK');
    await quarantine(next, err);
    expect(model.statements.at(-1)).toBe('COMMIT');
    expect(JSON.parse(holds.at(-1) as string)).toEqual({
      'public.items': expect.objectContaining({ state: 'quarantined', key: { id: 3 }, reason: 'unique', position: expect.objectContaining({ pos: 4 }) }),
    });
  });

  it('an error that ends the whole transaction quarantines the table when the row was written alone', async () => {
    const { model, tx, next, holds } = transaction('quarantine-table', [row(1, 'one')]);
    const err = await run(tx, [insert(row(2, 'two', '1e400'))]).catch((e: unknown) => e);
    expect(err).toMatchObject({ table: 'public.items', key: { id: 2 }, message: expect.stringMatching(/the row with id = 2: Error converting/) });
    await quarantine(next, err);
    expect(model.rows('app.items').map((r) => r.id)).toEqual([1]);
    expect(Object.keys(JSON.parse(holds.at(-1) as string))).toEqual(['public.items']);
  });
});

describe('a resync on SQL Server', () => {
  const remove = (r: Row): ChangeEvent => ({ op: 'd', table: ITEMS.source, key: { id: r.id! }, before: r, after: null });
  const update = (r: Row): ChangeEvent => ({ op: 'u', table: ITEMS.source, key: { id: r.id! }, before: r, after: r });

  it('empties the table in stream order (DELETE, a foreign key referencing it), applies its changes as ones that may find no row, upserts the chunks and lifts the hold', async () => {
    const { model, next, holds } = transaction('stop', [row(1, 'stale'), row(5, 'gone at the source')]);
    model.referenced.add('app.items');
    const stage = new ResyncStage(null);
    stage.begin(
      ITEMS,
      '2026-12-04T00:00:00.000Z',
      'start',
      () => {},
      async () => [],
    );
    const apply = async (n: number, events: ChangeEvent[], marker?: string) => {
      const t: Transaction = { events, position: at(n), commitTime: new Date(), ...(marker ? { marker } : {}) };
      const tx = next();
      await tx.start();
      await tx.write([stage.pass(t)]);
      await tx.commit({ phase: 'stream', position: t.position });
    };
    const ids = () =>
      model
        .rows('app.items')
        .map((r) => `${String(r.id)} ${String(r.name)}`)
        .sort();

    await apply(10, [], 'start');
    expect(model.branches).toEqual(['delete']);
    expect(ids()).toEqual([]);
    expect(JSON.parse(holds.at(-1) as string)).toEqual({ 'public.items': { state: 'resyncing', since: '2026-12-04T00:00:00.000Z' } });
    // Its changes meanwhile: a delete and an update of rows the emptied table lacks, an insert.
    await apply(20, [remove(row(7, 'seven')), update(row(2, 'two, updated')), insert(row(4, 'four'))]);
    expect(ids()).toEqual(['2 two, updated', '4 four']);
    stage.expectBare('m0');
    await apply(30, [], 'm0');
    // Key 2 changed within two watermarks of chunk 1: its own change carries it.
    stage.expectChunk('m1', {
      rows: [
        [1, 'one', '1.00'],
        [2, 'two', '1.00'],
        [3, 'three', '1.00'],
      ],
      last: false,
    });
    await apply(40, [], 'm1');
    expect(ids()).toEqual(['1 one', '2 two, updated', '3 three', '4 four']);
    // Key 4's change is older than that: the chunk's row (op 'r') replaces the one the target has.
    stage.expectChunk('m2', { rows: [[4, 'four, read', '1.00']], last: true });
    await apply(50, [], 'm2');
    expect(ids()).toEqual(['1 one', '2 two, updated', '3 three', '4 four, read']);
    expect(holds.at(-1)).toBeNull();
    expect(model.statements.filter((x) => x === 'COMMIT')).toHaveLength(5);
  });
});
