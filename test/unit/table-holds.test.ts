import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Transaction } from '../../src/core/change-event.js';
import { checkpointFromText, decodeHolds, encodeHolds } from '../../src/core/checkpoint-codec.js';
import type { Checkpoint } from '../../src/core/checkpoint.js';
import type { CheckpointStore } from '../../src/core/checkpoint-store.js';
import type { ErrorPolicy } from '../../src/core/error-policy.js';
import { formatPosition, type Position } from '../../src/core/position.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { TableHold, TableHolds } from '../../src/core/table-hold.js';
import type { RowWrites } from '../../src/sinks/row-writes.js';
import { STANDARD_SAVEPOINTS, type SqlDriver } from '../../src/sinks/sql-driver.js';
import { LetteredKeys } from '../../src/sinks/lettered-keys.js';
import { type Holds, SqlTransaction } from '../../src/sinks/sql-transaction.js';
import { holdJson, RowOfQuarantineTable } from '../../src/core/table-quarantine.js';
import { holdLines, runningResync } from '../../src/pipeline/status.js';
import { withoutHeldTables } from '../../src/pipeline/held-tables.js';
import { liftUnreplicatedHolds } from '../../src/pipeline/unreplicated-holds.js';
import { pino } from 'pino';
import type { Sink } from '../../src/core/sink.js';

const at = (pos: number): Position => ({ kind: 'mysql', file: 'bin.000001', pos });
const since = '2026-12-04T17:00:00.000Z';
const quarantined: TableHold = {
  state: 'quarantined',
  since,
  position: { kind: 'pg', lsn: 2n ** 60n + 7n },
  key: { id: 7, code: Buffer.from([0xde, 0xad]) },
  reason: 'check',
  message: 'new row for relation "orders" violates check constraint "orders_amount_check"',
};
const resyncing: TableHold = { state: 'resyncing', since };

describe('table holds in the checkpoint row', () => {
  it('keep an LSN past 2^53 and a binary key exactly through their JSON text', () => {
    const holds: TableHolds = { 'shop.orders': quarantined, 'shop.items': resyncing };
    const text = encodeHolds(holds);
    expect(decodeHolds(text)).toEqual({ holds });
    // Postgres hands jsonb back parsed.
    expect(decodeHolds(JSON.parse(text!))).toEqual({ holds });
    const row = { phase: 'stream' as const, position: JSON.stringify(at(5)), tables: null, overlap_end: null, holds: text };
    expect(checkpointFromText(row, () => new Date()).holds).toEqual(holds);
  });

  it('are written as NULL when no table is held, and read back as none', () => {
    expect(encodeHolds(undefined)).toBeNull();
    expect(encodeHolds({})).toBeNull();
    expect(decodeHolds(null)).toEqual({});
    expect(checkpointFromText({ phase: 'stream', position: null, tables: null, overlap_end: null, holds: null }, () => new Date())).toEqual({
      phase: 'stream',
      position: null,
    });
  });
});

describe('table holds as ferry status shows them', () => {
  const holds = { 'shop.orders': holdJson(quarantined), 'shop.items': holdJson(resyncing) };

  it('in JSON as GET /status does: a quarantine’s position formatted and its key as JSON, binary as hex', () => {
    expect(holds['shop.orders']).toEqual({ ...quarantined, position: formatPosition(quarantined.position), key: { id: 7, code: { $hex: 'dead' } } });
    expect(holds['shop.items']).toEqual(resyncing);
  });

  it('in lines: the quarantine’s position, key, reason and fix; a resync’s progress where the running ferry told it', () => {
    const [orders, items] = holdLines({ holds, resync: null });
    expect(orders).toBe(
      `held shop.orders: quarantined since ${since} at ${String(holds['shop.orders']!.position)}: the target rejected the row with key {"id":7,"code":{"$hex":"dead"}} (check: ${quarantined.message}); fix the target, then POST /tables/shop.orders/resync (POST /pipelines/{name}/tables/shop.orders/resync in a process of several pipelines)`,
    );
    expect(items).toBe(`held shop.items: being resynced since ${since} (its progress: GET /status of the running ferry)`);
    const resync = { id: 'r1', table: 'shop.items', state: 'running' as const, since, restarts: 1, chunks: 4, rows: 400, readAhead: 0 };
    expect(holdLines({ holds, resync })[1]).toBe(`held shop.items: being resynced since ${since}: 4 chunks, 400 rows copied so far, started over once`);
  });
});

