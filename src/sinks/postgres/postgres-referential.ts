import type pg from 'pg';
import type { Value } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import type { ReferencingRows } from '../referential-actions.js';
import { columnType, toPg } from './postgres-dialect.js';
import { qualified, quoteIdent } from '../../engines/postgres/quoting.js';

/**
 * Referential actions' statements on a Postgres target: rows matched by one array parameter per
 * column (`(a, b) IN (SELECT * FROM unnest($1::int[], $2::text[]))`), so a batch is one statement.
 * Rows come back as text, which the same casts read again at the next level.
 */
export function postgresReferencingRows(client: pg.ClientBase): ReferencingRows {
  const match = (t: TableSchema, columns: readonly string[], values: readonly (readonly Value[])[], first = 1) => ({
    sql: `(${columns.map(quoteIdent).join(', ')}) IN (SELECT * FROM unnest(${columns.map((c, i) => `$${first + i}::${typeOf(t, c)}[]`).join(', ')}))`,
    params: columns.map((_, i) => values.map((v) => v[i]!)),
  });
  return {
    param: (t, column, v) => toPg(t.columns.find((c) => c.name === column)!.type, v, t.target, column),
    async find(t, columns, values, returning) {
      const m = match(t, columns, values);
      const { rows } = await client.query({
        text: `SELECT ${returning.map((c) => `${quoteIdent(c)}::text`).join(', ')} FROM ${qualified(t.target)} WHERE ${m.sql} FOR UPDATE`,
        values: m.params,
        rowMode: 'array',
      });
      return rows as Value[][];
    },
    async delete(t, columns, values) {
      const m = match(t, columns, values);
      await client.query(`DELETE FROM ${qualified(t.target)} WHERE ${m.sql}`, m.params);
    },
    async update(t, columns, values, set, to) {
      const m = match(t, columns, values, set.length + 1);
      const assign = set.map((c, i) => `${quoteIdent(c)} = $${i + 1}::${typeOf(t, c)}`).join(', ');
      await client.query(`UPDATE ${qualified(t.target)} SET ${assign} WHERE ${m.sql}`, [...to, ...m.params]);
    },
  };
}

function typeOf(t: TableSchema, column: string): string {
  return columnType(t, t.columns.find((c) => c.name === column)!);
}
