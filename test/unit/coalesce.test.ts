import { describe, expect, it } from 'vitest';
import { pickKey, type ChangeEvent, type Row, type TableId } from '../../src/core/change-event.js';
import { coalesce, type Write } from '../../src/core/coalesce.js';

const users: TableId = { schema: 'app', name: 'users' };
const orders: TableId = { schema: 'app', name: 'orders' };
/** Composite key (org, user). */
const members: TableId = { schema: 'app', name: 'members' };
/** Binary key. */
const blobs: TableId = { schema: 'app', name: 'blobs' };

const primaryKeyOf = (t: TableId): readonly string[] => (t.name === 'members' ? ['org', 'user'] : ['id']);

const insert = (table: TableId, row: Row): ChangeEvent =>
  ({ op: 'c', table, key: pickKey(row, primaryKeyOf(table)), before: null, after: row });
const update = (table: TableId, before: Row, after: Row): ChangeEvent =>
  ({ op: 'u', table, key: pickKey(after, primaryKeyOf(table)), before, after });
const remove = (table: TableId, row: Row): ChangeEvent =>
  ({ op: 'd', table, key: pickKey(row, primaryKeyOf(table)), before: row, after: null });
const truncate = (table: TableId): ChangeEvent => ({ op: 't', table, key: {}, before: null, after: null });

const rows = (table: TableId, deletes: Row[], upserts: Row[]): Write => ({ kind: 'rows', table, deletes, upserts });

describe('coalesce', () => {
  it('returns nothing for no events', () => {
    expect(coalesce([], primaryKeyOf)).toEqual([]);
  });

  it('turns an insert and updates of one row into one upsert of the last image', () => {
    const writes = coalesce([
      insert(users, { id: 1, name: 'ann' }),
      update(users, { id: 1, name: 'ann' }, { id: 1, name: 'anne' }),
      update(users, { id: 1, name: 'anne' }, { id: 1, name: 'anna' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [], [{ id: 1, name: 'anna' }])]);
  });

  it('turns an update then a delete into one delete of the key', () => {
    const writes = coalesce([
      update(users, { id: 1, name: 'ann' }, { id: 1, name: 'anne' }),
      remove(users, { id: 1, name: 'anne' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 1 }], [])]);
  });

  it('turns a delete then an insert of the same key into an upsert', () => {
    const writes = coalesce([
      remove(users, { id: 1, name: 'ann' }),
      insert(users, { id: 1, name: 'bob' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [], [{ id: 1, name: 'bob' }])]);
  });

  it('snapshot reads are upserts too', () => {
    const read: ChangeEvent = { op: 'r', table: users, key: { id: 3 }, before: null, after: { id: 3, name: 'cy' } };
    expect(coalesce([read], primaryKeyOf)).toEqual([rows(users, [], [{ id: 3, name: 'cy' }])]);
  });

  it('keeps upserts in the order of each row\'s last change', () => {
    const writes = coalesce([
      insert(users, { id: 1, name: 'a' }),
      insert(users, { id: 2, name: 'b' }),
      update(users, { id: 1, name: 'a' }, { id: 1, name: 'a2' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [], [{ id: 2, name: 'b' }, { id: 1, name: 'a2' }])]);
  });

  it('deletes the old key and upserts the new one when the primary key changes', () => {
    const writes = coalesce([update(users, { id: 1, name: 'ann' }, { id: 2, name: 'ann' })], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 1 }], [{ id: 2, name: 'ann' }])]);
  });

  it('follows a key that changes and changes back', () => {
    const writes = coalesce([
      update(users, { id: 1, name: 'a' }, { id: 2, name: 'a' }),
      update(users, { id: 2, name: 'a' }, { id: 1, name: 'b' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 2 }], [{ id: 1, name: 'b' }])]);
  });

  it('an insert after a key moved away brings the old key back', () => {
    const writes = coalesce([
      update(users, { id: 1, name: 'a' }, { id: 2, name: 'a' }),
      insert(users, { id: 1, name: 'new' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [], [{ id: 2, name: 'a' }, { id: 1, name: 'new' }])]);
  });

  it('splits the run at a truncate, keeping writes before and after in order', () => {
    const writes = coalesce([
      insert(users, { id: 1, name: 'before' }),
      insert(orders, { id: 10, total: '5.00' }),
      truncate(users),
      insert(users, { id: 1, name: 'after' }),
      remove(users, { id: 2, name: 'x' }),
    ], primaryKeyOf);
    expect(writes).toEqual([
      rows(users, [], [{ id: 1, name: 'before' }]),
      rows(orders, [], [{ id: 10, total: '5.00' }]),
      { kind: 'truncate', table: users },
      rows(users, [{ id: 2 }], [{ id: 1, name: 'after' }]),
    ]);
  });

  it('emits consecutive truncates without empty row writes between them', () => {
    expect(coalesce([truncate(users), truncate(orders)], primaryKeyOf)).toEqual([
      { kind: 'truncate', table: users },
      { kind: 'truncate', table: orders },
    ]);
  });

  it('coalesces per composite key, keeping rows that share part of the key apart', () => {
    const writes = coalesce([
      insert(members, { org: 1, user: 1, role: 'owner' }),
      insert(members, { org: 1, user: 2, role: 'viewer' }),
      update(members, { org: 1, user: 2, role: 'viewer' }, { org: 1, user: 2, role: 'editor' }),
      remove(members, { org: 1, user: 1, role: 'owner' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(members, [{ org: 1, user: 1 }], [{ org: 1, user: 2, role: 'editor' }])]);
  });

  it('detects a change of one column of a composite key', () => {
    const writes = coalesce([
      update(members, { org: 1, user: 2, role: 'r' }, { org: 3, user: 2, role: 'r' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(members, [{ org: 1, user: 2 }], [{ org: 3, user: 2, role: 'r' }])]);
  });

  it('matches Buffer keys by content, not identity', () => {
    const writes = coalesce([
      insert(blobs, { id: Buffer.from('00ff', 'hex'), v: 1 }),
      update(blobs, { id: Buffer.from('00ff', 'hex'), v: 1 }, { id: Buffer.from('00ff', 'hex'), v: 2 }),
      insert(blobs, { id: Buffer.from('00fe', 'hex'), v: 3 }),
    ], primaryKeyOf);
    expect(writes).toEqual([
      rows(blobs, [], [{ id: Buffer.from('00ff', 'hex'), v: 2 }, { id: Buffer.from('00fe', 'hex'), v: 3 }]),
    ]);
  });

  it('keeps the same key in different tables apart, one write per table', () => {
    const writes = coalesce([
      insert(users, { id: 1, name: 'ann' }),
      insert(orders, { id: 1, total: '9.99' }),
      remove(users, { id: 1, name: 'ann' }),
    ], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 1 }], []), rows(orders, [], [{ id: 1, total: '9.99' }])]);
  });

  it('keeps tables of the same name in different schemas apart', () => {
    const eu: TableId = { schema: 'eu', name: 'users' };
    const writes = coalesce([insert(users, { id: 1, name: 'a' }), insert(eu, { id: 1, name: 'b' })], primaryKeyOf);
    expect(writes).toEqual([rows(users, [], [{ id: 1, name: 'a' }]), rows(eu, [], [{ id: 1, name: 'b' }])]);
  });
});