const table = (name: string): TableSchema => ({
  engine: 'mysql',
  source: { schema: 'shop', name },
  target: { schema: 'shop', name },
  columns: [],
  primaryKey: ['id'],
  indexes: [],
});
const ORDERS = table('orders');
const ITEMS = table('items');
const remove = (t: TableSchema, id: number): ChangeEvent => ({ op: 'd', table: t.source, key: { id }, before: { id }, after: null });
const txn = (pos: number, events: ChangeEvent[], hold?: Transaction['hold']): Transaction => ({
  events,
  position: at(pos),
  commitTime: new Date(),
  ...(hold ? { hold } : {}),
});

/**
 * A SqlTransaction on a target that records what it is asked: each table's writes with whether their
 * deletes and updates must find their rows, the statements run, and the checkpoints written.
 */
function target(loaded: TableHolds = {}, rejects?: { table: string; policy: ErrorPolicy }) {
  const statements: string[] = [];
  const applied: { table: string; checked: boolean }[] = [];
  const checkpoints: Checkpoint[] = [];
  const driver: SqlDriver<string> = {
    checkout: async () => 'conn',
    run: async (_c, sql) => void statements.push(sql),
    giveBack: () => {},
    loadRows: async () => {},
    close: async () => {},
    savepoints: STANDARD_SAVEPOINTS,
  };
  const writes = {
    applyRows: async (_c: string, t: TableSchema, _w: unknown, checked: boolean) => {
      // A Postgres CHECK violation, as pg reports it.
      if (t.source.name === rejects?.table)
        throw Object.assign(new Error(`new row for relation "${t.source.name}" violates check constraint`), { code: '23514' });
      applied.push({ table: t.source.name, checked });
    },
    truncate: async (_c: string, t: TableSchema) => void statements.push(`TRUNCATE ${t.source.name}`),
    // As MySQL's: the DDL commits the open transaction by itself.
    addColumns: async (_c: string, _t: TableSchema, _columns: unknown, beforeImplicitCommit: () => Promise<void>) => beforeImplicitCommit(),
  } as unknown as RowWrites<string>;
  const store = {
    write: async (_c: string, c: Checkpoint) => void checkpoints.push(c),
    read: async (): Promise<Checkpoint> => ({ phase: 'stream', position: at(5), ...(Object.keys(loaded).length > 0 ? { holds: loaded } : {}) }),
  } as unknown as CheckpointStore<string>;
  const holds: Holds = { current: loaded };
  const open = async () => {
    const tx = new SqlTransaction('conn', {
      driver,
      writes,
      store,
      tables: new Map([
        ['shop.orders', ORDERS],
        ['shop.items', ITEMS],
      ]),
      overlap: { end: null },
      holds,
      letters: new LetteredKeys(),
      ...(rejects ? { errorPolicy: () => rejects.policy } : {}),
    });
    await tx.start();
    return tx;
  };
  return { open, holds, applied, checkpoints, statements };
}

