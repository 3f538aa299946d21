import { describe, expect, it } from 'vitest';
import { pickKey, type ChangeEvent, type Row, type TableId } from '../../src/core/change-event.js';
import { coalesce, groupByColumns, type Patch, type Write } from '../../src/core/coalesce.js';

const users: TableId = { schema: 'app', name: 'users' };
const orders: TableId = { schema: 'app', name: 'orders' };
/** Composite key (org, user). */
const members: TableId = { schema: 'app', name: 'members' };
/** Binary key. */
const blobs: TableId = { schema: 'app', name: 'blobs' };

/** Without a primary key: keyed by all columns. */
const log: TableId = { schema: 'app', name: 'log' };

const primaryKeyOf = (t: TableId): readonly string[] => (t.name === 'members' ? ['org', 'user'] : t.name === 'log' ? [] : ['id']);

const insert = (table: TableId, row: Row): ChangeEvent => ({ op: 'c', table, key: pickKey(row, primaryKeyOf(table)), before: null, after: row });
const update = (table: TableId, before: Row, after: Row): ChangeEvent => ({ op: 'u', table, key: pickKey(after, primaryKeyOf(table)), before, after });
const remove = (table: TableId, row: Row): ChangeEvent => ({ op: 'd', table, key: pickKey(row, primaryKeyOf(table)), before: row, after: null });
const truncate = (table: TableId): ChangeEvent => ({ op: 't', table, key: {}, before: null, after: null });

const rows = (table: TableId, deletes: Row[], upserts: Row[], patches: Patch[] = [], inserts: Row[] = [], transients: Row[] = []): Write => ({
  kind: 'rows',
  table,
  deletes,
  inserts,
  upserts,
  patches,
  transients,
});
/** Rows the run created (their key's first change was an insert). */
const inserted = (table: TableId, inserts: Row[], deletes: Row[] = [], upserts: Row[] = []): Write => rows(table, deletes, upserts, [], inserts);
/** An update that did not carry `unchanged` columns (Postgres unchanged TOAST values). */
const partial = (table: TableId, before: Row | null, after: Row, unchanged: string[]): ChangeEvent => ({
  op: 'u',
  table,
  key: pickKey(after, primaryKeyOf(table)),
  before,
  after,
  unchanged,
});

