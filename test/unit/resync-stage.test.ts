import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Row, Transaction, Value } from '../../src/core/change-event.js';
import { coalesce } from '../../src/core/coalesce.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { ResyncStage, type ChunkInjected, type ChunkRead } from '../../src/pipeline/resync-stage.js';
import { rulesTransform } from '../../src/transforms/rules.js';
import { TableTransforms } from '../../src/transforms/table-transforms.js';

const column = (name: string): Column => ({
  name,
  type: name === 'val' ? { kind: 'string', maxLength: null } : { kind: 'int', bytes: 4, unsigned: false },
  sourceType: name === 'val' ? 'text' : 'integer',
  nullable: name !== 'id',
  autoIncrement: false,
  backfill: { value: null },
});

const ITEMS: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'public', name: 'items' },
  columns: [column('id'), column('n'), column('val')],
  primaryKey: ['id'],
  indexes: [],
};
const OTHER = { schema: 'public', name: 'other' };
const PARENTS = { schema: 'public', name: 'parents' };

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
/** An update of n that leaves val out (an unchanged TOAST value). */
const toasted = (id: number, n = 1): ChangeEvent => ({ op: 'u', table: ITEMS.source, key: { id }, before: null, after: { id, n }, unchanged: ['val'] });
const del = (id: number): ChangeEvent => ({ op: 'd', table: ITEMS.source, key: { id }, before: { id }, after: null });
const rows = (...ids: number[]): Value[][] => ids.map((id) => [id, 0, `read${id}`]);
const read = (ids: number[], last = false): ChunkRead => ({ rows: rows(...ids), last });
const readRow = (id: number): Row => ({ id, n: 0, val: `read${id}` });

/**
 * A stage with a resync of items begun, its start and bare watermarks met; `seen` records what each
 * watermark did; the source holds `sourceIds` (read as readRow) when the stage reads keys.
 */
function started(sourceIds: readonly number[] = []): { stage: ResyncStage; seen: Map<string, ChunkInjected | null>; out: Transaction[]; asked: Row[][] } {
  const stage = new ResyncStage(null);
  const seen = new Map<string, ChunkInjected | null>();
  const asked: Row[][] = [];
  const readKeys = async (_: TableSchema, keys: readonly Row[]) => {
    asked.push([...keys]);
    return rows(...keys.map((k) => Number(k.id)).filter((id) => sourceIds.includes(id)));
  };
  stage.begin(ITEMS, '2026-12-04T17:00:00.000Z', 'start', (m, r) => seen.set(m, r), readKeys);
  const out = [stage.pass(beat('start'))];
  stage.expectBare('m0');
  out.push(stage.pass(beat('m0')));
  return { stage, seen, out, asked };
}

