import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { makeLogger } from '../../src/log.js';
import { ResyncRefused, ResyncRequests } from '../../src/pipeline/resync-requests.js';
import type { ResyncRun } from '../../src/pipeline/resync.js';
import { readKeysSql as mysqlKeysSql } from '../../src/sources/mysql/mysql-snapshot.js';
import { readKeysSql as pgKeysSql } from '../../src/sources/postgres/pg-snapshot.js';

const column = (name: string, sourceType: string): Column => ({
  name,
  type: { kind: 'int', bytes: 4, unsigned: false },
  sourceType,
  nullable: false,
  autoIncrement: false,
  backfill: { value: null },
});
const table = (name: string, primaryKey: string[]): TableSchema => ({
  engine: 'mysql',
  source: { schema: 'shop', name },
  target: { schema: 'shop', name },
  columns: [column('a', 'int'), column('b', 'bigint'), column('c', 'int')],
  primaryKey,
  indexes: [],
});

describe("a resync's reads of pending keys", () => {
  const t = table('orders', ['a', 'b']);
  it('MySQL/MariaDB: one statement with a row IN list, values in key column order', () => {
    expect(
      mysqlKeysSql(t, [
        { b: 2, a: 1 },
        { a: 3, b: 4 },
      ]),
    ).toEqual({
      sql: 'SELECT `a`, `b`, `c` FROM `shop`.`orders` WHERE (`a`, `b`) IN ((?, ?), (?, ?))',
      values: [1, 2, 3, 4],
    });
  });
  it("Postgres: the parameters cast to the key columns' own types, as the keyset page casts them", () => {
    expect(
      pgKeysSql(t, [
        ['$1', '$2'],
        ['$3', '$4'],
      ]),
    ).toBe('SELECT "a", "b", "c" FROM "shop"."orders" WHERE ("a", "b") IN (($1::int, $2::bigint), ($3::int, $4::bigint))');
  });
});

describe('POST /tables/{schema.table}/resync requests', () => {
  const log = makeLogger('error');
  const refused = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      if (err instanceof ResyncRefused) return { status: err.status, message: err.message, hint: err.hint };
      throw err;
    }
    throw new Error('not refused');
  };

  it('refuses while not streaming, a table not replicated (naming those that are), one without a key, and a second at once', () => {
    const requests = new ResyncRequests(log);
    expect(refused(() => requests.request('shop.orders'))).toMatchObject({ status: 409, message: 'the pipeline is not streaming' });
    const runs: ResyncRun[] = [];
    requests.attach({ tables: [table('orders', ['a']), table('log', [])], run: async (r) => void runs.push(r) }, undefined);
    expect(refused(() => requests.request('shop.nope'))).toEqual({
      status: 404,
      message: 'shop.nope is not a replicated table',
      hint: 'name a source table as schema.table, one of: shop.orders, shop.log',
    });
    expect(refused(() => requests.request('shop.log'))).toMatchObject({ status: 409, message: expect.stringMatching(/has no primary key/) });
  });

  it('runs one at a time, and starts a run over on the next stream attempt, as one the checkpoint holds', async () => {
    const requests = new ResyncRequests(log);
    let finish = () => {};
    const started: [string, boolean][] = [];
    const attempt = {
      tables: [table('orders', ['a']), table('items', ['a'])],
      run: (r: ResyncRun, restarted: boolean) => {
        started.push([r.table, restarted]);
        return new Promise<void>((resolve) => (finish = resolve));
      },
    };
    const detach = requests.attach(attempt, undefined);
    const run = requests.request('shop.orders');
    expect(run).toMatchObject({ table: 'shop.orders' });
    expect(refused(() => requests.request('shop.items'))).toMatchObject({ status: 409, message: `a resync of shop.orders is running (${run.id})` });
    detach();
    requests.attach(attempt, undefined);
    expect(started).toEqual([
      ['shop.orders', false],
      ['shop.orders', true],
    ]);
    finish();
    await new Promise((r) => setImmediate(r));
    expect(requests.current).toBeNull();
    requests.attach(attempt, { 'shop.items': { state: 'resyncing', since: '2026-12-04T17:00:00.000Z' } });
    expect(started[2]).toEqual(['shop.items', true]);
    expect(refused(() => new ResyncRequests(log, { message: 'kafka', hint: 'h' }).request('shop.orders'))).toEqual({
      status: 409,
      message: 'kafka',
      hint: 'h',
    });
  });

  it('starts no run for a table the checkpoint holds resyncing that the attempt does not replicate (excluded since)', () => {
    const requests = new ResyncRequests(log);
    const started: string[] = [];
    requests.attach(
      { tables: [table('orders', ['a'])], run: async (r) => void started.push(r.table) },
      {
        'shop.gone': { state: 'resyncing', since: '2026-12-04T17:00:00.000Z' },
      },
    );
    expect(started).toEqual([]);
    expect(requests.current).toBeNull();
  });

  it('ends a run whose table the target quarantined after it was asked for', () => {
    const requests = new ResyncRequests(log);
    const started: string[] = [];
    const attempt = { tables: [table('orders', ['a'])], run: (r: ResyncRun) => new Promise<void>(() => void started.push(r.id)) };
    requests.attach(attempt, undefined);
    const run = requests.request('shop.orders');
    const quarantined = { state: 'quarantined' as const, position: { kind: 'pg' as const, lsn: 1n }, key: { a: 1 }, reason: 'check' as const, message: 'no' };
    // Quarantined before the request (a resync of a quarantined table): it starts over.
    requests.attach(attempt, { 'shop.orders': { ...quarantined, since: '2000-01-01T00:00:00.000Z' } });
    expect(started).toEqual([run.id, run.id]);
    // Quarantined after it: it ends, and another may be asked for.
    requests.attach(attempt, { 'shop.orders': { ...quarantined, since: '2999-01-01T00:00:00.000Z' } });
    expect(started).toHaveLength(2);
    expect(requests.current).toBeNull();
  });
});