describe('coalesce', () => {
  it('tells one-column keys of different kinds apart, and equal binary keys alike', () => {
    const writes = coalesce(
      [
        insert(users, { id: 1, v: 'number' }),
        insert(users, { id: '1', v: 'string' }),
        insert(users, { id: 1, v: 'number again' }),
        insert(blobs, { id: Buffer.from('ab'), v: 'first' }),
        insert(blobs, { id: Buffer.from('ab'), v: 'second' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([
      inserted(users, [
        { id: '1', v: 'string' },
        { id: 1, v: 'number again' },
      ]),
      inserted(blobs, [{ id: Buffer.from('ab'), v: 'second' }]),
    ]);
  });

  it('returns nothing for no events', () => {
    expect(coalesce([], primaryKeyOf)).toEqual([]);
  });

  it('turns an insert and updates of one row into one insert of the last image: the row is new', () => {
    const writes = coalesce(
      [
        insert(users, { id: 1, name: 'ann' }),
        update(users, { id: 1, name: 'ann' }, { id: 1, name: 'anne' }),
        update(users, { id: 1, name: 'anne' }, { id: 1, name: 'anna' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([inserted(users, [{ id: 1, name: 'anna' }])]);
  });

  it('counts a row as created only when an insert is its first change of the run', () => {
    const writes = coalesce(
      [
        update(users, { id: 1, name: 'a' }, { id: 1, name: 'b' }), // existed before the run
        insert(users, { id: 2, name: 'c' }),
        update(users, { id: 2, name: 'c' }, { id: 3, name: 'c' }), // a created row moved to a new key
        insert(users, { id: 4, name: 'd' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([
      rows(
        users,
        [],
        [
          { id: 1, name: 'b' },
          { id: 3, name: 'c' },
        ],
        [],
        [{ id: 4, name: 'd' }],
        [{ id: 2 }],
      ),
    ]);
  });

  it('turns an update then a delete into one delete of the key', () => {
    const writes = coalesce([update(users, { id: 1, name: 'ann' }, { id: 1, name: 'anne' }), remove(users, { id: 1, name: 'anne' })], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 1 }], [])]);
  });

  it('tells a delete of a row the run created (a target in step never had it) from one that must find its row', () => {
    const writes = coalesce(
      [
        insert(users, { id: 1, name: 'a' }),
        remove(users, { id: 1, name: 'a' }), // created, then deleted
        insert(users, { id: 2, name: 'b' }),
        remove(users, { id: 2, name: 'b' }),
        insert(users, { id: 2, name: 'c' }),
        remove(users, { id: 2, name: 'c' }),
        insert(users, { id: 3, name: 'd' }),
        update(users, { id: 3, name: 'd' }, { id: 4, name: 'd' }), // created, then moved away
        update(users, { id: 5, name: 'e' }, { id: 5, name: 'f' }),
        remove(users, { id: 5, name: 'f' }), // existed before the run
        remove(users, { id: 6, name: 'g' }),
        insert(users, { id: 6, name: 'h' }),
        remove(users, { id: 6, name: 'h' }), // existed before the run
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([rows(users, [{ id: 5 }, { id: 6 }], [{ id: 4, name: 'd' }], [], [], [{ id: 1 }, { id: 2 }, { id: 3 }])]);
  });

  it('deletes a row the target may not hold (mayBeMissing: a row filter could not tell) without expecting to find it', () => {
    const writes = coalesce([{ ...remove(users, { id: 1 }), mayBeMissing: true }, remove(users, { id: 2 })], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 2 }], [], [], [], [{ id: 1 }])]);
  });

  it('an insert after the run deleted what it created is a created row again', () => {
    const writes = coalesce([insert(users, { id: 1, name: 'a' }), remove(users, { id: 1, name: 'a' }), insert(users, { id: 1, name: 'b' })], primaryKeyOf);
    expect(writes).toEqual([inserted(users, [{ id: 1, name: 'b' }])]);
  });

  it('turns a delete then an insert of the same key into an upsert', () => {
    const writes = coalesce([remove(users, { id: 1, name: 'ann' }), insert(users, { id: 1, name: 'bob' })], primaryKeyOf);
    expect(writes).toEqual([rows(users, [], [{ id: 1, name: 'bob' }])]);
  });

  it('snapshot reads are inserts too', () => {
    const read: ChangeEvent = { op: 'r', table: users, key: { id: 3 }, before: null, after: { id: 3, name: 'cy' } };
    expect(coalesce([read], primaryKeyOf)).toEqual([inserted(users, [{ id: 3, name: 'cy' }])]);
  });

  it("keeps rows in the order of each row's last change", () => {
    const writes = coalesce(
      [insert(users, { id: 1, name: 'a' }), insert(users, { id: 2, name: 'b' }), update(users, { id: 1, name: 'a' }, { id: 1, name: 'a2' })],
      primaryKeyOf,
    );
    expect(writes).toEqual([
      inserted(users, [
        { id: 2, name: 'b' },
        { id: 1, name: 'a2' },
      ]),
    ]);
  });

  it('deletes the old key and upserts the new one when the primary key changes', () => {
    const writes = coalesce([update(users, { id: 1, name: 'ann' }, { id: 2, name: 'ann' })], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 1 }], [{ id: 2, name: 'ann' }])]);
  });

  it('follows a key that changes and changes back', () => {
    const writes = coalesce(
      [update(users, { id: 1, name: 'a' }, { id: 2, name: 'a' }), update(users, { id: 2, name: 'a' }, { id: 1, name: 'b' })],
      primaryKeyOf,
    );
    // Key 2 had no row when the run began: its delete must not expect one (a target in step has none).
    expect(writes).toEqual([rows(users, [], [{ id: 1, name: 'b' }], [], [], [{ id: 2 }])]);
  });

  it('deletes a key a row was moved to and away from again as one the run created: every key of a table flipped and flipped back, a swap through a spare key', () => {
    const flip = (from: number[], to: number[]) =>
      from.map((id, i) => update(users, { id, name: `n${Math.abs(id)}` }, { id: to[i]!, name: `n${Math.abs(id)}` }));
    const flipped = coalesce([...flip([1, 2], [-1, -2]), ...flip([-1, -2], [1, 2])], primaryKeyOf);
    expect(flipped).toEqual([
      rows(
        users,
        [],
        [
          { id: 1, name: 'n1' },
          { id: 2, name: 'n2' },
        ],
        [],
        [],
        [{ id: -1 }, { id: -2 }],
      ),
    ]);
    // 1 → 3, 2 → 1, 3 → 2: keys 1 and 2 had rows when the run began, 3 did not.
    const swapped = coalesce(
      [
        update(users, { id: 1, name: 'a' }, { id: 3, name: 'a' }),
        update(users, { id: 2, name: 'b' }, { id: 1, name: 'b' }),
        update(users, { id: 3, name: 'a' }, { id: 2, name: 'a' }),
        update(users, { id: 2, name: 'a' }, { id: 4, name: 'a' }),
      ],
      primaryKeyOf,
    );
    expect(swapped).toEqual([
      rows(
        users,
        [{ id: 2 }],
        [
          { id: 1, name: 'b' },
          { id: 4, name: 'a' },
        ],
        [],
        [],
        [{ id: 3 }],
      ),
    ]);
  });

  it('an insert after a key moved away brings the old key back', () => {
    const writes = coalesce([update(users, { id: 1, name: 'a' }, { id: 2, name: 'a' }), insert(users, { id: 1, name: 'new' })], primaryKeyOf);
    expect(writes).toEqual([
      rows(
        users,
        [],
        [
          { id: 2, name: 'a' },
          { id: 1, name: 'new' },
        ],
      ),
    ]);
  });

  it('splits the run at a truncate, keeping writes before and after in order', () => {
    const writes = coalesce(
      [
        insert(users, { id: 1, name: 'before' }),
        insert(orders, { id: 10, total: '5.00' }),
        truncate(users),
        insert(users, { id: 1, name: 'after' }),
        remove(users, { id: 2, name: 'x' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([
      inserted(users, [{ id: 1, name: 'before' }]),
      inserted(orders, [{ id: 10, total: '5.00' }]),
      { kind: 'truncate', table: users },
      inserted(users, [{ id: 1, name: 'after' }], [{ id: 2 }]),
    ]);
  });

  it('emits consecutive truncates without empty row writes between them', () => {
    expect(coalesce([truncate(users), truncate(orders)], primaryKeyOf)).toEqual([
      { kind: 'truncate', table: users },
      { kind: 'truncate', table: orders },
    ]);
  });

  it('coalesces per composite key, keeping rows that share part of the key apart', () => {
    const writes = coalesce(
      [
        insert(members, { org: 1, user: 1, role: 'owner' }),
        insert(members, { org: 1, user: 2, role: 'viewer' }),
        update(members, { org: 1, user: 2, role: 'viewer' }, { org: 1, user: 2, role: 'editor' }),
        remove(members, { org: 1, user: 1, role: 'owner' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([rows(members, [], [], [], [{ org: 1, user: 2, role: 'editor' }], [{ org: 1, user: 1 }])]);
  });

  it('detects a change of one column of a composite key', () => {
    const writes = coalesce([update(members, { org: 1, user: 2, role: 'r' }, { org: 3, user: 2, role: 'r' })], primaryKeyOf);
    expect(writes).toEqual([rows(members, [{ org: 1, user: 2 }], [{ org: 3, user: 2, role: 'r' }])]);
  });

  it('matches Buffer keys by content, not identity', () => {
    const writes = coalesce(
      [
        insert(blobs, { id: Buffer.from('00ff', 'hex'), v: 1 }),
        update(blobs, { id: Buffer.from('00ff', 'hex'), v: 1 }, { id: Buffer.from('00ff', 'hex'), v: 2 }),
        insert(blobs, { id: Buffer.from('00fe', 'hex'), v: 3 }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([
      inserted(blobs, [
        { id: Buffer.from('00ff', 'hex'), v: 2 },
        { id: Buffer.from('00fe', 'hex'), v: 3 },
      ]),
    ]);
  });

  it('keeps the same key in different tables apart, one write per table', () => {
    const writes = coalesce(
      [insert(users, { id: 1, name: 'ann' }), insert(orders, { id: 1, total: '9.99' }), remove(users, { id: 1, name: 'ann' })],
      primaryKeyOf,
    );
    expect(writes).toEqual([rows(users, [], [], [], [], [{ id: 1 }]), inserted(orders, [{ id: 1, total: '9.99' }])]);
  });

  it('keeps tables of the same name in different schemas apart', () => {
    const eu: TableId = { schema: 'eu', name: 'users' };
    const writes = coalesce([insert(users, { id: 1, name: 'a' }), insert(eu, { id: 1, name: 'b' })], primaryKeyOf);
    expect(writes).toEqual([inserted(users, [{ id: 1, name: 'a' }]), inserted(eu, [{ id: 1, name: 'b' }])]);
  });

  it('merges an update without its TOAST column into the full image the batch already has', () => {
    const writes = coalesce([insert(users, { id: 1, name: 'ann', bio: 'long' }), partial(users, null, { id: 1, name: 'anne' }, ['bio'])], primaryKeyOf);
    expect(writes).toEqual([inserted(users, [{ id: 1, name: 'anne', bio: 'long' }])]);
  });

  it('turns updates without their TOAST column into one patch that leaves the column alone', () => {
    const writes = coalesce(
      [
        partial(users, null, { id: 1, name: 'anne' }, ['bio']),
        partial(users, null, { id: 1, name: 'anna', age: 3 }, ['bio']),
        insert(users, { id: 2, name: 'bob', bio: 'b' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([rows(users, [], [], [{ match: { id: 1 }, set: { id: 1, name: 'anna', age: 3 } }], [{ id: 2, name: 'bob', bio: 'b' }])]);
  });

  it('applies a patch that moves a row to a new key alone, after everything before it', () => {
    const writes = coalesce(
      [
        insert(users, { id: 5, name: 'eve', bio: 'e' }),
        partial(users, { id: 1 }, { id: 2, name: 'ann' }, ['bio']),
        insert(users, { id: 1, name: 'new', bio: 'n' }),
      ],
      primaryKeyOf,
    );
    expect(writes).toEqual([
      inserted(users, [{ id: 5, name: 'eve', bio: 'e' }]),
      rows(users, [], [], [{ match: { id: 1 }, set: { id: 2, name: 'ann' } }]),
      inserted(users, [{ id: 1, name: 'new', bio: 'n' }]),
    ]);
  });

  it('does not let a patch of a re-inserted key swallow the delete before it', () => {
    const writes = coalesce([remove(users, { id: 1 }), partial(users, null, { id: 1, name: 'x' }, ['bio'])], primaryKeyOf);
    expect(writes).toEqual([rows(users, [{ id: 1 }], []), rows(users, [], [], [{ match: { id: 1 }, set: { id: 1, name: 'x' } }])]);
  });
});

describe('coalesce, tables without a primary key', () => {
  it('keeps every change of such a table, in order, between the coalesced writes of others', () => {
    const dup = { at: 1, msg: 'dup' };
    const events = [
      insert(users, { id: 1, name: 'a' }),
      insert(log, dup),
      insert(log, dup),
      remove(log, dup),
      update(users, { id: 1, name: 'a' }, { id: 1, name: 'b' }),
    ];
    expect(coalesce(events, primaryKeyOf)).toEqual([
      inserted(users, [{ id: 1, name: 'a' }]),
      { kind: 'exact', table: log, event: events[1] },
      { kind: 'exact', table: log, event: events[2] },
      { kind: 'exact', table: log, event: events[3] },
      rows(users, [], [{ id: 1, name: 'b' }]),
    ]);
  });
});

describe('groupByColumns', () => {
  const cols = ['id', 'name', 'bio'].map((name) => ({
    name,
    type: { kind: 'other' as const },
    sourceType: 'text',
    nullable: true,
    autoIncrement: false,
    backfill: { value: null },
  }));
  it('keeps full rows in one group and splits rows by the columns they carry', () => {
    const full = [
      { id: 1, name: 'a', bio: 'x' },
      { id: 2, name: 'b', bio: 'y' },
    ];
    expect([...groupByColumns(cols, full, full).values()]).toEqual([full]);
    const mixed: Row[] = [
      { id: 1, name: 'a' },
      { id: 2, name: 'b', bio: 'y' },
      { id: 3, name: 'c' },
    ];
    const groups = [...groupByColumns(cols, mixed, mixed)];
    expect(groups.map(([c, items]) => [c.map((x) => x.name), items.length])).toEqual([
      [['id', 'name'], 2],
      [['id', 'name', 'bio'], 1],
    ]);
  });
});
