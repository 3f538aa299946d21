import type { Column, Engine, TableSchema } from '../core/schema.js';
import { type Assessment, documented } from '../core/verdict.js';
import { SQL_ENGINES } from '../engines/registry.js';

/** Temporal kinds MySQL lets hold zero dates, which ferry writes as NULL. */
const ZERO_DATE_KINDS = new Set(['date', 'datetime', 'timestamp']);

/**
 * How column `c` of `t` arrives in a `target` database as `targetType` (what the target dialect
 * creates), agreeing with docs/type-mapping.md's tables: MySQL's zero dates whatever the target,
 * else the target engine's verdict.
 */
export function assessColumn(t: TableSchema, c: Column, target: Engine, targetType: string): Assessment {
  if (t.engine === 'mysql' && ZERO_DATE_KINDS.has(c.type.kind)) return documented('zero dates (0000-00-00, 2024-00-10) arrive as NULL');
  return SQL_ENGINES[target].planTarget.assess(t, c, targetType);
}
