import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row, Value } from '../../src/core/change-event.js';
import type { ForeignKey, TableSchema } from '../../src/core/schema.js';
import { actionsReach, unloggedActions } from '../../src/core/unlogged-actions.js';
import { ReferentialActions, type ReferencingRows } from '../../src/sinks/referential-actions.js';

const int = { kind: 'int', bytes: 4, unsigned: false } as const;

function table(name: string, columns: string[], primaryKey: string[], foreignKeys: Partial<ForeignKey>[] = []): TableSchema {
  const id = { schema: 's', name };
  return {
    engine: 'mysql',
    source: id,
    target: id,
    primaryKey,
    indexes: [],
    columns: columns.map((c) => ({ name: c, type: int, sourceType: 'int', nullable: true, autoIncrement: false, backfill: { value: null } })),
    foreignKeys: foreignKeys.map((fk, i) => ({
      name: `fk${i}`,
      columns: [],
      references: id,
      referencedColumns: [],
      onDelete: 'restrict',
      onUpdate: 'restrict',
      ...fk,
    })),
  };
}

/** Tables as arrays of rows, with the statements a target would run on them. */
function memory(data: Record<string, Row[]>): ReferencingRows & { log: string[] } {
  const log: string[] = [];
  const matches = (r: Row, columns: readonly string[], values: readonly (readonly Value[])[]) => values.some((v) => columns.every((c, i) => r[c] === v[i]));
  return {
    log,
    param: (_t, _c, v) => v,
    async find(t, columns, values, returning) {
      return data[t.source.name]!.filter((r) => matches(r, columns, values)).map((r) => returning.map((c) => r[c]!));
    },
    async delete(t, columns, values) {
      log.push(`delete ${t.source.name} ${columns} in ${JSON.stringify(values)}`);
      data[t.source.name] = data[t.source.name]!.filter((r) => !matches(r, columns, values));
    },
    async update(t, columns, values, set, to) {
      log.push(`update ${t.source.name} ${set}=${JSON.stringify(to)} where ${columns} in ${JSON.stringify(values)}`);
      for (const r of data[t.source.name]!) if (matches(r, columns, values)) set.forEach((c, i) => (r[c] = to[i]!));
    },
  };
}

const ref = (name: string) => ({ schema: 's', name });
const del = (t: string, before: Row): ChangeEvent => ({ op: 'd', table: ref(t), key: { id: before.id! }, before, after: null });
const upd = (t: string, before: Row, after: Row): ChangeEvent => ({ op: 'u', table: ref(t), key: { id: after.id! }, before, after });

