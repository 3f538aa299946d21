import { describe, expect, it } from 'vitest';
import { carryOverlap, mayBeApplied } from '../../src/core/checkpoint.js';
import type { Position } from '../../src/core/position.js';
import type { TableSchema } from '../../src/core/schema.js';
import { uniqueViolationOf } from '../../src/sinks/postgres/postgres-unique.js';
import { writtenRows } from '../../src/sinks/target-divergence.js';
import { missingRow } from '../../src/sinks/target-divergence.js';

const at = (pos: number, file = 'bin.000001'): Position => ({ kind: 'mysql', file, pos });

describe('the overlap of a snapshot and its stream (Checkpoint.overlapEnd)', () => {
  it("takes a transaction ending at or before the overlap's end for one the target may hold already", () => {
    expect(mayBeApplied(at(100), at(200))).toBe(true);
    expect(mayBeApplied(at(200), at(200))).toBe(true);
    expect(mayBeApplied(at(201), at(200))).toBe(false);
    expect(mayBeApplied(at(4, 'bin.000002'), at(200))).toBe(false);
    expect(mayBeApplied(at(100), null)).toBe(false);
    expect(mayBeApplied({ kind: 'pg', lsn: 2n ** 60n }, { kind: 'pg', lsn: 2n ** 60n + 1n })).toBe(true);
  });

  it('keeps the overlap in each checkpoint until the stream has passed its end, then drops it', () => {
    expect(carryOverlap({ phase: 'stream', position: at(150) }, at(200))).toEqual({ phase: 'stream', position: at(150), overlapEnd: at(200) });
    expect(carryOverlap({ phase: 'stream', position: at(200) }, at(200))).toEqual({ phase: 'stream', position: at(200) });
    expect(carryOverlap({ phase: 'stream', position: at(300) }, null)).toEqual({ phase: 'stream', position: at(300) });
    // The end of a snapshot names its own overlap; one already passed is no overlap.
    expect(carryOverlap({ phase: 'stream', position: at(100), overlapEnd: at(120) }, null)).toEqual({
      phase: 'stream',
      position: at(100),
      overlapEnd: at(120),
    });
    expect(carryOverlap({ phase: 'stream', position: at(130), overlapEnd: at(120) }, null)).toEqual({ phase: 'stream', position: at(130) });
  });
});

const docs: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'docs' },
  target: { schema: 'app', name: 'docs' },
  columns: [],
  primaryKey: ['id'],
  indexes: [],
};

describe('stops for a target that diverged', () => {
  it('names the table, the key and what the source did', () => {
    const e = missingRow(docs, 'update', { id: 7 });
    expect(e.kind).toBe('fatal');
    expect(e.message).toBe(
      'the target has no row with id = 7, which the source updated (with only the columns it sent: Postgres leaves unchanged TOAST values out): skipping the change would lose it',
    );
    expect(e.hint).toMatch(/the target table app\.docs differs from the source/);
    expect(missingRow(docs, 'delete', null, 3).message).toBe('the target has lost 3 of the rows the source deleted here: skipping the change would lose it');
  });

  it('tells the row of a Postgres unique violation from the values its detail reports, when one row has them', () => {
    const written = writtenRows(
      docs,
      [
        { id: 1, code: 'a', n: 5 },
        { id: 2, code: 'b', n: 5 },
      ],
      [{ match: { id: 3 }, set: { code: 'c' } }],
    );
    const violation = (detail: string) => ({
      code: '23505',
      constraint: 'docs_code_key',
      detail,
      message: 'duplicate key value violates unique constraint "docs_code_key"',
    });
    expect(uniqueViolationOf(docs, violation('Key (code)=(b) already exists.'), written)?.message).toBe(
      'the row with id = 2 collides with another row of the target on unique key docs_code_key (Key (code)=(b) already exists.)',
    );
    expect(uniqueViolationOf(docs, violation('Key (code)=(c) already exists.'), written)?.message).toMatch(/^the row with id = 3 collides/);
    expect(uniqueViolationOf(docs, violation('Key (code, n)=(a, 5) already exists.'), written)?.message).toMatch(/^the row with id = 1 collides/);
    expect(uniqueViolationOf(docs, violation('Key (n)=(5) already exists.'), written)?.message).toMatch(/^a row of this change collides .* docs_code_key/);
    expect(uniqueViolationOf(docs, { code: '23503', message: 'foreign key' }, written)).toBeNull();
  });
});
