import type { Checkpoint } from '../core/checkpoint.js';
import { formatPosition } from '../core/position.js';
import { FerryError } from '../core/errors.js';

export type SnapshotMode = 'initial' | 'never' | 'always';

/**
 * What a starting pipeline does before streaming, from the configured mode and the checkpoint found
 * in the target (DESIGN §2: a pure function of the two).
 * - fresh: prepare the target tables and copy everything;
 * - resume: a snapshot was interrupted; continue it after the last committed chunk;
 * - skip: stream from the checkpoint (or from the log's head when there is none);
 * - cut-over: a cutover completed; the target is the application's now, so nothing at all, whatever the mode.
 * A scheduled refresh ('refresh') is always fresh: a snapshot a failed refresh left is of an older
 * moment, and no stream catches its rows up, so resuming it would mix the two.
 */
export type SnapshotDecision = 'fresh' | 'resume' | 'skip' | 'cut-over';

export function decideSnapshot(mode: SnapshotMode | 'refresh', checkpoint: Checkpoint | null): SnapshotDecision {
  if (checkpoint?.phase === 'cut-over') return 'cut-over';
  if (mode === 'refresh') return 'fresh';
  if (checkpoint?.phase === 'snapshot') return mode === 'never' ? 'skip' : 'resume';
  if (mode === 'never') return 'skip';
  if (mode === 'always') return 'fresh';
  return checkpoint === null ? 'fresh' : 'skip';
}

/** A pipeline cut over for good, refused by ferry run and ferry snapshot: in a process of several, it is done, not failed. */
export class PipelineCutOver extends FerryError {}

/**
 * Why `ferry run` and `ferry snapshot` refuse a cut-over pipeline (exit 2). Re-arming is a fresh
 * pipeline name: the old checkpoint row stays as the record of the cutover.
 */
export function cutOverError(pipeline: string, checkpoint: Checkpoint): FerryError {
  const at = checkpoint.cutOverAt ? ` at ${checkpoint.cutOverAt.toISOString()}` : '';
  const final = checkpoint.position ? formatPosition(checkpoint.position) : 'unknown';
  return new PipelineCutOver(
    'config',
    `pipeline ${pipeline} was cut over${at}; its final source position is ${final}. The application writes to the target now: ferry neither snapshots nor streams into it again, and wrote nothing to it`,
    {
      hint: `a cutover is final. To replicate again (a new migration, a rehearsal), give the config a fresh pipeline name (pipeline: …) and a target to match; ${pipeline}'s checkpoint row stays as the record of this cutover (ferry status shows it)`,
    },
  );
}
