import { describe, expect, it } from 'vitest';
import { cutOverCheckpoint, type Checkpoint } from '../../src/core/checkpoint.js';
import { cutOverError, decideSnapshot, type SnapshotDecision, type SnapshotMode } from '../../src/pipeline/snapshot-decision.js';

const position = { kind: 'mysql', file: 'bin.000003', pos: 4 } as const;
const cutOverAt = new Date('2026-03-01T12:34:56.789Z');
const checkpoints: Record<string, Checkpoint | null> = {
  'no checkpoint': null,
  'an interrupted snapshot': { phase: 'snapshot', position: null },
  'an interrupted snapshot with a position': { phase: 'snapshot', position },
  'a streaming checkpoint': { phase: 'stream', position },
  'a completed cutover': { phase: 'cut-over', position, cutOverAt },
};

describe('decideSnapshot', () => {
  it.each<[SnapshotMode | 'refresh', string, SnapshotDecision]>([
    ['initial', 'no checkpoint', 'fresh'],
    ['initial', 'an interrupted snapshot', 'resume'],
    ['initial', 'an interrupted snapshot with a position', 'resume'],
    ['initial', 'a streaming checkpoint', 'skip'],
    ['initial', 'a completed cutover', 'cut-over'],
    ['always', 'no checkpoint', 'fresh'],
    ['always', 'an interrupted snapshot', 'resume'],
    ['always', 'an interrupted snapshot with a position', 'resume'],
    ['always', 'a streaming checkpoint', 'fresh'],
    ['always', 'a completed cutover', 'cut-over'],
    ['never', 'no checkpoint', 'skip'],
    ['never', 'an interrupted snapshot', 'skip'],
    ['never', 'an interrupted snapshot with a position', 'skip'],
    ['never', 'a streaming checkpoint', 'skip'],
    ['never', 'a completed cutover', 'cut-over'],
    ['refresh', 'no checkpoint', 'fresh'],
    ['refresh', 'an interrupted snapshot with a position', 'fresh'],
    ['refresh', 'a streaming checkpoint', 'fresh'],
    ['refresh', 'a completed cutover', 'cut-over'],
  ])('mode %s with %s: %s', (mode, checkpoint, expected) => {
    expect(decideSnapshot(mode, checkpoints[checkpoint] ?? null)).toBe(expected);
  });
});

describe('a cut-over pipeline', () => {
  it('is refused as a config error (exit 2) naming the pipeline, when, the final position and the fix', () => {
    const err = cutOverError('orders', checkpoints['a completed cutover']!);
    expect(err.kind).toBe('config');
    expect(err.message).toContain('pipeline orders was cut over at 2026-03-01T12:34:56.789Z');
    expect(err.message).toContain('its final source position is bin.000003:4.');
    expect(err.message).toContain('wrote nothing to it');
    expect(err.hint).toMatch(/fresh pipeline name/);
  });

  it('is recorded only where the stream stopped', () => {
    expect(cutOverCheckpoint({ phase: 'stream', position, tables: ['a.t'] }, position)).toEqual({ phase: 'cut-over', position });
    const later = { ...position, pos: 99 };
    expect(() => cutOverCheckpoint({ phase: 'stream', position: later }, position)).toThrow(/not where the stream stopped/);
    expect(() => cutOverCheckpoint({ phase: 'snapshot', position }, position)).toThrow(/not where the stream stopped/);
    expect(() => cutOverCheckpoint(null, position)).toThrow(/checkpoint \(none\)/);
    expect(() => cutOverCheckpoint({ phase: 'stream', position: { kind: 'pg', lsn: 4n } }, position)).toThrow(/not where the stream stopped/);
  });
});
