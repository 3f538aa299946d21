import { describe, expect, it } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import type { TargetReader } from '../../src/core/target-reader.js';
import type { VerifySide } from '../../src/core/verify-side.js';
import { chunkDigest, diffRows, encodeRow, type NodeColumn } from '../../src/verify/row-diff.js';
import { formatVerdict } from '../../src/verify/report.js';
import { type VerifiedSource, verifyTables } from '../../src/verify/verify.js';

const TABLE: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'public', name: 'items' },
  columns: [
    { name: 'id', type: { kind: 'int', bytes: 4, unsigned: false }, sourceType: 'integer', nullable: false, autoIncrement: false, backfill: { value: null } },
    {
      name: 'v',
      type: { kind: 'string', maxLength: 20 },
      sourceType: 'character varying(20)',
      nullable: true,
      autoIncrement: false,
      backfill: { value: null },
    },
  ],
  primaryKey: ['id'],
  indexes: [],
};

type Rows = Map<number, string>;

/**
 * A Postgres side over rows held in memory, answering verify's statements by their shape: the
 * catalog, chunk boundaries, chunk checksums (a stand-in sum) and chunk rows. `sumOffset` makes its
 * checksums disagree while its rows agree (two texts of one value).
 */
function fakeSide(rows: () => Rows, sumOffset = 0): VerifySide & { checksums: number } {
  const side = {
    engine: 'postgres' as const,
    checksums: 0,
    tableId: (t: TableSchema) => t.source,
    async query(sql: string, params: readonly string[] = []): Promise<(string | null)[][]> {
      if (sql.includes('to_regclass')) return [['public.items']];
      if (sql.includes('pg_attribute'))
        return [
          ['id', 'integer', null, 'false'],
          ['v', 'character varying(20)', 'C', 'true'],
        ];
      const data = rows();
      const lo = / > /.test(sql) ? Number(params[0]) : -Infinity;
      const hi = / <= /.test(sql) ? Number(params[params.length - 1]) : Infinity;
      const keys = [...data.keys()].sort((a, b) => a - b);
      if (sql.includes('OFFSET')) {
        const offset = Number(/OFFSET (\d+)/.exec(sql)![1]);
        const next = keys.filter((k) => k > lo)[offset];
        return next === undefined ? [] : [[String(next)]];
      }
      const inRange = keys.filter((k) => k > lo && k <= hi);
      if (sql.startsWith('SELECT count(*)')) {
        side.checksums++;
        const sum = inRange.reduce((n, k) => n + k * 31 + data.get(k)!.length, 0) + sumOffset;
        return [[String(inRange.length), String(sum)]];
      }
      return inRange.map((k) => [String(k), String(k), data.get(k)!]);
    },
    close: async () => {},
  };
  return side;
}

function endpoints(source: VerifySide, target: VerifySide): [VerifiedSource, TargetReader] {
  return [
    { verifySide: async () => source, estimateRows: async () => 100 } as unknown as VerifiedSource,
    { verifySide: async () => target } as unknown as TargetReader,
  ];
}

const seed = (n: number): Rows => new Map(Array.from({ length: n }, (_, i) => [i + 1, `v${i + 1}`]));
const fast = { chunkRows: 10, recheck: 3, recheckDelayMs: 1 };