/** What `through` makes of `transactions` as a stream (the stage's, or the stage's then the transform rules'). */
async function streamed(
  stage: ResyncStage,
  transactions: Transaction[],
  through = (s: AsyncIterable<Transaction>) => stage.stream(s) as AsyncIterable<Transaction>,
): Promise<Transaction[]> {
  const out: Transaction[] = [];
  for await (const t of through(
    (async function* () {
      yield* transactions;
    })(),
  ))
    out.push(t);
  return out;
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
    expect(m1.events.find((e) => e.key.id === 1)).toEqual({ op: 'r', table: ITEMS.source, key: { id: 1 }, before: null, after: readRow(1) });
    expect(seen.get('m1')).toEqual({ rows: 2, deleted: 0, skipped: 1, readAhead: 0, done: false });
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

  it("completes an update that left values out with its row read as the stream meets it, the update's values over it; keeps it column-only when the source does not have the row", async () => {
    const { stage, seen, asked } = started([2]);
    const [out] = await streamed(stage, [tx([toasted(2, 7), toasted(3), ins(9)])]);
    expect(asked).toEqual([[{ id: 2 }, { id: 3 }]]);
    expect(out!.events).toEqual([{ op: 'u', table: ITEMS.source, key: { id: 2 }, before: null, after: { id: 2, n: 7, val: 'read2' } }, toasted(3), ins(9)]);
    // Key 2 changed in the window: the chunk leaves it to its update.
    stage.expectChunk('m1', read([1, 2]));
    stage.expectChunk('m2', read([], true));
    const [m1, m2] = await streamed(stage, [beat('m1'), beat('m2')]);
    expect(injectedIds(m1!)).toEqual([1]);
    expect(seen.get('m1')).toEqual({ rows: 1, deleted: 0, skipped: 1, readAhead: 2, done: false });
    expect(m2!.hold).toEqual({ table: 'public.items', hold: null });
    // Done: nothing is read any more.
    await streamed(stage, [tx([toasted(2)])]);
    expect(asked).toHaveLength(1);
  });

  it('merges an update that left values out into the insert of the same transaction when the read finds no row (that transaction not yet visible)', async () => {
    const { stage } = started();
    const insert: ChangeEvent = { op: 'c', table: ITEMS.source, key: { id: 1 }, before: null, after: { id: 1, n: 1, val: 'big' } };
    const [out] = await streamed(stage, [tx([insert, toasted(1, 2)])]);
    expect(coalesce(out!.events, () => ['id'])).toEqual([
      { kind: 'rows', table: ITEMS.source, deletes: [], inserts: [{ id: 1, n: 2, val: 'big' }], upserts: [], patches: [], transients: [] },
    ]);
  });

  it('lifts the hold only at a watermark whose window had no read that found no row: the delete that made it miss may follow the last chunk', async () => {
    // Key 5 updated leaving val out, then deleted at the source before its read, after m1 was written.
    const { stage, seen } = started();
    stage.expectChunk('m1', read([5], true));
    const out = await streamed(stage, [tx([toasted(5, 2)]), beat('m1'), tx([del(5)])]);
    expect(out[1]!.hold).toBeUndefined();
    expect(seen.get('m1')).toEqual({ rows: 0, deleted: 0, skipped: 1, readAhead: 1, done: false });
    // Still held: the delete may find no row.
    expect(out[2]!.events).toEqual([{ ...del(5), mayBeMissing: true }]);
    // The range past the end, read on: its window had no miss.
    stage.expectChunk('m2', read([], true));
    const [m2] = await streamed(stage, [beat('m2')]);
    expect(m2!.hold).toEqual({ table: 'public.items', hold: null });
    expect(seen.get('m2')?.done).toBe(true);
  });

  it("reads a chunk again, injecting nothing, while its window holds a parent's delete whose foreign-key action a MySQL source does not log", () => {
    // MySQL items referencing parents: ON DELETE SET NULL (the child's row stays, with n = NULL), ON UPDATE CASCADE.
    const child: TableSchema = {
      ...ITEMS,
      engine: 'mysql',
      foreignKeys: [{ name: 'items_parent', columns: ['n'], references: PARENTS, referencedColumns: ['id'], onDelete: 'set null', onUpdate: 'cascade' }],
    };
    const stage = new ResyncStage(null, [child]);
    const seen = new Map<string, ChunkInjected | null>();
    stage.begin(
      child,
      '2026-12-04T17:00:00.000Z',
      'start',
      (m, r) => seen.set(m, r),
      async () => [],
    );
    stage.pass(beat('start'));
    stage.expectBare('m0');
    stage.pass(beat('m0'));
    // Chunk 1 read item 7 of parent 3; then DELETE FROM parents WHERE id = 3 set its n to NULL, unlogged.
    const parentGone = tx([{ op: 'd', table: PARENTS, key: { id: 3 }, before: { id: 3 }, after: null }]);
    expect(stage.pass(parentGone)).toBe(parentGone);
    stage.expectChunk('m1', { rows: [[7, 3, 'v7']], last: true });
    const m1 = stage.pass(beat('m1'));
    expect(injectedIds(m1)).toEqual([]);
    expect(m1.hold).toBeUndefined();
    expect(seen.get('m1')).toEqual({ rows: 0, deleted: 0, skipped: 0, readAhead: 0, done: false, again: true });
    // Read again after m1: its window (m0, m2] still holds the delete, whose commit that read may not have seen.
    stage.expectChunk('m2', { rows: [[7, null, 'v7']], last: true });
    expect(injectedIds(stage.pass(beat('m2')))).toEqual([]);
    // A parent's update that leaves its key as it was acts on nothing; the window is clear of the delete now.
    stage.pass(tx([{ op: 'u', table: PARENTS, key: { id: 4 }, before: { id: 4, name: 'a' }, after: { id: 4, name: 'b' } }]));
    stage.expectChunk('m3', { rows: [[7, null, 'v7']], last: true });
    const m3 = stage.pass(beat('m3'));
    expect(m3.events).toEqual([{ op: 'r', table: ITEMS.source, key: { id: 7 }, before: null, after: { id: 7, n: null, val: 'v7' } }]);
    expect(m3.hold).toEqual({ table: 'public.items', hold: null });
  });

  it('injects nothing of a chunk whose window holds a truncate of the table', () => {
    const { stage } = started();
    const truncate: ChangeEvent = { op: 't', table: ITEMS.source, key: {}, before: null, after: null };
    expect(stage.pass(tx([truncate])).events).toEqual([truncate]);
    stage.expectChunk('m1', read([1, 2]));
    expect(injectedIds(stage.pass(beat('m1')))).toEqual([]);
  });

  it('holds a table the checkpoint has resyncing from the first transaction (an update that left values out dropped: the start empties the table), and passes other markers and tables through', () => {
    const stage = new ResyncStage(ITEMS);
    expect(stage.pass(tx([del(1)])).events).toEqual([{ ...del(1), mayBeMissing: true }]);
    const unrelated = tx([{ op: 'd', table: OTHER, key: { id: 1 }, before: { id: 1 }, after: null }], { marker: 'ferry resync old-run 1' });
    expect(stage.pass(unrelated)).toBe(unrelated);
    expect(stage.pass(tx([toasted(4)])).events).toEqual([]);
  });

  it('hands the rows it injects to the transform rules as the snapshot does: renamed, masked, filtered', async () => {
    const { stage } = started();
    const rules = new TableTransforms(
      rulesTransform({
        salt: 'resync-test',
        rules: [{ match: 'public.items', rename: 'app.copies', mask: { val: 'redact' }, filter: [{ column: 'id', op: 'lt', value: 3 }] }],
      }),
      [ITEMS],
    );
    stage.expectChunk('m1', read([1, 2, 3], true));
    const out = await streamed(stage, [beat('m1')], (s) => rules.stream(stage.stream(s)));
    expect(out[0]!.events.map((e) => [e.op, e.key, e.after!.val])).toEqual([
      ['r', { id: 1 }, 'REDACTED'],
      ['r', { id: 2 }, 'REDACTED'],
    ]);
    expect(rules.target(ITEMS).target).toEqual({ schema: 'app', name: 'copies' });
  });

  it('starts over when a column is added to the table during its resync', () => {
    const { stage } = started();
    const added = tx([], { schemaChange: { table: ITEMS.source, addColumns: [column('note')] } });
    expect(() => stage.pass(added)).toThrow(/public\.items changed \(note\) during its resync: it starts over/);
  });
});

