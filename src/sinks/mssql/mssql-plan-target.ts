import type { PlanTarget } from '../../core/plan-target.js';
import { carriedSchema } from '../../core/schema-fidelity.js';
import type { Column, Engine, TableSchema } from '../../core/schema.js';
import { type Assessment, documented, EXACT, lossy } from '../../core/verdict.js';
import { DEFAULT_COLLATION } from '../../engines/mssql/naming.js';
import { mssqlTranslations } from './mssql-constraints.js';
import { columnType, createTableSql, indexableColumns, isText, mssqlType, secondaryIndexes, trailingSpacesDiffer } from './mssql-dialect.js';
import { createSchemaSql } from './mssql-tables.js';

/** What a SQL Server target makes of a source table: what the SQL Server sink would create (DESIGN §1.1, ferry plan). */
export const mssqlPlanTarget: PlanTarget = {
  columnType: (t, c) => columnType(c, t),
  createSchemaSql,
  tableDdl: (t) => [createTableSql(t), ...secondaryIndexes(t).map((i) => i.sql)],
  // Indexes over (max) columns or wider than the 1700-byte nonclustered key, which SQL Server could refuse rows for.
  indexesLeftOut: (t) => t.indexes.filter((i) => indexableColumns(t, i.columns) !== null),
  carriedSchema: (t, tables) => carriedSchema(t, mssqlTranslations(tables)),
  assess: (t, c, targetType) => keyCaveat(t, c, targetType) ?? fromEither(c, targetType) ?? FROM[t.engine](c, targetType),
  naming: (facts) => ({ engine: 'mssql', collation: facts.collation ?? DEFAULT_COLLATION }),
};

/** How a column of each source engine arrives in SQL Server: a new engine does not compile until it says. */
const FROM: { readonly [E in Engine]: (c: Column, targetType: string) => Assessment } = {
  mysql: fromMysql,
  postgres: fromPostgres,
};

/**
 * What SQL Server's clustered key does to a text or binary primary-key column: narrowed to fit its
 * 900 bytes, and text compared without trailing spaces (`'a'` and `'a '` are one key there, two in
 * Postgres and under MySQL's NO PAD collations).
 */
function keyCaveat(t: TableSchema, c: Column, targetType: string): Assessment | null {
  if (!t.primaryKey.includes(c.name)) return null;
  const unbounded = mssqlType(c.type);
  if (targetType !== unbounded)
    return lossy(`primary-key column narrowed to ${targetType} to fit SQL Server's 900-byte clustered index key: longer values are refused`);
  if (isText(targetType) && trailingSpacesDiffer(t, c))
    return lossy(`${targetType} key: SQL Server compares text without trailing spaces, so two keys that differ only in them are refused as duplicates`);
  return null;
}

/** What becomes of a BIT and a UUID, from either engine. */
function fromEither(c: Column, targetType: string): Assessment | null {
  if (c.type.kind === 'bit') return documented(targetType === 'bit' ? 'bit: 0 or 1' : `${targetType}: the bits as text of 0 and 1, e.g. 0101`);
  if (c.type.kind === 'uuid') return documented('uniqueidentifier: SQL Server orders it by its own byte groups, not as its text');
  return null;
}

function fromMysql(c: Column, targetType: string): Assessment {
  const type = c.type;
  switch (type.kind) {
    case 'int':
      return type.bytes === 8 && type.unsigned ? documented('decimal(20,0): the whole unsigned range, as a decimal') : EXACT;
    case 'bool':
      return documented('TINYINT(1) as boolean (types.tinyint1): bit, 0 → 0, any other value → 1');
    case 'decimal':
      return (type.precision ?? 0) > 38 ? lossy(`${targetType}: SQL Server's decimal holds 38 digits; values with more are refused`) : EXACT;
    case 'timestamp':
      return documented(`${targetType}: the UTC instant, at offset +00:00`);
    case 'time':
      return lossy(`${targetType}: SQL Server's time spans 00:00:00 … 23:59:59.9999999; MySQL TIME values outside it (negative, 24 hours or more) are refused`);
    case 'year':
      return documented('smallint: YEAR 0000 → 0');
    case 'json':
      return documented(`${targetType} with an ISJSON check: the JSON text as MySQL prints it`);
    case 'enum':
      return documented(`${targetType} with a CHECK of its labels: the value text`);
    case 'set':
      return documented(`${targetType}: the value text, e.g. "b,c" (no check of the labels)`);
    default:
      return EXACT;
  }
}

/** Postgres's date and timestamp range (4713 BC … 294276 AD, ±infinity) against SQL Server's 0001 … 9999. */
const PG_DATES = 'BC dates, years after 9999 and ±infinity have no SQL Server value: a row holding one is refused';

function fromPostgres(c: Column, targetType: string): Assessment {
  const type = c.type;
  switch (type.kind) {
    case 'bool':
      return documented('bit: false → 0, true → 1');
    case 'decimal':
      if (type.precision === null)
        return lossy(
          `${targetType}: values with more than 28 integer digits are refused, more than 10 fractional digits rounded; NaN and ±Infinity have no SQL Server value`,
        );
      if (type.precision > 38 || (type.scale ?? 0) > 38)
        return lossy(`${targetType}: SQL Server caps decimal at 38 digits; NaN and ±Infinity have no SQL Server value`);
      return lossy('NaN and ±Infinity have no SQL Server decimal value');
    case 'float':
    case 'double':
      return lossy('NaN and ±Infinity have no SQL Server value');
    case 'date':
    case 'datetime':
      return lossy(PG_DATES);
    case 'timestamp':
      return lossy(`${targetType}: the UTC instant, at offset +00:00; ${PG_DATES}`);
    case 'time':
      return lossy(`${targetType}: 24:00:00, which Postgres allows, has no SQL Server time value`);
    case 'string':
      return /^character\(/.test(c.sourceType) ? documented(`${targetType}: char(n) padding arrives as spaces`) : EXACT;
    case 'other':
      return documented(`${targetType}: the Postgres text form of ${c.sourceType}`);
    case 'json':
      return documented(`${targetType} with an ISJSON check: the JSON text as Postgres prints it (jsonb: key order and whitespace normalized)`);
    case 'array':
      return documented(`${targetType}: a JSON array; numbers and booleans as such, the rest as strings`);
    case 'enum':
      return documented(`${targetType} with a CHECK of its labels`);
    case 'interval':
      return documented(`${targetType}: the Postgres text form, e.g. "1 year 2 mons 3 days 04:05:06.5"`);
    case 'inet':
      return documented(`${targetType}: the Postgres text form`);
    default:
      return EXACT;
  }
}