describe('a hold set or lifted by a source transaction, in the target transaction that applies it', () => {
  it("applies a resyncing table's deletes and updates as changes that may find no row, from the transaction that set it on", async () => {
    const t = target();
    const tx = await t.open();
    await tx.write([
      txn(10, [remove(ORDERS, 1)], { table: 'shop.orders', hold: resyncing }),
      txn(20, [remove(ORDERS, 2), remove(ITEMS, 3)]),
      txn(30, [], { table: 'shop.orders', hold: null }),
      txn(40, [remove(ORDERS, 4)]),
    ]);
    expect(t.applied).toEqual([
      { table: 'orders', checked: true },
      { table: 'orders', checked: false },
      { table: 'items', checked: true },
      { table: 'orders', checked: true },
    ]);
  });

  it('makes the hold the sink’s own only once committed, written in that commit’s checkpoint', async () => {
    const t = target();
    const tx = await t.open();
    await tx.write([txn(10, [], { table: 'shop.orders', hold: resyncing })]);
    expect(t.holds.current).toEqual({});
    await tx.commit({ phase: 'stream', position: at(10) });
    expect(t.checkpoints).toEqual([{ phase: 'stream', position: at(10), holds: { 'shop.orders': resyncing } }]);
    expect(t.holds.current).toEqual({ 'shop.orders': resyncing });
    // Later transactions see it, and every commit writes it again.
    const next = await t.open();
    await next.write([txn(20, [remove(ORDERS, 2)])]);
    await next.commit({ phase: 'stream', position: at(20) });
    expect(t.applied.at(-1)).toEqual({ table: 'orders', checked: false });
    expect(t.checkpoints.at(-1)).toEqual({ phase: 'stream', position: at(20), holds: { 'shop.orders': resyncing } });
  });

  it('forgets a hold its transaction set when that transaction rolls back', async () => {
    const t = target({ 'shop.items': quarantined });
    const tx = await t.open();
    await tx.write([txn(10, [], { table: 'shop.orders', hold: resyncing }), txn(11, [], { table: 'shop.items', hold: null })]);
    await tx.rollback();
    expect(t.statements.at(-1)).toBe('ROLLBACK');
    expect(t.holds.current).toEqual({ 'shop.items': quarantined });
    const next = await t.open();
    await next.write([txn(20, [remove(ORDERS, 2)])]);
    await next.commit({ phase: 'stream', position: at(20) });
    expect(t.applied).toEqual([{ table: 'orders', checked: true }]);
    expect(t.checkpoints).toEqual([{ phase: 'stream', position: at(20), holds: { 'shop.items': quarantined } }]);
  });

  it("writes the holds as it has them into the checkpoint a target DDL commits with its writes so far (MySQL): a resync's truncate never commits without its hold", async () => {
    const t = target({ 'shop.items': quarantined });
    const tx = await t.open();
    const truncate: ChangeEvent = { op: 't', table: ORDERS.source, key: {}, before: null, after: null };
    await tx.write([txn(10, [truncate], { table: 'shop.orders', hold: resyncing })]);
    await tx.addColumns(ITEMS.source, []);
    expect(t.statements).toEqual(['BEGIN', 'TRUNCATE orders']);
    expect(t.checkpoints).toEqual([{ phase: 'stream', position: at(5), overlapEnd: at(10), holds: { 'shop.items': quarantined, 'shop.orders': resyncing } }]);
    await tx.rollback();
  });

  it('writes no holds once the last is lifted', async () => {
    const t = target({ 'shop.orders': resyncing });
    const tx = await t.open();
    await tx.write([txn(10, [], { table: 'shop.orders', hold: null })]);
    await tx.commit({ phase: 'stream', position: at(10) });
    expect(t.checkpoints).toEqual([{ phase: 'stream', position: at(10) }]);
    expect(t.holds.current).toEqual({});
  });
});

describe('the holds of tables no longer replicated (tables.exclude), as a stream attempt starts', () => {
  it('are lifted, committed at the checkpoint, and named in the log; the others are kept', async () => {
    const t = target({ 'shop.orders': quarantined, 'shop.items': resyncing, 'shop.gone': quarantined });
    const sink = { begin: t.open } as unknown as Sink;
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    expect(await liftUnreplicatedHolds(sink, t.holds.current, [ORDERS], at(50), log)).toEqual({ 'shop.orders': quarantined });
    expect(t.checkpoints).toEqual([{ phase: 'stream', position: at(50), holds: { 'shop.orders': quarantined } }]);
    expect(t.holds.current).toEqual({ 'shop.orders': quarantined });
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['the hold of shop.items, shop.gone is lifted: no longer replicated (tables.include, tables.exclude)']);
    // Nothing to lift: nothing written.
    expect(await liftUnreplicatedHolds(sink, t.holds.current, [ORDERS], at(60), log)).toEqual({ 'shop.orders': quarantined });
    expect(t.checkpoints).toHaveLength(1);
  });
});

