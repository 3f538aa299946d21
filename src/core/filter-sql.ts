import type { Column } from './schema.js';
import type { FilterValue, RowFilter } from './transform-rules.js';

/** How an engine writes a parameter: its placeholder for the next bound value (`?`, `$3::bigint`), given the column compared. */
export type Placeholder = (value: FilterValue, column: Column) => string;

const COMPARISON = { eq: '=', lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

/**
 * The conditions as one SQL predicate (AND), every value a parameter: `param` binds it and returns
 * its placeholder. Only the conditions a transform pushes down reach here (no `ne`, which a
 * case-insensitive collation would answer otherwise than ferry).
 */
export function filterSql(filters: readonly RowFilter[], columns: readonly Column[], quote: (name: string) => string, param: Placeholder): string {
  return filters
    .map((f) => {
      const column = columns.find((c) => c.name === f.column);
      if (!column) throw new Error(`filter on unknown column ${f.column}`);
      const c = quote(f.column);
      const values = (Array.isArray(f.value) ? f.value : f.value === undefined ? [] : [f.value]) as FilterValue[];
      switch (f.op) {
        case 'null':
          return `${c} IS NULL`;
        case 'notnull':
          return `${c} IS NOT NULL`;
        case 'in':
          return `${c} IN (${values.map((v) => param(v, column)).join(', ')})`;
        case 'between':
          return `${c} BETWEEN ${param(values[0]!, column)} AND ${param(values[1]!, column)}`;
        case 'ne':
          throw new Error('ne is not pushed down');
        default:
          return `${c} ${COMPARISON[f.op]} ${param(values[0]!, column)}`;
      }
    })
    .map((term) => `(${term})`)
    .join(' AND ');
}
