import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/core/checkpoint.js';
import { decideSnapshot, type SnapshotDecision, type SnapshotMode } from '../../src/pipeline/snapshot-decision.js';

const position = { kind: 'mysql', file: 'bin.000003', pos: 4 } as const;
const checkpoints: Record<string, Checkpoint | null> = {
  'no checkpoint': null,
  'an interrupted snapshot': { phase: 'snapshot', position: null },
  'an interrupted snapshot with a position': { phase: 'snapshot', position },
  'a streaming checkpoint': { phase: 'stream', position },
};

describe('decideSnapshot', () => {
  it.each<[SnapshotMode, string, SnapshotDecision]>([
    ['initial', 'no checkpoint', 'fresh'],
    ['initial', 'an interrupted snapshot', 'resume'],
    ['initial', 'an interrupted snapshot with a position', 'resume'],
    ['initial', 'a streaming checkpoint', 'skip'],
    ['always', 'no checkpoint', 'fresh'],
    ['always', 'an interrupted snapshot', 'resume'],
    ['always', 'an interrupted snapshot with a position', 'resume'],
    ['always', 'a streaming checkpoint', 'fresh'],
    ['never', 'no checkpoint', 'skip'],
    ['never', 'an interrupted snapshot', 'skip'],
    ['never', 'an interrupted snapshot with a position', 'skip'],
    ['never', 'a streaming checkpoint', 'skip'],
  ])('mode %s with %s: %s', (mode, checkpoint, expected) => {
    expect(decideSnapshot(mode, checkpoints[checkpoint] ?? null)).toBe(expected);
  });
});