describe('verifyTables by chunks', () => {
  it('cuts the table at every 10th key and finds equal tables equal', async () => {
    const data = seed(25);
    const target = fakeSide(() => data);
    const [verdict] = await verifyTables(
      ...endpoints(
        fakeSide(() => data),
        target,
      ),
      [TABLE],
      'checksums',
      fast,
    );
    expect(verdict).toMatchObject({ table: 'public.items', equal: true, method: 'sql', rows: 25, differingRanges: [] });
    expect(target.checksums).toBe(3); // (start, 10], (10, 20], (20, end]
  });

  it('names the range and the keys of a lasting difference', async () => {
    const source = seed(25);
    const target = seed(25);
    target.set(15, 'changed');
    target.delete(12);
    target.set(99, 'extra');
    const [verdict] = await verifyTables(
      ...endpoints(
        fakeSide(() => source),
        fakeSide(() => target),
      ),
      [TABLE],
      'checksums',
      fast,
    );
    expect(verdict!.equal).toBe(false);
    expect(verdict!.differingRanges).toEqual([
      {
        from: '10',
        to: '20',
        sourceRows: 10,
        targetRows: 9,
        differingKeys: 2,
        keys: [
          { key: '12', difference: 'missing' },
          { key: '15', difference: 'changed' },
        ],
      },
      { from: '20', to: null, sourceRows: 5, targetRows: 6, differingKeys: 1, keys: [{ key: '99', difference: 'extra' }] },
    ]);
    expect(formatVerdict(verdict!).slice(1)).toEqual([
      '        keys (10, 20]: 10 rows at the source, 9 in the target; 2 differ: 12 (missing in the target), 15 (values differ)',
      '        keys (20, end]: 5 rows at the source, 6 in the target; 1 differ: 99 (extra in the target)',
    ]);
  });

  /** A target that lacks the source's last row for its first `behind` statements, as if still applying it. */
  const catchingUp = (source: Rows, behind: number) => {
    let statements = 0;
    return fakeSide(() => (++statements > behind ? source : seed(24)));
  };

  it('compares a differing chunk again while the target catches up with a live source', async () => {
    const source = seed(25);
    const target = catchingUp(source, 4); // the third chunk differs twice, then agrees
    const [verdict] = await verifyTables(
      ...endpoints(
        fakeSide(() => source),
        target,
      ),
      [TABLE],
      'checksums',
      fast,
    );
    expect(verdict).toMatchObject({ equal: true, differingRanges: [] });
    expect(target.checksums).toBe(5);
  });

  it('counts a difference that outlasts the re-comparisons', async () => {
    const source = seed(25);
    const target = catchingUp(source, Infinity);
    const [verdict] = await verifyTables(
      ...endpoints(
        fakeSide(() => source),
        target,
      ),
      [TABLE],
      'checksums',
      fast,
    );
    expect(verdict!.differingRanges).toMatchObject([{ from: '20', to: null, keys: [{ key: '25', difference: 'missing' }] }]);
    expect(target.checksums).toBe(3 + 3);
  });

  it('counts a lag as a difference with recheck 0 (a quiet source)', async () => {
    const source = seed(25);
    const [verdict] = await verifyTables(
      ...endpoints(
        fakeSide(() => source),
        catchingUp(source, 4),
      ),
      [TABLE],
      'checksums',
      { ...fast, recheck: 0 },
    );
    expect(verdict!.differingRanges).toMatchObject([{ from: '20', to: null, keys: [{ key: '25', difference: 'missing' }] }]);
  });

  it('takes checksums that differ over rows that do not for equal (two texts of one value)', async () => {
    const data = seed(5);
    const [verdict] = await verifyTables(
      ...endpoints(
        fakeSide(() => data),
        fakeSide(() => data, 1),
      ),
      [TABLE],
      'checksums',
      fast,
    );
    expect(verdict).toMatchObject({ equal: true, differingRanges: [], note: '1 chunk(s) with differing checksums had equal rows when read' });
  });
});

describe('diffRows', () => {
  const text: NodeColumn = { type: { kind: 'string', maxLength: null }, raw: false };
  const json: NodeColumn = { type: { kind: 'json' }, raw: true };
  const int: NodeColumn = { type: { kind: 'int', bytes: 4, unsigned: false }, raw: false };
  const rows = (keyCount: number, columns: NodeColumn[], ...values: (string | null)[][]) => values.map((r) => encodeRow(r, Array(keyCount).fill(int), columns));

  it('matches keyed rows by key', () => {
    expect(diffRows(rows(1, [text], ['1', 'a'], ['2', 'b'], ['3', 'c']), rows(1, [text], ['2', 'B'], ['3', 'c'], ['4', 'd']))).toEqual([
      { key: '1', difference: 'missing' },
      { key: '2', difference: 'changed' },
      { key: '4', difference: 'extra' },
    ]);
  });

  it('compares raw columns by canonical(): json key order and spacing do not count', () => {
    expect(diffRows(rows(1, [json], ['1', '{"a":1,"b":[2]}']), rows(1, [json], ['1', '{"b": [2], "a": 1}']))).toEqual([]);
    expect(diffRows(rows(1, [json], ['1', '{"a":1}']), rows(1, [json], ['1', '{"a": "1"}']))).toEqual([{ key: '1', difference: 'changed' }]);
  });

  it('matches float keys by canonical(): the engines print them differently', () => {
    const f4: NodeColumn = { type: { kind: 'float' }, raw: true };
    expect(diffRows([encodeRow(['1.1', 'a'], [f4], [text])], [encodeRow(['1.100000023841858', 'a'], [f4], [text])])).toEqual([]);
  });

  it('prints composite keys as a tuple', () => {
    expect(diffRows(rows(2, [text], ['1', 'x', 'v']), [])).toEqual([{ key: '(1, x)', difference: 'missing' }]);
  });

  it('compares rows of a table without a key as multisets: a duplicate counts, NULL is not the empty string', () => {
    const two = [text, text];
    expect(diffRows(rows(0, two, ['1', 'dup'], ['1', 'dup'], ['2', null]), rows(0, two, ['1', 'dup'], ['2', null]))).toEqual([
      { key: '(1, dup)', difference: 'missing' },
    ]);
    expect(diffRows(rows(0, two, ['1', null]), rows(0, two, ['1', '']))).toEqual([
      { key: '(1, NULL)', difference: 'missing' },
      { key: '(1, )', difference: 'extra' },
    ]);
  });

  it('fingerprints a chunk alike on both sides when the rows are alike, in any order without a key', () => {
    expect(chunkDigest(rows(0, [text], ['a'], ['b']))).toBe(chunkDigest(rows(0, [text], ['b'], ['a'])));
    expect(chunkDigest(rows(1, [text], ['1', 'a']))).not.toBe(chunkDigest(rows(1, [text], ['1', 'b'])));
  });
});
