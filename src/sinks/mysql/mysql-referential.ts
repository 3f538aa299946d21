import type { Connection } from 'mysql2/promise';
import type { Value } from '../../core/change-event.js';
import type { ReferencingRows } from '../referential-actions.js';
import { toMysql } from './mysql-dialect.js';
import { qualified, quoteIdent } from '../../engines/mysql/quoting.js';

/**
 * Referential actions' statements on a MySQL target: rows matched by `(a, b) IN ((?, ?), …)`, one
 * statement a batch. Rows come back in the driver's forms (dates and big numbers as strings,
 * binary as Buffers), which MySQL takes again as parameters.
 */
export function mysqlReferencingRows(conn: Connection): ReferencingRows {
  const match = (columns: readonly string[], values: readonly (readonly Value[])[]) =>
    columns.length === 1
      ? { sql: `${quoteIdent(columns[0]!)} IN (?)`, params: [values.map((v) => v[0]!)] }
      : { sql: `(${columns.map(quoteIdent).join(', ')}) IN (?)`, params: [values.map((v) => [...v])] };
  return {
    param: (t, column, v) => toMysql(t.columns.find((c) => c.name === column)!.type, v, t.target, column),
    async find(t, columns, values, returning) {
      const m = match(columns, values);
      const [rows] = await conn.query({
        sql: `SELECT ${returning.map(quoteIdent).join(', ')} FROM ${qualified(t.target)} WHERE ${m.sql} FOR UPDATE`,
        values: m.params,
        rowsAsArray: true,
      });
      return rows as Value[][];
    },
    async delete(t, columns, values) {
      const m = match(columns, values);
      await conn.query(`DELETE FROM ${qualified(t.target)} WHERE ${m.sql}`, m.params);
    },
    async update(t, columns, values, set, to) {
      const m = match(columns, values);
      // InnoDB's own cascades leave ON UPDATE CURRENT_TIMESTAMP columns as they are; an UPDATE would set them, unless told they keep their value.
      const keep = t.columns
        .filter((c) => c.onUpdate && !set.includes(c.name))
        .map((c) => `, ${quoteIdent(c.name)} = ${quoteIdent(c.name)}`)
        .join('');
      await conn.query(`UPDATE ${qualified(t.target)} SET ${set.map((c) => `${quoteIdent(c)} = ?`).join(', ')}${keep} WHERE ${m.sql}`, [...to, ...m.params]);
    },
  };
}
