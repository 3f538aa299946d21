import type { PlanTarget } from '../../core/plan-target.js';
import { carriedSchema } from '../../core/schema-fidelity.js';
import type { Column, Engine, TableSchema } from '../../core/schema.js';
import { type Assessment, documented, EXACT, lossy } from '../../core/verdict.js';
import { quoteIdent } from '../../engines/mysql/quoting.js';
import { mysqlTranslations } from './mysql-constraints.js';
import { columnTypeSql, createTableSql, secondaryIndexes, tableCollation } from './mysql-dialect.js';

/** What a MySQL/MariaDB target makes of a source table: what the MySQL sink would create (DESIGN §1.1, ferry plan). */
export const mysqlPlanTarget: PlanTarget = {
  columnType: columnTypeSql,
  createSchemaSql: (schema) => `CREATE DATABASE IF NOT EXISTS ${quoteIdent(schema)}`,
  tableDdl: (t, facts) => [createTableSql(t, tableCollation(t, facts.flavor ?? 'mariadb')), ...secondaryIndexes(t).map((i) => i.sql)],
  // Indexes over text, blob or json columns, which MySQL cannot index without a prefix length.
  indexesLeftOut: (t) => t.indexes.filter((i) => secondaryIndexes({ ...t, indexes: [i] }).length === 0),
  carriedSchema: (t, tables, facts) => carriedSchema(t, mysqlTranslations(tables, facts.flavor ?? 'mariadb')),
  assess: (t, c, targetType) => FROM[t.engine](t, c, targetType),
  naming: (facts) => ({ engine: 'mysql', lowerCaseTableNames: facts.lowerCaseTableNames ?? 0 }),
};

/** How a column of each source engine arrives in MySQL: a new engine does not compile until it says. */
const FROM: { readonly [E in Engine]: (t: TableSchema, c: Column, targetType: string) => Assessment } = {
  mysql: () => EXACT,
  postgres: fromPostgres,
};

/** Postgres's date and timestamp range (4713 BC … 294276 AD, ±infinity) against MySQL's 0001 … 9999. */
const PG_DATES = 'BC dates, years after 9999 and ±infinity have no MySQL value: a row holding one is refused with an error naming the column';

function fromPostgres(t: TableSchema, c: Column, targetType: string): Assessment {
  const type = c.type;
  const isKey = t.primaryKey.includes(c.name);
  switch (type.kind) {
    case 'bool':
      return documented('tinyint(1): false → 0, true → 1');
    case 'decimal': {
      if (type.precision === null)
        return lossy(`${targetType}: values with more than 35 integer digits are refused, more than 30 fractional digits rounded; NaN has no MySQL value`);
      const scale = type.scale ?? 0;
      if (type.precision > 65 || scale > 30) return lossy(`${targetType}: MySQL caps DECIMAL at 65 digits and scale 30; NaN has no MySQL value`);
      return lossy('NaN has no MySQL DECIMAL value');
    }
    case 'float':
    case 'double':
      return lossy('NaN and ±Infinity have no MySQL value');
    case 'date':
      return lossy(PG_DATES);
    case 'datetime':
      return lossy(PG_DATES);
    case 'timestamp':
      return lossy(`UTC wall-clock time; ${PG_DATES}`);
    case 'string':
    case 'binary':
    case 'other': {
      const narrowed = /^(varchar|varbinary)\((\d+)\)$/.exec(targetType);
      const length = type.kind === 'string' ? type.maxLength : type.kind === 'binary' ? type.fixedLength : null;
      if (isKey && narrowed && (length === null || length > Number(narrowed[2]))) {
        return lossy(`primary-key column narrowed to ${targetType} to fit MySQL's 3072-byte index key: longer values are refused`);
      }
      if (type.kind === 'other') return documented(`${targetType}: the Postgres text form of ${c.sourceType}`);
      if (type.kind === 'string' && /^character\(/.test(c.sourceType)) return documented(`${targetType}: char(n) padding arrives as spaces`);
      if (type.kind === 'string' && type.maxLength !== null && targetType === 'longtext') return documented('longtext: the length limit is not kept');
      return EXACT;
    }
    case 'json':
      return documented('json: MySQL normalizes the JSON text (key order, whitespace)');
    case 'uuid':
      return documented('char(36): the canonical text form');
    case 'interval':
      return documented('varchar(100): the Postgres text form, e.g. "1 year 2 mons 3 days 04:05:06.5"');
    case 'inet':
      return documented('varchar(43): the Postgres text form');
    case 'array':
      return documented('json: a JSON array; numbers and booleans as such, the rest as strings');
    case 'bit':
      return type.length > 64 ? { verdict: 'unsupported', note: `MySQL BIT holds at most 64 bits; ${c.sourceType} has ${type.length}` } : EXACT;
    default:
      return EXACT;
  }
}
