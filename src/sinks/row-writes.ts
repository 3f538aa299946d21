import { tableKey, type ChangeEvent, type Value } from '../core/change-event.js';
import type { Write } from '../core/coalesce.js';
import { FerryError } from '../core/errors.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { ReferencingRows } from './referential-actions.js';

export type RowsWrite = Extract<Write, { kind: 'rows' }>;

/** One engine's statements for the changes of an apply transaction, on its connection `C`. */
export interface RowWrites<C> {
  truncate(c: C, t: TableSchema): Promise<void>;
  /**
   * Deletes, then patches, then upserts of one table (coalesce.ts). With `checked`, every delete and
   * patch must find its row, or fail with missingRow(); without, the changes may be replays.
   */
  applyRows(c: C, t: TableSchema, w: RowsWrite, checked: boolean): Promise<void>;
  /** One change of a table without a primary key: an insert, or the delete or update of one row equal to `before` in every column. */
  applyExact(c: C, t: TableSchema, e: ChangeEvent): Promise<void>;
  /**
   * Adds `columns` to `t` (which lists them already). Before a DDL that commits the open transaction
   * by itself (MySQL), `beforeImplicitCommit` runs, and the transaction is open again afterwards.
   */
  addColumns(c: C, t: TableSchema, columns: readonly Column[], beforeImplicitCommit: () => Promise<void>): Promise<void>;
  /** The statements of referential actions, on `c`. */
  referencingRows(c: C): ReferencingRows;
}

/** A change of a table without a key whose old row the target does not have: applying it would lose it. */
export function noEqualRow(t: TableSchema): FerryError {
  return new FerryError(
    'fatal',
    `no row of ${tableKey(t.target)} equals the old image of a change to it (the table has no primary key, so rows are matched by every column)`,
    {
      hint: 'the target table differs from the source; re-snapshot it (snapshot.mode: always, snapshot.tablePrep: truncate)',
    },
  );
}

/** What a row image written before column `c` was added holds there: what the source gave the rows it already had. */
export function backfillValue(t: TableSchema, c: Column): Value {
  if ('expression' in c.backfill) {
    throw new FerryError(
      'fatal',
      `a row of ${tableKey(t.target)} written before column ${c.name} was added needs the value the source gave it (${c.backfill.expression}), which ferry cannot know`,
      {
        hint: 're-snapshot the table (snapshot.mode: always with snapshot.tablePrep: drop-and-create)',
      },
    );
  }
  return c.backfill.value;
}
