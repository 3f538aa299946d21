import type { Checkpoint } from '../core/checkpoint.js';

export type SnapshotMode = 'initial' | 'never' | 'always';

/**
 * What a starting pipeline does before streaming, from the configured mode and the checkpoint found
 * in the target (DESIGN §2: a pure function of the two).
 * - fresh: prepare the target tables and copy everything;
 * - resume: a snapshot was interrupted; continue it after the last committed chunk;
 * - skip: stream from the checkpoint (or from the log's head when there is none).
 */
export type SnapshotDecision = 'fresh' | 'resume' | 'skip';

export function decideSnapshot(mode: SnapshotMode, checkpoint: Checkpoint | null): SnapshotDecision {
  if (checkpoint?.phase === 'snapshot') return mode === 'never' ? 'skip' : 'resume';
  if (mode === 'never') return 'skip';
  if (mode === 'always') return 'fresh';
  return checkpoint === null ? 'fresh' : 'skip';
}
