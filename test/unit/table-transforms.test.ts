import { describe, expect, it } from 'vitest';
import type { ChangeEvent, Transaction, Value } from '../../src/core/change-event.js';
import { FerryEventBus } from '../../src/core/events.js';
import type { Position } from '../../src/core/position.js';
import type { Column, TableSchema } from '../../src/core/schema.js';
import type { Sink } from '../../src/core/sink.js';
import type { ChunkText, TableReader } from '../../src/core/snapshot-reader.js';
import { runReplay, type ReplayDeps, type ReplayRun } from '../../src/pipeline/replay.js';
import { runSnapshot, type SnapshotDeps } from '../../src/pipeline/snapshot.js';
import { rulesTransform } from '../../src/transforms/rules.js';
import { TableTransforms } from '../../src/transforms/table-transforms.js';
import { IDENTITY } from '../../src/transforms/transform.js';
import { TEST_TRANSFORM } from '../helpers/test-transform.js';

const column = (name: string): Column => ({
  name,
  type: { kind: 'string', maxLength: 100 },
  sourceType: 'text',
  nullable: true,
  autoIncrement: false,
  backfill: { value: null },
});

const table = (name: string, columns: string[]): TableSchema => ({
  engine: 'postgres',
  source: { schema: 's', name },
  target: { schema: 's', name },
  columns: columns.map(column),
  primaryKey: ['id'],
  indexes: [{ name: 'by_name', columns: ['name'], unique: false }],
});

const people = table('people', ['id', 'name', 'email', 'status']);
const notes = table('notes', ['id', 'name']);
const at: Position = { kind: 'mysql', file: 'binlog.000001', pos: 4 };
const tx = (...events: ChangeEvent[]): Transaction => ({ events, position: at, commitTime: new Date(0) });
const row = (id: number, status = 'shown') => ({ id, name: `n${id}`, email: `e${id}@x`, status });
const target = (id: number, status = 'shown') => ({ id, full_name: `n${id}`, email: `E${id}@X`, status });

describe('TableTransforms, the identity', () => {
  const transforms = new TableTransforms(IDENTITY, [people, notes]);

  it('hands over the tables, chunks and transactions it is given, not copies', () => {
    const chunk: Value[][] = [[1, 'a', 'b', 'shown']];
    const t = tx({ op: 'c', table: people.source, key: { id: 1 }, before: null, after: row(1) });
    expect(transforms.target(people)).toBe(people);
    expect(transforms.passesRows(people)).toBe(true);
    expect(transforms.chunk(people, chunk)).toBe(chunk);
    expect(transforms.transaction(t)).toBe(t);
  });

  it('adds the columns an ADD COLUMN adds, with the foreign keys it sends', () => {
    const t: Transaction = { ...tx(), schemaChange: { table: notes.source, addColumns: [column('extra')], foreignKeys: [] } };
    expect(transforms.transaction(t).schemaChange).toEqual(t.schemaChange);
  });
});

