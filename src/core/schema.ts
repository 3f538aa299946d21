import type { TableId, Value } from './change-event.js';
import type { CheckExpr } from './check-expression.js';

/**
 * Column types in ferry's own vocabulary: what the source knows about a column, enough for
 * any sink dialect to pick an exact target type. Sources translate into it; sinks out of it.
 */
export type ColumnType =
  | { readonly kind: 'int'; readonly bytes: 1 | 2 | 3 | 4 | 8; readonly unsigned: boolean }
  | { readonly kind: 'bool' }
  /** precision and scale are null for Postgres's unconstrained numeric */
  | { readonly kind: 'decimal'; readonly precision: number | null; readonly scale: number | null }
  | { readonly kind: 'float' }
  | { readonly kind: 'double' }
  | { readonly kind: 'date' }
  | { readonly kind: 'datetime'; readonly fsp: number }
  | { readonly kind: 'timestamp'; readonly fsp: number }
  | { readonly kind: 'time'; readonly fsp: number }
  | { readonly kind: 'year' }
  | { readonly kind: 'string'; readonly maxLength: number | null }
  | { readonly kind: 'binary'; readonly fixedLength: number | null }
  | { readonly kind: 'json' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'set'; readonly values: readonly string[] }
  | { readonly kind: 'bit'; readonly length: number }
  | { readonly kind: 'uuid' }
  | { readonly kind: 'interval' }
  | { readonly kind: 'inet' }
  | { readonly kind: 'array'; readonly element: ColumnType }
  /** A type with no equivalent in other engines: carried as the source's text form. */
  | { readonly kind: 'other' };

/** The engine a table was read from: a sink of the same engine keeps the source's own column types. */
export type Engine = 'mysql' | 'postgres';

/** An engine ferry writes into: every source engine, and SQL Server, which is a target only. */
export type TargetEngine = Engine | 'mssql';

/**
 * What rows already in a table hold once this column is added to it (MySQL fills them during the
 * ALTER and writes no row events): a value ferry knows, or an expression it cannot evaluate per row.
 */
export type Backfill = { readonly value: Value } | { readonly expression: string };

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  /**
   * The source's own spelling (`bigint(20) unsigned`, `character varying(20)`, `public.mood`): a
   * target of the same engine uses it as the column type, so same-engine routes keep types exactly.
   */
  readonly sourceType: string;
  readonly nullable: boolean;
  readonly autoIncrement: boolean;
  readonly backfill: Backfill;
  /** A text column's collation at the source; a target of the same engine keeps it (key equality depends on it). */
  readonly collation?: string;
  /** The column's default at the source, when it has one other than NULL (an AUTO_INCREMENT or identity is `autoIncrement`). */
  readonly default?: ColumnDefault;
  /** MySQL: the `ON UPDATE` expression of an auto-updated TIMESTAMP/DATETIME column (`current_timestamp(6)`). */
  readonly onUpdate?: string;
}

/**
 * A column default as the source declares it: a constant ferry can write in any engine, the current
 * time, or an expression only the source's engine understands (`text`, as the source prints it).
 */
export type ColumnDefault =
  | { readonly kind: 'literal'; readonly value: Value; readonly text: string }
  | { readonly kind: 'now'; readonly text: string }
  | { readonly kind: 'expression'; readonly text: string };

/** What the target does to referencing rows when a referenced row is deleted or its key changes. */
export type ReferentialAction = 'cascade' | 'set null' | 'set default' | 'restrict' | 'no action';

/** A referential action as SQL writes it (both engines spell them the standard way). */
export const REFERENTIAL_ACTION_SQL: Record<ReferentialAction, string> = {
  cascade: 'CASCADE',
  'set null': 'SET NULL',
  'set default': 'SET DEFAULT',
  restrict: 'RESTRICT',
  'no action': 'NO ACTION',
};

/** A foreign key of a table (the referencing one), as the source declares it. */
export interface ForeignKey {
  readonly name: string;
  readonly columns: readonly string[];
  /** The referenced table, by its source name. */
  readonly references: TableId;
  readonly referencedColumns: readonly string[];
  readonly onDelete: ReferentialAction;
  readonly onUpdate: ReferentialAction;
}

/** A CHECK constraint, its expression as the source prints it (in the source engine's SQL). */
export interface CheckConstraint {
  readonly name: string;
  readonly expression: string;
  /** The expression in the portable subset, when it translates exactly to another engine (check-expression.ts). */
  readonly portable?: CheckExpr;
  /** Why it does not translate to another engine, when it does not. */
  readonly unportable?: string;
}

export interface Index {
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique: boolean;
}

export interface TableSchema {
  readonly engine: Engine;
  /** The table as the source names it. */
  readonly source: TableId;
  /** The table as the target names it (after `target.schema`). */
  readonly target: TableId;
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[];
  readonly indexes: readonly Index[];
  /** Foreign keys of this table (it references others); empty when the source has none or did not say. */
  readonly foreignKeys?: readonly ForeignKey[];
  readonly checks?: readonly CheckConstraint[];
  /** A Postgres partitioned table (the root; its partitions are not tables of their own): its layout. */
  readonly partitioning?: Partitioning;
}

/**
 * How a Postgres partitioned table splits its rows, in Postgres's own SQL: a Postgres target makes
 * the same partitions; other targets hold all the rows in one plain table.
 */
export interface Partitioning {
  /** The PARTITION BY clause, as pg_get_partkeydef prints it: `RANGE (created_on)`. */
  readonly by: string;
  readonly partitions: readonly Partition[];
}

/**
 * What a target makes of a partitioned source table: the same partitions (Postgres), one plain table
 * holding every partition's rows, or one topic (Kafka). The registry says it of the configured target.
 */
export type PartitionedTable = 'partitions' | 'one table' | 'one topic';

export interface Partition {
  /** The partition's name; the target puts it in the schema of its partitioned table. */
  readonly name: string;
  /** `FOR VALUES FROM (…) TO (…)`, `FOR VALUES IN (…)`, `FOR VALUES WITH (…)` or `DEFAULT`. */
  readonly bound: string;
  /** A partition that is partitioned itself. */
  readonly partitioning?: Partitioning;
}

/** Whether a foreign key changes other rows when a referenced row is deleted or re-keyed (RESTRICT and NO ACTION only refuse). */
export function actsOnRows(fk: ForeignKey): boolean {
  return ACTING.has(fk.onDelete) || ACTING.has(fk.onUpdate);
}

const ACTING: ReadonlySet<ReferentialAction> = new Set(['cascade', 'set null', 'set default']);
