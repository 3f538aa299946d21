import type { TableId } from '../core/change-event.js';
import type { Column, TableSchema } from '../core/schema.js';
import type { NotCarried } from './plan-model.js';

/** A column as the source catalogue lists it, whether or not ferry can replicate it. */
export interface CatalogueColumn {
  readonly name: string;
  readonly sourceType: string;
  /** The column as ferry describes it; absent when ferry cannot map it or does not replicate it. */
  readonly column?: Column;
  /** Why ferry cannot replicate the column (an unmapped type). */
  readonly unsupported?: string;
  /** Why the column does not reach the target although its type maps (a Postgres generated column). */
  readonly skipped?: string;
  /** The Postgres domain the column's type is: carried as its base type. */
  readonly domain?: string;
}

/** A selected source table, every column listed. */
export interface CatalogueTable {
  readonly source: TableId;
  readonly target: TableId;
  readonly columns: readonly CatalogueColumn[];
  /**
   * The table as ferry replicates it: for a table with an unsupported column, the columns ferry can
   * map (to show their target types; ferry refuses the table as a whole).
   */
  readonly schema: TableSchema;
  /** ferry refuses the table (an unsupported column). */
  readonly refused: boolean;
}

/** What a source catalogue read gives the plan. */
export interface SourceCatalogue {
  readonly version: string;
  readonly tables: readonly CatalogueTable[];
  /** Source objects around the selected tables that ferry does not carry. */
  readonly notCarried: readonly NotCarried[];
}