describe('a row the target rejects in a table whose error policy is quarantine-table', () => {
  const insert = (t: TableSchema, id: number): ChangeEvent => ({ op: 'c', table: t.source, key: { id }, before: null, after: { id } });

  it('fails the target transaction with the table, the key and the rejection, for the stream to quarantine the table', async () => {
    const t = target({}, { table: 'orders', policy: 'quarantine-table' });
    const tx = await t.open();
    const error = await tx.write([txn(10, [remove(ITEMS, 1), insert(ORDERS, 9)])]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RowOfQuarantineTable);
    expect(error).toMatchObject({ table: 'shop.orders', key: { id: 9 }, rejection: { reason: 'check', code: '23514' }, kind: 'fatal' });
    expect((error as Error).message).toMatch(/the row with id = 9: new row for relation "orders" violates check constraint/);
    expect((error as RowOfQuarantineTable).hint).toMatch(/POST \/tables\/shop\.orders\/resync/);
    await tx.rollback();
  });

  it('stops as ever under stop', async () => {
    const t = target({}, { table: 'orders', policy: 'stop' });
    const tx = await t.open();
    const error = await tx.write([txn(10, [insert(ORDERS, 9)])]).catch((err: unknown) => err);
    expect(error).not.toBeInstanceOf(RowOfQuarantineTable);
    expect((error as Error).message).toMatch(/target rejected a change to shop\.orders: the row with id = 9/);
    await tx.rollback();
  });
});

describe('the stream without the quarantined tables (held-tables.ts)', () => {
  async function* of(transactions: Transaction[]): AsyncIterable<Transaction> {
    yield* transactions;
  }
  const collect = async (stream: AsyncIterable<Transaction>) => {
    const out: Transaction[] = [];
    for await (const t of stream) out.push(t);
    return out;
  };
  const addColumn = (t: TableSchema, pos: number): Transaction => ({ ...txn(pos, []), schemaChange: { table: t.source, addColumns: [] } });

  it("drops a quarantined table's changes, keeping every transaction for its position, and its schema changes (its resync copies the added columns)", async () => {
    const input = [txn(10, [remove(ORDERS, 1), remove(ITEMS, 2)]), addColumn(ORDERS, 20), addColumn(ITEMS, 30), txn(40, [remove(ITEMS, 3)])];
    const out = await collect(withoutHeldTables(of(input), { 'shop.orders': quarantined }));
    expect(out.map((t) => t.position)).toEqual([at(10), at(20), at(30), at(40)]);
    expect(out[0]!.events).toEqual([remove(ITEMS, 2)]);
    expect(out.slice(1)).toEqual(input.slice(1));
  });

  it('passes a resyncing table on, and follows the holds transactions set or lift from themselves on (a resync start’s truncate passes)', async () => {
    const truncate: ChangeEvent = { op: 't', table: ORDERS.source, key: {}, before: null, after: null };
    const input = [
      txn(10, [remove(ITEMS, 1)], { table: 'shop.orders', hold: quarantined }),
      txn(20, [remove(ORDERS, 2)]),
      txn(30, [truncate], { table: 'shop.orders', hold: resyncing }),
      txn(40, [remove(ORDERS, 4), remove(ITEMS, 5)]),
    ];
    const out = await collect(withoutHeldTables(of(input), { 'shop.items': resyncing }));
    expect(out.map((t) => t.events)).toEqual([[remove(ITEMS, 1)], [], [truncate], [remove(ORDERS, 4), remove(ITEMS, 5)]]);
    expect(out[2]!.hold).toEqual({ table: 'shop.orders', hold: resyncing });
  });
});

describe('ferry status asks the running ferry for its resync’s progress', () => {
  const resync = { id: 'r1', table: 'shop.items', state: 'running' as const, since, restarts: 0, chunks: 2, rows: 200, readAhead: 0 };

  it('from a process of several pipelines too, whose GET /status holds each pipeline’s under its name', async () => {
    const { createServer } = await import('node:http');
    const other = { ...resync, id: 'r0', table: 'shop.orders' };
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ pipelines: { a: { pipeline: 'a', resync: other }, b: { pipeline: 'b', resync } } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const log = pino({ level: 'silent' });
      const config = { pipeline: 'b', admin: { listen: `127.0.0.1:${port}`, token: undefined, readyMaxLagSeconds: 60 } };
      expect(await runningResync(config, { 'shop.items': resyncing }, log)).toEqual(resync);
    } finally {
      server.close();
    }
  });
});
