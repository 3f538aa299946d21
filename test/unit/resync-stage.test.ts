import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row, Transaction, Value } from '../../src/core/change-event.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { ResyncStage, type ChunkInjected, type ChunkRead } from '../../src/pipeline/resync-stage.js';

const column = (name: string): Column => ({
  name,
  type: name === 'id' ? { kind: 'int', bytes: 4, unsigned: false } : { kind: 'string', maxLength: null },
  sourceType: name === 'id' ? 'integer' : 'text',
  nullable: name !== 'id',
  autoIncrement: false,
  backfill: { value: null },
});

const ITEMS: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'public', name: 'items' },
  columns: [column('id'), column('val')],
  primaryKey: ['id'],
  indexes: [],
};
const OTHER = { schema: 'public', name: 'other' };

let pos = 0;
const tx = (events: ChangeEvent[], extra: Partial<Transaction> = {}): Transaction => ({
  events,
  position: { kind: 'pg', lsn: BigInt(++pos) },
  commitTime: new Date(0),
  ...extra,
});
const beat = (marker: string) => tx([], { marker, heartbeat: true });
const ins = (id: number, val = `v${id}`): ChangeEvent => ({ op: 'c', table: ITEMS.source, key: { id }, before: null, after: { id, val } });
const upd = (id: number, val: string, from = id): ChangeEvent => ({
  op: 'u',
  table: ITEMS.source,
  key: { id },
  before: { id: from, val: 'old' },
  after: { id, val },
});
const toasted = (id: number): ChangeEvent => ({ op: 'u', table: ITEMS.source, key: { id }, before: { id }, after: { id }, unchanged: ['val'] });
const del = (id: number): ChangeEvent => ({ op: 'd', table: ITEMS.source, key: { id }, before: { id }, after: null });
const rows = (...ids: number[]): Value[][] => ids.map((id) => [id, `read${id}`]);
const read = (ids: number[], last = false, pendingKeys: Row[] = []): ChunkRead => ({ rows: rows(...ids), pendingKeys, last });

/** A stage with a resync of items begun, its start and bare watermarks met; `seen` records what each watermark did. */
function started(): { stage: ResyncStage; seen: Map<string, ChunkInjected | null>; out: Transaction[] } {
  const stage = new ResyncStage(null);
  const seen = new Map<string, ChunkInjected | null>();
  stage.begin(ITEMS, '2026-12-04T17:00:00.000Z', 'start', (m, r) => seen.set(m, r));
  const out = [stage.pass(beat('start'))];
  stage.expectBare('m0');
  out.push(stage.pass(beat('m0')));
  return { stage, seen, out };
}

const injectedIds = (t: Transaction) => t.events.filter((e) => e.op === 'r').map((e) => e.key.id);

