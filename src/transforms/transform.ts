import type { Row } from '../core/change-event.js';
import type { TableSchema } from '../core/schema.js';
import type { RowFilter } from '../core/transform-rules.js';

/**
 * What a transform makes of one source table, decided once from its schema (and again when the
 * stream adds columns to it). Snapshot rows and streamed changes both reach the target through it
 * (`TableTransforms`), so a rule is written once.
 */
export interface TablePlan {
  /**
   * The table as the target holds it: its target name, columns (renamed, dropped, retyped to fit
   * the values `columns` gives them), key, indexes and foreign keys in those columns' names. `source`
   * stays the source table's: changes, checkpoints and snapshot progress are keyed by it.
   */
  readonly table: TableSchema;
  /**
   * A source row as the target holds it, by the target's column names. It is given whole rows and
   * parts of rows alike (a primary key, an update without its unchanged TOAST values, a row from
   * before an ADD COLUMN) and maps the columns it is given. Absent: rows reach the target as they
   * are, which is what lets a snapshot copy the source's bulk text without decoding it.
   */
  readonly columns?: (row: Row) => Row;
  /**
   * Whether the target holds this source row (a row filter), asked of whole rows only. Absent: every
   * row. An update that moves a row into or out of it becomes an insert or a delete.
   */
  readonly keeps?: (row: Row) => boolean;
  /**
   * Conditions the snapshot's SQL may apply before the rows reach `keeps`: each must keep every row
   * `keeps` keeps (the source's SQL may keep more, never fewer), so the snapshot reads less and the
   * result stays what `keeps` decides.
   */
  readonly pushdown?: readonly RowFilter[];
}

/** A function of a source table to what the target holds of it. */
export interface Transform {
  plan(table: TableSchema): TablePlan;
}

/** The default: every table and row as the source has it. */
export const IDENTITY: Transform = { plan: (table) => ({ table }) };
