import type { TableId, Value } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import { qualified, quoteIdent } from '../../engines/mssql/quoting.js';
import type { ReferencingRows } from '../referential-actions.js';
import { asColumnType, type TargetColumn, textForm, wireOf } from './mssql-columns.js';
import type { MssqlDriver } from './mssql-driver.js';
import type { MssqlSession } from './mssql-session.js';
import type { Parameterized } from './mssql-statements.js';
import { toWire } from './mssql-values.js';

/** At most this many parameters a statement (SQL Server takes 2,100 a request). */
const MAX_PARAMS = 2000;

/**
 * Rows whose `columns` equal one of `count` tuples of parameters from `first` (tuple by tuple, in
 * `columns` order): `[a] IN (@p1, @p2)` for one column, `([a] = @p1 AND [b] = @p2) OR (…)` for more,
 * which T-SQL's IN cannot take.
 */
export function matchAny(columns: readonly TargetColumn[], count: number, first = 1): string {
  const param = (tuple: number, j: number) => asColumnType(columns[j]!, `@p${first + tuple * columns.length + j}`);
  if (columns.length === 1) return `${quoteIdent(columns[0]!.name)} IN (${Array.from({ length: count }, (_, i) => param(i, 0)).join(', ')})`;
  return Array.from({ length: count }, (_, i) => `(${columns.map((c, j) => `${quoteIdent(c.name)} = ${param(i, j)}`).join(' AND ')})`).join(' OR ');
}

/** The matching rows' `returning` columns in their text forms, update-locked until the transaction ends. */
export function findSql(t: TableId, columns: readonly TargetColumn[], count: number, returning: readonly TargetColumn[]): string {
  const select = returning.map((c) => textForm(c, quoteIdent(c.name))).join(', ');
  return `SELECT ${select} FROM ${qualified(t)} WITH (UPDLOCK, ROWLOCK) WHERE ${matchAny(columns, count)}`;
}

export function deleteMatchingSql(t: TableId, columns: readonly TargetColumn[], count: number): string {
  return `DELETE FROM ${qualified(t)} WHERE ${matchAny(columns, count)}`;
}

/** Sets `set` to parameters `@p1…` (NULL where `to` is null, no parameter), then matches from the next parameter. */
export function updateMatchingSql(
  t: TableId,
  columns: readonly TargetColumn[],
  count: number,
  set: readonly TargetColumn[],
  to: readonly Value[],
): Parameterized {
  const params: { column: TargetColumn; value: unknown }[] = [];
  const assign = set.map((c, i) => {
    if (to[i] === null) return `${quoteIdent(c.name)} = NULL`;
    params.push({ column: c, value: to[i] });
    return `${quoteIdent(c.name)} = ${asColumnType(c, `@p${params.length}`)}`;
  });
  return { sql: `UPDATE ${qualified(t)} SET ${assign.join(', ')} WHERE ${matchAny(columns, count, params.length + 1)}`, params };
}

/**
 * Referential actions' statements on a SQL Server target, batched under the parameter limit. Values
 * stay canonical (what `param` gets, or the text forms `find` reads back) and become each column's
 * wire in the statement, as every other write's do.
 */
export function mssqlReferencingRows(c: MssqlSession, driver: MssqlDriver): ReferencingRows {
  const described = async (t: TableSchema, names: readonly string[]) => {
    const columns = await driver.columns(c, t);
    return names.map((n) => columns[t.columns.findIndex((col) => col.name === n)]!);
  };
  /** A column's canonical value as its wire's parameter. */
  const wire = (t: TableSchema, column: TargetColumn, v: Value) =>
    toWire(wireOf(column), t.columns.find((col) => col.name === column.name)!.type, v, t.target, column.name);
  const run = (t: TableSchema, statement: Parameterized, arrayRows = false) =>
    driver.execute(
      c,
      { sql: statement.sql, params: statement.params.map((p) => ({ column: p.column, value: wire(t, p.column, p.value as Value) })) },
      arrayRows,
    );
  /** `values` in batches that keep each statement under MAX_PARAMS, with the parameters of `matching` (tuples in order). */
  const batches = (columns: readonly TargetColumn[], values: readonly (readonly Value[])[], reserved = 0) => {
    const size = Math.max(1, Math.floor((MAX_PARAMS - reserved) / columns.length));
    const out: { count: number; params: { column: TargetColumn; value: unknown }[] }[] = [];
    for (let i = 0; i < values.length; i += size) {
      const part = values.slice(i, i + size);
      out.push({ count: part.length, params: part.flatMap((tuple) => columns.map((column, j) => ({ column, value: tuple[j] ?? null }))) });
    }
    return out;
  };
  return {
    param: (_t, _column, v) => v,
    async find(t, names, values, returning) {
      const columns = await described(t, names);
      const back = await described(t, returning);
      const rows: Value[][] = [];
      for (const b of batches(columns, values)) {
        const result = await run(t, { sql: findSql(t.target, columns, b.count, back), params: b.params }, true);
        rows.push(...((result.recordset ?? []) as unknown as Value[][]));
      }
      return rows;
    },
    async delete(t, names, values) {
      const columns = await described(t, names);
      for (const b of batches(columns, values)) await run(t, { sql: deleteMatchingSql(t.target, columns, b.count), params: b.params });
    },
    async update(t, names, values, setNames, to) {
      const columns = await described(t, names);
      const set = await described(t, setNames);
      for (const b of batches(columns, values, set.length)) {
        const statement = updateMatchingSql(t.target, columns, b.count, set, to);
        await run(t, { sql: statement.sql, params: [...statement.params, ...b.params] });
      }
    },
  };
}
