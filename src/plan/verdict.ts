import type { Column, TableSchema, TargetEngine } from '../core/schema.js';
import type { Assessment } from '../core/verdict.js';
import { SQL_SOURCES, SQL_TARGETS } from '../engines/registry.js';

/**
 * How column `c` of `t` arrives in a `target` database as `targetType` (what the target dialect
 * creates), agreeing with docs/type-mapping.md's tables: what the source's engine says of the column
 * whatever the target (MySQL's zero dates), else the target engine's verdict.
 */
export function assessColumn(t: TableSchema, c: Column, target: TargetEngine, targetType: string): Assessment {
  return SQL_SOURCES[t.engine].columnCaveat(c) ?? SQL_TARGETS[target].planTarget.assess(t, c, targetType);
}
