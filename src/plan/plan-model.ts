import type { TableId } from '../core/change-event.js';
import type { NotCarried } from '../core/not-carried.js';
import type { TargetEngine } from '../core/schema.js';
import type { Verdict } from '../core/verdict.js';

export interface ColumnPlan {
  readonly name: string;
  readonly sourceType: string;
  /** null: the column does not reach the target. */
  readonly targetType: string | null;
  readonly verdict: Verdict;
  /** Why the verdict is not `exact`, and what it means for the values. */
  readonly note?: string;
}

export interface TablePlan {
  readonly source: TableId;
  readonly target: TableId;
  readonly columns: readonly ColumnPlan[];
  /** What the table's transform rule does (renames, columns left out, masks, filters), one line each. */
  readonly transforms?: readonly string[];
  /** Whether the target already has the table (ferry keeps it under tablePrep create), read from the target. */
  readonly targetExists: boolean;
  /** The statements ferry runs on the target for this table, in order; empty when ferry refuses the table. */
  readonly ddl: readonly string[];
  /** What the cutover's finalizing adds to the table (unique indexes, foreign keys, checks, deferred NOT NULLs). */
  readonly atCutover: readonly { readonly kind: string; readonly name: string; readonly sql: string; readonly note?: string }[];
}

export interface Endpoint {
  readonly engine: TargetEngine;
  /** `user@host:port`, no password. */
  readonly endpoint: string;
  /** The server's version string. */
  readonly version: string;
}

/** The assessment `ferry plan` prints: the same object as text or JSON. */
export interface PlanReport {
  readonly pipeline: string;
  readonly source: Endpoint;
  readonly target: Endpoint;
  readonly tables: readonly TablePlan[];
  readonly notCarried: readonly NotCarried[];
  readonly summary: {
    readonly tables: number;
    readonly columns: Readonly<Record<Verdict, number>>;
    readonly notCarried: number;
    readonly problems: number;
  };
}