describe('the resync stage in key-set mode (a replay of dead letters)', () => {
  const letter = (id: number, key: number) => ({ id, table: 'public.items', key: { id: key } });

  /** A replay of `letters` begun, its start and bare watermarks met. */
  function replaying(letters: ReturnType<typeof letter>[], sourceIds: readonly number[] = []) {
    const stage = new ResyncStage(null);
    const seen = new Map<string, ChunkInjected | null>();
    const readKeys = async (_: TableSchema, keys: readonly Row[]) => rows(...keys.map((k) => Number(k.id)).filter((id) => sourceIds.includes(id)));
    stage.begin(ITEMS, '2026-12-04T17:00:00.000Z', 'start', (m, r) => seen.set(m, r), readKeys, letters);
    const out = [stage.pass(beat('start'))];
    stage.expectBare('m0');
    out.push(stage.pass(beat('m0')));
    return { stage, seen, out };
  }

  it('neither empties nor holds the table: its changes pass as they are', () => {
    const { stage, out } = replaying([letter(1, 5)]);
    expect(out.flatMap((t) => t.events)).toEqual([]);
    expect(out.some((t) => t.hold)).toBe(false);
    const change = tx([del(9), upd(10, 'x')]);
    expect(stage.pass(change)).toBe(change);
  });

  it('injects found keys as reads and deletes the others as rows that may be missing, marking their letters with them', () => {
    const { stage, seen } = replaying([letter(1, 5), letter(2, 6), letter(3, 5)]);
    stage.expectChunk('m1', { rows: rows(5), keys: [{ id: 5 }, { id: 6 }], last: true });
    const t = stage.pass(beat('m1'));
    expect(t.events).toEqual([
      { op: 'r', table: ITEMS.source, key: { id: 5 }, before: null, after: readRow(5) },
      { op: 'd', table: ITEMS.source, key: { id: 6 }, before: { id: 6 }, after: null, mayBeMissing: true },
    ]);
    expect(t.replayed).toEqual([letter(1, 5), letter(3, 5), letter(2, 6)]);
    expect(t.hold).toBeUndefined();
    expect(seen.get('m1')).toMatchObject({ rows: 1, deleted: 1, skipped: 0, done: true });
    // Done: the stage is idle again.
    const after = tx([del(5)]);
    expect(stage.pass(after)).toBe(after);
  });

  it('leaves a key changed since two watermarks back to its own change, and marks its letters all the same', () => {
    const { stage, seen } = replaying([letter(1, 5), letter(2, 6), letter(3, 7)]);
    stage.pass(tx([upd(5, 'new')]));
    stage.expectChunk('m1', { rows: rows(5, 6), keys: [{ id: 5 }, { id: 6 }], last: false });
    stage.pass(tx([del(6)]));
    const first = stage.pass(beat('m1'));
    expect(first.events).toEqual([]);
    expect(first.replayed).toEqual([letter(1, 5), letter(2, 6)]);
    expect(seen.get('m1')).toMatchObject({ rows: 0, deleted: 0, skipped: 2, done: false });
    stage.expectChunk('m2', { rows: [], keys: [{ id: 7 }], last: true });
    const second = stage.pass(beat('m2'));
    expect(second.events.map((e) => [e.op, e.key.id])).toEqual([['d', 7]]);
    expect(second.replayed).toEqual([letter(3, 7)]);
  });

  it('completes an update that left values out of a key not replayed yet with its row read now; other keys’ pass as they are', async () => {
    const { stage } = replaying([letter(1, 5)], [5, 9]);
    const [t] = await streamed(stage, [tx([toasted(5, 3), toasted(9, 4)])]);
    expect(t!.events).toEqual([{ op: 'u', table: ITEMS.source, key: { id: 5 }, before: null, after: { ...readRow(5), n: 3 } }, toasted(9, 4)]);
  });

  it('completes an update that left values out and moves a row off a lettered key, deleting the old key as one that may be missing', async () => {
    const { stage } = replaying([letter(1, 5)], [50]);
    const moved: ChangeEvent = { ...toasted(50, 3), before: { id: 5 } };
    const [t] = await streamed(stage, [tx([moved])]);
    expect(t!.events).toEqual([{ op: 'u', table: ITEMS.source, key: { id: 50 }, before: { id: 5 }, after: { ...readRow(50), n: 3 } }]);
    expect(coalesce(t!.events, () => ['id'])).toMatchObject([{ deletes: [{ id: 5 }], upserts: [{ ...readRow(50), n: 3 }] }]);
  });

  it("leaves a key's letter unmarked when its only change in the window is an update that left values out whose read found no row: the target may still lack the row", async () => {
    // The source deleted key 5 after the chunk read it, before the stream met its update; the delete comes after m1.
    const { stage, seen } = replaying([letter(1, 5), letter(2, 6)]);
    stage.expectChunk('m1', { rows: rows(5), keys: [{ id: 5 }, { id: 6 }], last: true });
    const out = await streamed(stage, [tx([toasted(5, 3)]), beat('m1')]);
    expect(out[0]!.events).toEqual([toasted(5, 3)]);
    expect(out[1]!.events.map((e) => [e.op, e.key.id])).toEqual([['d', 6]]);
    expect(out[1]!.replayed).toEqual([letter(2, 6)]);
    expect(seen.get('m1')).toMatchObject({ skipped: 1, done: true });
  });
});