describe('TableTransforms, a transform', () => {
  const transforms = () => new TableTransforms(TEST_TRANSFORM, [people, notes]);

  it('gives the sink the target table: renamed, with renamed columns, key and indexes; other tables as they are', () => {
    const t = transforms();
    expect(t.target(people).target).toEqual({ schema: 's', name: 'persons' });
    expect(t.target(people).source).toEqual(people.source);
    expect(t.target(people).columns.map((c) => c.name)).toEqual(['id', 'full_name', 'email', 'status']);
    expect(t.target(people).indexes[0]!.columns).toEqual(['full_name']);
    expect(t.target(notes)).toBe(notes);
    expect([t.passesRows(people), t.passesRows(notes)]).toEqual([false, true]);
  });

  it('transforms snapshot chunks by the same plan, dropping rows the filter leaves out', () => {
    const chunk: Value[][] = [
      [1, 'n1', 'e1@x', 'shown'],
      [2, 'n2', 'e2@x', 'hidden'],
      [3, 'n3', null, 'shown'],
    ];
    expect(transforms().chunk(people, chunk)).toEqual([
      [1, 'n1', 'E1@X', 'shown'],
      [3, 'n3', null, 'shown'],
    ]);
  });

  it('transforms inserts, updates and deletes, keys and images; drops those of rows the target does not hold', () => {
    const events = transforms().transaction(
      tx(
        { op: 'c', table: people.source, key: { id: 1 }, before: null, after: row(1) },
        { op: 'c', table: people.source, key: { id: 2 }, before: null, after: row(2, 'hidden') },
        { op: 'u', table: people.source, key: { id: 1 }, before: row(1), after: row(1) },
        { op: 'd', table: people.source, key: { id: 1 }, before: row(1), after: null },
        { op: 'd', table: people.source, key: { id: 2 }, before: row(2, 'hidden'), after: null },
        { op: 'c', table: notes.source, key: { id: 1 }, before: null, after: { id: 1, name: 'kept' } },
        { op: 't', table: people.source, key: {}, before: null, after: null },
      ),
    ).events;
    expect(events).toEqual([
      { op: 'c', table: people.source, key: { id: 1 }, before: null, after: target(1) },
      { op: 'u', table: people.source, key: { id: 1 }, before: target(1), after: target(1) },
      { op: 'd', table: people.source, key: { id: 1 }, before: target(1), after: null },
      { op: 'c', table: notes.source, key: { id: 1 }, before: null, after: { id: 1, name: 'kept' } },
      { op: 't', table: people.source, key: {}, before: null, after: null },
    ]);
  });

  it('makes an update that moves a row into the filter an insert, out of it a delete under its old key', () => {
    const events = transforms().transaction(
      tx(
        { op: 'u', table: people.source, key: { id: 1 }, before: row(1, 'hidden'), after: row(1) },
        { op: 'u', table: people.source, key: { id: 3 }, before: row(2), after: row(3, 'hidden') },
        { op: 'u', table: people.source, key: { id: 4 }, before: row(4, 'hidden'), after: row(4, 'hidden') },
      ),
    ).events;
    expect(events).toEqual([
      { op: 'c', table: people.source, key: { id: 1 }, before: null, after: target(1) },
      { op: 'd', table: people.source, key: { id: 2 }, before: target(2), after: null },
    ]);
  });

  it('keeps a change the filter cannot judge (an image without every column): its delete may find no row', () => {
    const events = transforms().transaction(
      tx(
        { op: 'd', table: people.source, key: { id: 5 }, before: { id: 5 }, after: null },
        { op: 'u', table: people.source, key: { id: 6 }, before: null, after: { id: 6, email: 'a@b', status: 'shown' }, unchanged: ['name'] },
        { op: 'u', table: people.source, key: { id: 8 }, before: { id: 7 }, after: row(8, 'hidden') },
        { op: 'u', table: people.source, key: { id: 9 }, before: null, after: row(9, 'hidden') },
      ),
    ).events;
    expect(events).toEqual([
      { op: 'd', table: people.source, key: { id: 5 }, before: { id: 5 }, after: null, mayBeMissing: true },
      // Its unchanged TOAST values by their target names.
      { op: 'u', table: people.source, key: { id: 6 }, before: null, after: { id: 6, email: 'A@B', status: 'shown' }, unchanged: ['full_name'] },
      { op: 'd', table: people.source, key: { id: 7 }, before: { id: 7 }, after: null, mayBeMissing: true },
      { op: 'd', table: people.source, key: { id: 9 }, before: { id: 9 }, after: null, mayBeMissing: true },
    ]);
  });

  it('passes an ADD COLUMN through the table plan: the target gets the column as the transform names it', () => {
    const narrow = table('people', ['id', 'email', 'status']);
    const seam = new TableTransforms(TEST_TRANSFORM, [narrow]);
    const changed = seam.transaction({ ...tx(), schemaChange: { table: narrow.source, addColumns: [column('name')] } });
    expect(changed.schemaChange?.addColumns.map((c) => c.name)).toEqual(['full_name']);
    // Rows after it are transformed by the new plan.
    expect(seam.transaction(tx({ op: 'c', table: people.source, key: { id: 1 }, before: null, after: row(1) })).events[0]!.after).toEqual(target(1));
  });
});

