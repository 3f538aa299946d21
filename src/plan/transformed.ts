import type { CatalogueTable, PlanCatalogue } from '../core/plan-catalogue.js';
import type { TransformsConfig } from '../core/transform-rules.js';
import { checkRules, rulesTransform, targetColumnNames } from '../transforms/rules.js';

/**
 * The catalogue as the transform rules make the target: tables renamed, columns left out, renamed or
 * retyped for their masks, so that every verdict and DDL line is the target's. Rules that do not fit
 * the tables are a config error (exit 2), as at `ferry run`.
 */
export function transformCatalogue(c: PlanCatalogue, t: TransformsConfig): PlanCatalogue {
  if (t.rules.length === 0) return c;
  checkRules(
    t,
    c.tables.map((table) => table.schema),
  );
  const transform = rulesTransform(t);
  return { ...c, tables: c.tables.map((table) => transformTable(table, transform.plan(table.schema).table, targetColumnNames(t, table.schema))) };
}

function transformTable(table: CatalogueTable, schema: CatalogueTable['schema'], names: ReadonlyMap<string, string> | undefined): CatalogueTable {
  if (schema === table.schema) return table;
  const columns = new Map(schema.columns.map((c) => [c.name, c]));
  return {
    ...table,
    target: schema.target,
    schema,
    columns: table.columns.map((c) => {
      const target = names ? names.get(c.name) : c.name;
      if (target === undefined) return { name: c.name, sourceType: c.sourceType, skipped: 'left out by a transforms rule' };
      const column = columns.get(target);
      return column && c.column ? { ...c, column } : c;
    }),
  };
}
