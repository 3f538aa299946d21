import type { TableId } from './change-event.js';
import type { NotCarried } from './not-carried.js';
import type { Column, TableSchema, TargetEngine } from './schema.js';

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

/** What a source catalogue read gives `ferry plan`. */
export interface PlanCatalogue {
  readonly version: string;
  readonly tables: readonly CatalogueTable[];
  /** Source objects around the selected tables that ferry does not carry. */
  readonly notCarried: readonly NotCarried[];
}

/** Which tables the plan reads, and how they map (as the source describes them for a run). */
export interface CatalogueOptions {
  readonly filter: (t: TableId) => boolean;
  readonly targetSchema: string | undefined;
  /** A MySQL source's TINYINT(1) columns (config types.tinyint1). */
  readonly tinyint1: 'smallint' | 'boolean';
}

/**
 * A read-only session on a source, for `ferry plan` (sources/<db>/<db>-catalogue.ts, chosen by the
 * registry): it reads the catalogue, never the log, and writes nothing.
 */
export interface CatalogueReader {
  /** Every selected table with every column, and what ferry will not carry to a `target` engine database. */
  read(options: CatalogueOptions, target: TargetEngine): Promise<PlanCatalogue>;
  close(): Promise<void>;
}