describe('the resync stage (DBLog watermarks)', () => {
  it('empties the table and sets its hold at the start watermark, in stream order', () => {
    const { out, seen } = started();
    expect(out[0]!.events).toEqual([{ op: 't', table: ITEMS.source, key: {}, before: null, after: null }]);
    expect(out[0]!.hold).toEqual({ table: 'public.items', hold: { state: 'resyncing', since: '2026-12-04T17:00:00.000Z' } });
    expect(out[1]!.hold).toBeUndefined();
    expect([...seen.keys()]).toEqual(['start', 'm0']);
  });

  it('passes transactions through untouched while no resync runs and no table is held', () => {
    const stage = new ResyncStage(null);
    const t = tx([del(1), ins(2)], { marker: 'cutover fence' });
    expect(stage.pass(t)).toBe(t);
  });

  it("injects a chunk's rows at its watermark as reads, except keys changed since two watermarks back", () => {
    const { stage, seen } = started();
    // Changes between m0 and m1: in chunk 1's window.
    stage.pass(tx([upd(2, 'new2')]));
    stage.expectChunk('m1', read([1, 2, 3]));
    const m1 = stage.pass(beat('m1'));
    expect(injectedIds(m1)).toEqual([1, 3]);
    expect(m1.events.find((e) => e.key.id === 1)).toEqual({ op: 'r', table: ITEMS.source, key: { id: 1 }, before: null, after: { id: 1, val: 'read1' } });
    expect(seen.get('m1')).toEqual({ rows: 2, deleted: 0, skipped: 1, pendingKeys: 0, done: false });
    // Key 5 changes in (m1, m2]; key 2 again; chunk 2's window is (m0, m2]: 2 is still in it, and so is 5.
    stage.pass(tx([upd(5, 'new5')]));
    stage.expectChunk('m2', read([4, 5, 6]));
    expect(injectedIds(stage.pass(beat('m2')))).toEqual([4, 6]);
    // Chunk 3's window is (m1, m3]: 2 changed before m1 and is injected; 5 changed after m1 and is not.
    stage.expectChunk('m3', read([2, 5, 7]));
    expect(injectedIds(stage.pass(beat('m3')))).toEqual([2, 7]);
    // Chunk 4's window is (m2, m4]: nothing changed there.
    stage.expectChunk('m4', read([5], true));
    const m4 = stage.pass(beat('m4'));
    expect(injectedIds(m4)).toEqual([5]);
    expect(m4.hold).toEqual({ table: 'public.items', hold: null });
    expect(seen.get('m4')?.done).toBe(true);
  });

  it("applies the table's changes as ones that may find no row: deletes, and key changes as a delete and an upsert", () => {
    const { stage } = started();
    const other: ChangeEvent = { op: 'd', table: OTHER, key: { id: 9 }, before: { id: 9 }, after: null };
    const out = stage.pass(tx([del(1), upd(4, 'moved', 3), other, ins(8)]));
    expect(out.events).toEqual([
      { ...del(1), mayBeMissing: true },
      { op: 'd', table: ITEMS.source, key: { id: 3 }, before: { id: 3, val: 'old' }, after: null, mayBeMissing: true },
      { ...upd(4, 'moved', 3), before: null },
      other,
      ins(8),
    ]);
    // Every key changed counts, the old key of a move too.
    stage.expectChunk('m1', read([1, 2, 3, 4, 8]));
    expect(injectedIds(stage.pass(beat('m1')))).toEqual([2]);
  });

  it('drops an update that needs its row (unchanged TOAST values) and reads its key again until it can inject it', () => {
    const { stage, seen } = started();
    const out = stage.pass(tx([toasted(2), ins(9)]));
    expect(out.events).toEqual([ins(9)]);
    expect(stage.pendingKeys(10)).toEqual([{ id: 2 }]);
    // The range ends with chunk 1, but key 2 is pending: no lift yet.
    stage.expectChunk('m1', read([1, 2], true));
    const m1 = stage.pass(beat('m1'));
    expect(injectedIds(m1)).toEqual([1]);
    expect(m1.hold).toBeUndefined();
    expect(seen.get('m1')).toMatchObject({ pendingKeys: 1, done: false });
    // Read again with chunk 2, whose window (m0, m2] still holds the dropped change: pending still.
    stage.expectChunk('m2', read([2], true, [{ id: 2 }]));
    expect(injectedIds(stage.pass(beat('m2')))).toEqual([]);
    expect(seen.get('m2')).toMatchObject({ skipped: 1, pendingKeys: 1, done: false });
    // Chunk 3's window (m1, m3] is clear of it: injected, and the hold lifted with it.
    stage.expectChunk('m3', read([2], true, [{ id: 2 }]));
    const m3 = stage.pass(beat('m3'));
    expect(injectedIds(m3)).toEqual([2]);
    expect(m3.hold).toEqual({ table: 'public.items', hold: null });
  });

  it('deletes a pending key the source no longer has, and forgets one a later full change carries', () => {
    const { stage } = started();
    stage.pass(tx([toasted(2), toasted(3)]));
    stage.pass(tx([upd(3, 'full')]));
    expect(stage.pendingKeys(10)).toEqual([{ id: 2 }]);
    for (const m of ['m1', 'm2']) {
      stage.expectChunk(m, read([], true, [{ id: 2 }]));
      expect(stage.pass(beat(m)).events).toEqual([]);
    }
    // m3's window (m1, m3] is clear of the dropped change, and the source has no row 2.
    stage.expectChunk('m3', read([], true, [{ id: 2 }]));
    const m3 = stage.pass(beat('m3'));
    expect(m3.events).toEqual([{ op: 'd', table: ITEMS.source, key: { id: 2 }, before: { id: 2 }, after: null, mayBeMissing: true }]);
    expect(m3.hold).toEqual({ table: 'public.items', hold: null });
  });

  it('injects nothing of a chunk whose window holds a truncate of the table', () => {
    const { stage } = started();
    const truncate: ChangeEvent = { op: 't', table: ITEMS.source, key: {}, before: null, after: null };
    expect(stage.pass(tx([truncate])).events).toEqual([truncate]);
    stage.expectChunk('m1', read([1, 2]));
    expect(injectedIds(stage.pass(beat('m1')))).toEqual([]);
  });

  it('holds a table the checkpoint has resyncing from the first transaction, and passes other markers and tables through', () => {
    const stage = new ResyncStage(ITEMS);
    expect(stage.pass(tx([del(1)])).events).toEqual([{ ...del(1), mayBeMissing: true }]);
    const unrelated = tx([{ op: 'd', table: OTHER, key: { id: 1 }, before: { id: 1 }, after: null }], { marker: 'ferry resync old-run 1' });
    expect(stage.pass(unrelated)).toBe(unrelated);
    expect(stage.pass(tx([toasted(4)])).events).toEqual([]);
  });

  it('starts over when a column is added to the table during its resync', () => {
    const { stage } = started();
    const added = tx([], { schemaChange: { table: ITEMS.source, addColumns: [column('note')] } });
    expect(() => stage.pass(added)).toThrow(/public\.items changed \(note\) during its resync: it starts over/);
  });

  it('keeps the later read of a key read twice in one chunk (in the range and as a pending key), and ignores watermarks not its own', () => {
    const { stage } = started();
    stage.pass(tx([toasted(2)]));
    for (const m of ['m1', 'm2']) {
      stage.expectChunk(m, read([]));
      stage.pass(beat(m));
      stage.pass(beat(`another ${m}`));
    }
    stage.expectChunk('m3', {
      rows: [
        [2, 'range'],
        [2, 'pending'],
      ],
      pendingKeys: [{ id: 2 }],
      last: true,
    });
    const m3 = stage.pass(beat('m3'));
    expect(m3.events).toEqual([{ op: 'r', table: ITEMS.source, key: { id: 2 }, before: null, after: { id: 2, val: 'pending' } }]);
    expect(m3.hold).toEqual({ table: 'public.items', hold: null });
  });
});
