import { tableKey, type Row } from '../core/change-event.js';
import type { NextKeyValues } from '../core/source-catalogue.js';
import type { TableSchema } from '../core/schema.js';
import type { TablePlan, Transform } from './transform.js';

/**
 * Source column → the target column that passes its value unchanged (renamed at most). The plan's
 * `columns` is given a row of distinct objects: a column that comes out as the very object that went
 * in was not masked. Masked and left-out columns are absent.
 */
export function passedColumns(source: TableSchema, plan: TablePlan): Map<string, string> {
  const probes = new Map(source.columns.map((c) => [c.name, Buffer.from(c.name)]));
  const probe: Row = Object.fromEntries(probes);
  const mapped = plan.columns ? plan.columns(probe) : probe;
  const passed = new Map<string, string>();
  for (const c of plan.table.columns) {
    const from = source.columns.find((s) => probes.get(s.name) === mapped[c.name]);
    if (from) passed.set(from.name, c.name);
  }
  return passed;
}

/**
 * The source's next key values by the target's column names: a renamed identity or AUTO_INCREMENT
 * column's target sequence moves past what the source hands out, not just past the target's max. A
 * masked one has no sequence in the target.
 */
export function nextKeyValuesThrough(next: NextKeyValues, tables: readonly TableSchema[], transform: Transform): NextKeyValues {
  const out = new Map<string, ReadonlyMap<string, bigint>>();
  for (const t of tables) {
    const key = tableKey(t.source);
    const values = next.get(key);
    if (!values) continue;
    const passed = passedColumns(t, transform.plan(t));
    out.set(key, new Map([...values].flatMap(([column, value]) => (passed.has(column) ? [[passed.get(column)!, value] as const] : []))));
  }
  return out;
}
