import { FerryError } from './errors.js';
import type { Row } from './change-event.js';
import { comparePositions, formatPosition, type Position } from './position.js';
import type { TableHolds } from './table-hold.js';

/**
 * Where a pipeline stands, stored in the target next to the data it describes.
 * - phase 'snapshot': tables are being copied; per-table progress lives in SnapshotProgress rows.
 * - phase 'stream': the snapshot is complete; `position` is the end of the last applied transaction.
 * - phase 'cut-over': terminal. A cutover completed at `position`, the final source position, at
 *   `cutOverAt`; the application writes to the target now, and ferry never writes there again for
 *   this pipeline (DESIGN §1.3).
 */
export interface Checkpoint {
  readonly phase: 'snapshot' | 'stream' | 'cut-over';
  readonly position: Position | null;
  /** Phase 'cut-over': when the cutover completed. */
  readonly cutOverAt?: Date;
  /**
   * The source tables (`schema.table`) the snapshot copied; streaming replicates only these, so a
   * table created while ferry was down cannot arrive half-copied. Written when the snapshot finishes.
   */
  readonly tables?: readonly string[];
  /**
   * The target may already hold the effect of source transactions ending at or before this position,
   * beyond `position`: snapshot readers that read later than the stream starts (DESIGN §3.5), or rows
   * a MySQL DDL committed ahead of the checkpoint. Until the stream has passed it, a delete or a
   * column-only update that finds no row is such a replay; past it, the target has diverged from the
   * source. Absent when the stream is past it.
   */
  readonly overlapEnd?: Position;
  /** Tables quarantined or being resynced (table-hold.ts); absent when every table streams as usual. */
  readonly holds?: TableHolds;
}

/** Whether a source transaction ending at `position` may already be applied to the target (Checkpoint.overlapEnd). */
export function mayBeApplied(position: Position, overlapEnd: Position | null | undefined): boolean {
  return !!overlapEnd && comparePositions(position, overlapEnd) <= 0;
}

/** `checkpoint` as committed while the target may be ahead up to `overlapEnd`: it keeps the overlap until the stream has passed it. */
export function carryOverlap(checkpoint: Checkpoint, overlapEnd: Position | null): Checkpoint {
  const { overlapEnd: given, ...rest } = checkpoint;
  const end = given ?? overlapEnd;
  return end && checkpoint.position && comparePositions(checkpoint.position, end) < 0 ? { ...rest, overlapEnd: end } : rest;
}

/** `checkpoint` with `holds` as its holds: none when no table is held. */
export function withHolds(checkpoint: Checkpoint, holds: TableHolds): Checkpoint {
  const { holds: _, ...rest } = checkpoint;
  return Object.keys(holds).length > 0 ? { ...rest, holds } : rest;
}

/** Progress of one table's snapshot, committed with each chunk it describes. */
export interface SnapshotProgress {
  readonly table: string;
  /** Primary key of the last row loaded; the next chunk starts after it. */
  readonly lastKey: Row | null;
  readonly rows: number;
  readonly done: boolean;
  /** Source position of the reader that loaded these rows: streaming must start at or before it. */
  readonly position: Position;
}

/**
 * The terminal checkpoint of a cutover whose stream stopped at `final`, from the checkpoint `last`
 * the target holds. The stream's last commit wrote `final` together with the last data, and nothing
 * was applied after it: recording the cutover right after, at that same position, is as good as
 * recording it in that transaction. A checkpoint anywhere else means something applied after the
 * stream stopped, and is refused.
 */
export function cutOverCheckpoint(last: Checkpoint | null, final: Position): Checkpoint {
  if (last?.phase !== 'stream' || !last.position || last.position.kind !== final.kind || comparePositions(last.position, final) !== 0) {
    const found = last ? `${last.phase}${last.position ? ` at ${formatPosition(last.position)}` : ''}` : 'none';
    throw new FerryError(
      'fatal',
      `the target's checkpoint (${found}) is not where the stream stopped (${formatPosition(final)}): something wrote to the target after the stream stopped`,
      {
        hint: 'make sure no other ferry process runs this pipeline; then restart ferry (it resumes from the checkpoint) and cut over again',
      },
    );
  }
  return { phase: 'cut-over', position: final };
}
