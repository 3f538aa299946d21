import { quoteIdent as mssqlIdent } from '../../src/engines/mssql/quoting.js';
import { quoteIdent as mysqlIdent } from '../../src/engines/mysql/quoting.js';
import { quoteIdent as postgresIdent } from '../../src/engines/postgres/quoting.js';
import type { Endpoint, TargetEngine } from './routes.js';

/** Each engine's identifiers quoted as ferry quotes them: one test query reads the same table on every engine. */
const QUOTE: Readonly<Record<TargetEngine, (name: string) => string>> = { mysql: mysqlIdent, postgres: postgresIdent, mssql: mssqlIdent };

/** `schema.table`, quoted for `engine`. */
export function tableName(engine: TargetEngine, schema: string, table: string): string {
  return `${QUOTE[engine](schema)}.${QUOTE[engine](table)}`;
}

/**
 * A column as the server prints it: decimals keep their scale ('1.50'), which the SQL Server driver
 * would otherwise hand over as a JavaScript number ('1.5'). nvarchar(max) there, so no length cuts it.
 */
function asText(engine: TargetEngine, column: string): string {
  const c = `t.${QUOTE[engine](column)}`;
  if (engine === 'mysql') return `CAST(${c} AS CHAR)`;
  if (engine === 'postgres') return `${c}::text`;
  return `CONVERT(nvarchar(max), ${c})`;
}

/**
 * Every row of `schema.table` ordered by `key` (default the first column), `columns` as text and NULL
 * as null, on any engine. The key is ordered through the table's alias: the select list's text
 * aliases of the same names would otherwise order '20' before '3'.
 */
export async function rowsAsText(
  end: Endpoint<TargetEngine>,
  schema: string,
  table: string,
  columns: readonly string[],
  key: readonly string[] = columns.slice(0, 1),
): Promise<Record<string, string | null>[]> {
  const q = QUOTE[end.engine];
  const select = columns.map((c) => `${asText(end.engine, c)} AS ${q(c)}`).join(', ');
  const rows = await end.query(`SELECT ${select} FROM ${tableName(end.engine, schema, table)} t ORDER BY ${key.map((k) => `t.${q(k)}`).join(', ')}`);
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] === null || r[c] === undefined ? null : String(r[c])])));
}