describe('runSnapshot through the seam', () => {
  /** Two tables, one transformed: the bulk text goes only to the other one; rows of the transformed one are loaded transformed. */
  it('copies the source bulk text only for tables the transform passes as they are', async () => {
    const loaded: { table: string; rows: readonly (readonly Value[])[] }[] = [];
    const asText: string[] = [];
    const reader: TableReader = {
      position: at,
      readChunk: async (t) =>
        t.source.name === 'people'
          ? [
              [1, 'n1', 'e1@x', 'shown'],
              [2, 'n2', 'e2@x', 'hidden'],
            ]
          : [[1, 'note']],
      readChunkText: (): ChunkText => ({ text: null as unknown as NodeJS.ReadableStream, read: Promise.resolve({ rows: 1, lastKey: { id: 1 } }) }),
      close: async () => {},
    };
    const source = {
      openSnapshot: async () => ({ openReader: async () => reader, close: async () => {} }),
      estimateRows: async () => 2,
      headPosition: async () => at,
      streamStartNow: async () => at,
    } as unknown as SnapshotDeps['source'];
    let prepared: string[] = [];
    const sink = {
      prepare: async (tables: readonly TableSchema[]) => void (prepared = tables.map((t) => t.target.name)),
      reader: { readRows: async () => [] },
      beginSnapshot: async () => {},
      loadSnapshotProgress: async () => [],
      loadsSourceText: () => true,
      loadChunk: async (t: TableSchema, rows: readonly (readonly Value[])[]) => void loaded.push({ table: t.target.name, rows }),
      loadChunkText: async (t: TableSchema, _chunk: ChunkText, progress: (read: { rows: number; lastKey: null }) => unknown) => {
        asText.push(t.target.name);
        progress({ rows: 1, lastKey: null });
      },
      finishSnapshot: async () => {},
    } as unknown as Sink;
    await runSnapshot({
      source,
      sink,
      events: new FerryEventBus(),
      tables: [people, notes],
      transforms: new TableTransforms(TEST_TRANSFORM, [people, notes]),
      fresh: true,
      tablePrep: 'create',
      parallelism: 1,
      chunkRows: 10,
      signal: new AbortController().signal,
    });
    expect(prepared).toEqual(['persons', 'notes']);
    expect(asText).toEqual(['notes']);
    expect(loaded).toEqual([{ table: 'persons', rows: [[1, 'n1', 'E1@X', 'shown']] }]);
  });
});

/**
 * A dead letter keeps the target's key of its row (the sink writes rows as the transform rules made
 * them); a replay reads the source, so it reads by the source's key: a renamed key column is renamed
 * back, and a table whose rules mask a key column is left out, saying why and what copies it again.
 */
describe("a dead letter's key as the source has it", () => {
  const items = { ...table('items', ['id', 'part', 'n']), primaryKey: ['id', 'part'] };
  const transforms = (rule: object) => new TableTransforms(rulesTransform({ salt: 'x', rules: [{ match: 's.items', ...rule }] }), [items]);

  it('is the key itself without rules, and its columns renamed back under a rename', () => {
    expect(transforms({}).sourceKey(items)!({ id: 5, part: 1 })).toEqual({ id: 5, part: 1 });
    const renamed = transforms({ columns: { rename: { id: 'item_id' } } });
    expect(renamed.target(items).primaryKey).toEqual(['item_id', 'part']);
    expect(renamed.sourceKey(items)!({ item_id: 5, part: 1 })).toEqual({ id: 5, part: 1 });
  });

  it('cannot be had where a rule masks a key column', () => {
    expect(transforms({ mask: { id: 'hash' } }).sourceKey(items)).toBeNull();
    expect(transforms({ mask: { n: 'hash' } }).sourceKey(items)).not.toBeNull();
  });

  it('leaves a table whose key is masked out of the replay, with the reason and the fix, reading nothing', async () => {
    const rules = transforms({ mask: { id: 'hash' } });
    const run = { id: 'r1', table: 's.items', since: '', replay: { table: null, state: 'running', tables: {}, left: {} } } as unknown as ReplayRun;
    const deps = {
      letters: async () => [{ id: 1, table: 's.items', key: { id: 'c0ffee', part: 1 } }],
      tables: [items],
      holds: undefined,
      sourceKey: (t: TableSchema) => rules.sourceKey(t),
    } as unknown as ReplayDeps;
    await runReplay(run, deps, false);
    expect(run.replay.tables).toEqual({});
    expect(run.replay.left).toEqual({
      's.items': { letters: 1, reason: expect.stringMatching(/masks its key.*POST \/tables\/s\.items\/resync .*copies it again/) },
    });
    expect(run.replay.state).toBe('done');
  });
});
