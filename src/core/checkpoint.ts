import type { Row } from './change-event.js';
import type { Position } from './position.js';

/**
 * Where a pipeline stands, stored in the target next to the data it describes.
 * - phase 'snapshot': tables are being copied; per-table progress lives in SnapshotProgress rows.
 * - phase 'stream': the snapshot is complete; `position` is the end of the last applied transaction.
 */
export interface Checkpoint {
  readonly phase: 'snapshot' | 'stream';
  readonly position: Position | null;
  /**
   * The source tables (`schema.table`) the snapshot copied; streaming replicates only these, so a
   * table created while ferry was down cannot arrive half-copied. Written when the snapshot finishes.
   */
  readonly tables?: readonly string[];
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
