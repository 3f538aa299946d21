import type { Row } from './change-event.js';
import type { Position } from './position.js';
import type { RejectionReason } from './target-rejection.js';

/**
 * A replicated table whose changes the stream does not apply as they come (DESIGN §1.3), kept in
 * the checkpoint so that a restart holds it too:
 * - 'quarantined': the target rejected a row of it under the `quarantine-table` error policy. The
 *   table stays as it was at `position` (the checkpoint before the batch that held the row) while
 *   the other tables stream on, until a resync copies it again.
 * - 'resyncing': POST /tables/{schema.table}/resync is copying it again while the stream goes on
 *   (watermarked chunks, pipeline/resync); a resync interrupted by a restart starts over.
 */
export type TableHold =
  | {
      readonly state: 'quarantined';
      /** ISO 8601, UTC. */
      readonly since: string;
      readonly position: Position;
      /** The primary key of the row the target rejected, its reason and the server's message. */
      readonly key: Row;
      readonly reason: RejectionReason;
      readonly message: string;
    }
  | { readonly state: 'resyncing'; readonly since: string };

/** Source table (`schema.table`) → its hold; a table not named here streams as usual. */
export type TableHolds = Readonly<Record<string, TableHold>>;
