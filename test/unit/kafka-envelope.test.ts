import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/core/change-event.js';
import type { TableSchema } from '../../src/core/schema.js';
import { eventOrigin, schemaVersion, TableCodec, type Envelope } from '../../src/engines/kafka/envelope.js';
import { sourceTransactions } from '../../src/pipeline/kafka-applier.js';

const column = (name: string, kind: 'int' | 'string' | 'binary' | 'decimal') => ({
  name,
  sourceType: kind,
  nullable: true,
  autoIncrement: false,
  backfill: { value: null },
  type:
    kind === 'int'
      ? { kind, bytes: 8 as const, unsigned: false }
      : kind === 'string'
        ? { kind, maxLength: null }
        : kind === 'binary'
          ? { kind, fixedLength: null }
          : { kind, precision: 20, scale: 2 },
});

const ITEMS: TableSchema = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'items' },
  target: { schema: 'shop', name: 'items' },
  columns: [column('tenant', 'int'), column('id', 'int'), column('name', 'string'), column('blob', 'binary'), column('price', 'decimal')],
  primaryKey: ['tenant', 'id'],
  indexes: [],
};

const commitTime = new Date('2026-11-21T10:00:00.123Z');
const origin = eventOrigin('orders', { kind: 'mysql', file: 'bin.000002', pos: 4711 }, commitTime, false);
const row = { tenant: 1, id: '9007199254740993', name: 'ä "quoted"', blob: Buffer.from([0, 255, 10]), price: '12345678901234567.89' };

describe('Kafka change envelope', () => {
  const codec = new TableCodec(ITEMS);

  it('keys a row by its primary key in key-column order, whatever order the row has', () => {
    expect(codec.key({ id: 5, name: 'x', tenant: 2 })).toBe('{"tenant":2,"id":5}');
    expect(codec.key({ tenant: 2, id: 5 })).toBe(codec.key({ id: 5, tenant: 2 }));
  });

  it("carries an update in Debezium's shape and decodes it to the same change, binary and big numbers exact", () => {
    const before = { ...row, name: 'old' };
    const e: ChangeEvent = { op: 'u', table: ITEMS.source, key: { tenant: 1, id: row.id }, before, after: row };
    const message = codec.encode(e, origin);
    const envelope = JSON.parse(message.value) as Envelope;
    expect(envelope.op).toBe('u');
    expect(envelope.after?.blob).toBe(Buffer.from([0, 255, 10]).toString('base64'));
    expect(envelope.source).toMatchObject({
      connector: 'ferry',
      pipeline: 'orders',
      schema: 'shop',
      table: 'items',
      txId: 'bin.000002:4711',
      ts_ms: commitTime.getTime(),
      snapshot: false,
    });
    expect(envelope.schema).toBe(schemaVersion(ITEMS));
    expect(envelope.transaction).toBeUndefined();
    expect(message.key).toBe(`{"tenant":1,"id":"${row.id}"}`);
    expect(codec.decode(JSON.parse(message.value) as Envelope)).toEqual(e);
  });

  it('decodes a delete by its old image, and keeps the columns a source did not send', () => {
    const e: ChangeEvent = {
      op: 'd',
      table: ITEMS.source,
      key: { tenant: 1, id: 3 },
      before: { tenant: 1, id: 3, name: null, blob: null, price: null },
      after: null,
    };
    expect(codec.decode(JSON.parse(codec.encode(e, origin).value) as Envelope)).toEqual(e);
    const toast: ChangeEvent = {
      op: 'u',
      table: ITEMS.source,
      key: { tenant: 1, id: 3 },
      before: null,
      after: { tenant: 1, id: 3, name: 'n', price: '1.00' },
      unchanged: ['blob'],
    };
    expect(codec.decode(JSON.parse(codec.encode(toast, origin).value) as Envelope)).toEqual(toast);
  });

  it('turns a snapshot row into an op r event, and marks the end of a group of transactions when asked', () => {
    const e = codec.snapshotEvent([1, 2, 'n', null, '0.10']);
    expect(e).toEqual({
      op: 'r',
      table: ITEMS.source,
      key: { tenant: 1, id: 2 },
      before: null,
      after: { tenant: 1, id: 2, name: 'n', blob: null, price: '0.10' },
    });
    const envelope = JSON.parse(codec.encode(e, { ...origin, snapshot: true }, true).value) as Envelope;
    expect(envelope.source.snapshot).toBe(true);
    expect(envelope.transaction).toEqual({ last: true });
  });

  it('carries a TRUNCATE (which single-topic mode sends) and decodes it', () => {
    const truncate: ChangeEvent = { op: 't', table: ITEMS.source, key: {}, before: null, after: null };
    expect(codec.decode(JSON.parse(codec.encode(truncate, origin).value) as Envelope)).toEqual(truncate);
  });

  it('gives a schema a new version when a column is added, and the same version to the same schema', () => {
    const wider = { ...ITEMS, columns: [...ITEMS.columns, column('note', 'string')] };
    expect(schemaVersion({ ...ITEMS, target: { schema: 'elsewhere', name: 'items' } })).toBe(schemaVersion(ITEMS));
    expect(schemaVersion(wider)).not.toBe(schemaVersion(ITEMS));
  });
});

describe('an applier’s batch as the source transactions it holds', () => {
  const at = (pos: number) => ({ kind: 'mysql' as const, file: 'bin.000001', pos });
  const message = (pos: number, id: number) => ({
    envelope: { schema: 'v1', source: eventOrigin('p', at(pos), new Date(pos * 1000), false), id } as unknown as Envelope,
  });
  const decode = (e: Envelope) => ({ id: (e as unknown as { id: number }).id }) as unknown as ChangeEvent;

  it('keeps each transaction’s own position, however the batch is cut, tombstones left out', () => {
    const batch = [message(10, 1), message(10, 2), { envelope: null }, message(20, 3), message(10, 4)];
    expect(sourceTransactions(batch, decode).map((t) => [t.position, t.events, t.commitTime.getTime()])).toEqual([
      [at(10), [{ id: 1 }, { id: 2 }], 10_000],
      [at(20), [{ id: 3 }], 20_000],
      // The producer sent transaction 10 again (at least once): a run of its own, at its own position.
      [at(10), [{ id: 4 }], 10_000],
    ]);
    expect(sourceTransactions(batch.slice(1, 2), decode).map((t) => t.position)).toEqual([at(10)]);
  });
});
