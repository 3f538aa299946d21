import type { Row } from '../../src/core/change-event.js';
import type { Transform } from '../../src/transforms/transform.js';

/**
 * A transform of the kind transform rules will make, for proving the seam: a source table named
 * `people` lands as `persons`, its column `name` as `full_name`, its `email` values upper-cased, and
 * rows whose `status` is `hidden` not at all. Every other table is left as it is.
 */
export const TEST_TRANSFORM: Transform = {
  plan(table) {
    if (table.source.name !== 'people') return { table };
    const rename = (name: string) => (name === 'name' ? 'full_name' : name);
    return {
      table: {
        ...table,
        target: { ...table.target, name: 'persons' },
        columns: table.columns.map((c) => ({ ...c, name: rename(c.name) })),
        primaryKey: table.primaryKey.map(rename),
        indexes: table.indexes.map((i) => ({ ...i, columns: i.columns.map(rename) })),
      },
      columns: (row) => {
        const out: Row = {};
        for (const [name, value] of Object.entries(row)) out[rename(name)] = name === 'email' && typeof value === 'string' ? value.toUpperCase() : value;
        return out;
      },
      keeps: (row) => row.status !== 'hidden',
    };
  },
};