describe('referential actions of MySQL sources', () => {
  const customers = table('customers', ['id'], ['id']);
  const orders = table(
    'orders',
    ['id', 'customer_id'],
    ['id'],
    [{ columns: ['customer_id'], references: ref('customers'), referencedColumns: ['id'], onDelete: 'cascade', onUpdate: 'cascade' }],
  );
  const lines = table(
    'lines',
    ['order_id', 'line'],
    ['order_id', 'line'],
    [{ columns: ['order_id'], references: ref('orders'), referencedColumns: ['id'], onDelete: 'cascade', onUpdate: 'cascade' }],
  );
  const notes = table(
    'notes',
    ['id', 'order_id', 'line'],
    ['id'],
    [{ columns: ['order_id', 'line'], references: ref('lines'), referencedColumns: ['order_id', 'line'], onDelete: 'set null', onUpdate: 'cascade' }],
  );
  const tree = table(
    'tree',
    ['id', 'parent_id'],
    ['id'],
    [{ columns: ['parent_id'], references: ref('tree'), referencedColumns: ['id'], onDelete: 'cascade' }],
  );
  const actions = new ReferentialActions([customers, orders, lines, notes, tree]);

  it('acts on deletes and on updates of referenced columns only', () => {
    expect(actions.triggers(del('customers', { id: 1 }))).toBe(true);
    expect(actions.triggers(upd('customers', { id: 1 }, { id: 2 }))).toBe(true);
    expect(actions.triggers(upd('orders', { id: 1, customer_id: 1 }, { id: 1, customer_id: 2 }))).toBe(false);
    expect(actions.triggers(del('notes', { id: 1 }))).toBe(false);
    expect(new ReferentialActions([{ ...orders, engine: 'postgres' }]).empty).toBe(true);
  });

  it('tells the tables their actions reach, down chains of them, for a resync of one of them', () => {
    const reach = (e: ChangeEvent, table: string, tables = [customers, orders, lines, notes, tree]) => actionsReach(unloggedActions(tables), e, ref(table));
    expect(reach(del('customers', { id: 1 }), 'orders')).toBe(true);
    // customers → orders (cascade) → lines (cascade) → notes (set null on delete)
    expect(reach(del('customers', { id: 1 }), 'notes')).toBe(true);
    expect(reach(upd('customers', { id: 1 }, { id: 2 }), 'notes')).toBe(true);
    expect(reach(del('notes', { id: 1 }), 'lines')).toBe(false);
    expect(reach(del('customers', { id: 1 }), 'tree')).toBe(false);
    // An update that leaves the referenced key as it was acts on nothing.
    expect(reach(upd('orders', { id: 1, customer_id: 1 }, { id: 1, customer_id: 2 }), 'lines')).toBe(false);
    const setNull = table(
      'kids',
      ['id', 'order_id'],
      ['id'],
      [{ columns: ['order_id'], references: ref('orders'), referencedColumns: ['id'], onDelete: 'set null' }],
    );
    const grand = table('toys', ['id', 'kid_id'], ['id'], [{ columns: ['kid_id'], references: ref('kids'), referencedColumns: ['id'], onDelete: 'cascade' }]);
    // A SET NULL updates the kids, which deletes no toy.
    expect(reach(del('orders', { id: 1 }), 'toys', [orders, setNull, grand])).toBe(false);
  });

  it('deletes down a chain of cascades, then sets the composite references of the last level to NULL', async () => {
    const data = {
      orders: [
        { id: 10, customer_id: 1 },
        { id: 11, customer_id: 2 },
      ],
      lines: [
        { order_id: 10, line: 1 },
        { order_id: 10, line: 2 },
        { order_id: 11, line: 1 },
      ],
      notes: [
        { id: 1, order_id: 10, line: 2 },
        { id: 2, order_id: 11, line: 1 },
      ],
    };
    const rows = memory(data);
    await actions.apply(customers, [del('customers', { id: 1 })], rows);
    expect(data.orders).toEqual([{ id: 11, customer_id: 2 }]);
    expect(data.lines).toEqual([{ order_id: 11, line: 1 }]);
    expect(data.notes).toEqual([
      { id: 1, order_id: null, line: null },
      { id: 2, order_id: 11, line: 1 },
    ]);
  });

  it('carries a re-keyed parent down through a composite key, each old key to its own new one', async () => {
    const data = {
      orders: [
        { id: 10, customer_id: 1 },
        { id: 11, customer_id: 1 },
      ],
      lines: [
        { order_id: 10, line: 1 },
        { order_id: 11, line: 1 },
      ],
      notes: [
        { id: 1, order_id: 10, line: 1 },
        { id: 2, order_id: 11, line: 1 },
      ],
    };
    const rows = memory(data);
    await actions.apply(
      orders,
      [upd('orders', { id: 10, customer_id: 1 }, { id: 20, customer_id: 1 }), upd('orders', { id: 11, customer_id: 1 }, { id: 10, customer_id: 1 })],
      rows,
    );
    // Row by row, as InnoDB does: 10 → 20 first, then 11 → 10 (a swap done all at once would mix them up).
    expect(data.lines).toEqual([
      { order_id: 20, line: 1 },
      { order_id: 10, line: 1 },
    ]);
    expect(data.notes).toEqual([
      { id: 1, order_id: 20, line: 1 },
      { id: 2, order_id: 10, line: 1 },
    ]);
  });

  it('in a replay, carries a re-keyed parent onto child keys the snapshot already copied, in place of those rows', async () => {
    // The snapshot copied lines after the source moved order 10 to 20; the replayed inserts brought back the lines of 10.
    const data = {
      lines: [
        { order_id: 10, line: 1 },
        { order_id: 10, line: 2 },
        { order_id: 20, line: 1 },
        { order_id: 20, line: 2 },
        { order_id: 30, line: 1 },
      ],
      notes: [{ id: 1, order_id: 20, line: 2 }],
    };
    const rows = memory(data);
    await actions.apply(orders, [upd('orders', { id: 10, customer_id: 1 }, { id: 20, customer_id: 1 })], rows, true);
    expect(data.lines).toEqual([
      { order_id: 20, line: 1 },
      { order_id: 20, line: 2 },
      { order_id: 30, line: 1 },
    ]);
    expect(data.notes).toEqual([{ id: 1, order_id: 20, line: 2 }]);
    // Outside a replay the new keys are free at the source, and so on the target: nothing is deleted first.
    const live = memory({ lines: [{ order_id: 10, line: 1 }], notes: [] });
    await actions.apply(orders, [upd('orders', { id: 10, customer_id: 1 }, { id: 20, customer_id: 1 })], live);
    expect(live.log.filter((l) => l.startsWith('delete'))).toEqual([]);
  });

  it('deletes a whole subtree of a self-referencing table, level by level', async () => {
    const data = {
      tree: [
        { id: 1, parent_id: null },
        { id: 2, parent_id: 1 },
        { id: 3, parent_id: 2 },
        { id: 4, parent_id: 3 },
        { id: 5, parent_id: null },
      ],
    };
    const rows = memory(data);
    await actions.apply(tree, [del('tree', { id: 1, parent_id: null })], rows);
    expect(data.tree).toEqual([
      { id: 1, parent_id: null },
      { id: 5, parent_id: null },
    ]); // row 1 itself is the applied change's
    expect(rows.log).toHaveLength(3); // the leaf's own children are looked for, not deleted
  });

  it('refuses a cascade deeper than InnoDB allows, which only a target that differs from the source can show', async () => {
    const data = { tree: Array.from({ length: 20 }, (_, i) => ({ id: i + 1, parent_id: i === 0 ? null : i })) };
    await expect(actions.apply(tree, [del('tree', { id: 1, parent_id: null })], memory(data))).rejects.toThrow(/deeper than 15 levels/);
  });
});
