import type { PlanTarget } from '../../core/plan-target.js';
import { carriedSchema } from '../../core/schema-fidelity.js';
import type { Column, Engine } from '../../core/schema.js';
import { type Assessment, documented, EXACT } from '../../core/verdict.js';
import { quoteIdent } from '../../engines/postgres/quoting.js';
import { postgresTranslations } from './postgres-constraints.js';
import { columnType, createEnumSql, createIndexSql, createPartitionedTableSql, createTableSql, enumTypes } from './postgres-dialect.js';

/** What a Postgres target makes of a source table: what the Postgres sink would create (DESIGN §1.1, ferry plan). */
export const postgresPlanTarget: PlanTarget = {
  columnType,
  createSchemaSql: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
  tableDdl: (t, facts) => {
    const enums = enumTypes(t)
      .filter((e) => facts.missingEnums.has(e.name))
      .flatMap((e) => createEnumSql(e.name, e.labels));
    const table = t.engine === 'postgres' && t.partitioning ? createPartitionedTableSql(t, t.partitioning) : [createTableSql(t)];
    return [...enums, ...table, ...createIndexSql(t)];
  },
  indexesLeftOut: () => [],
  carriedSchema: (t, tables) => carriedSchema(t, postgresTranslations(tables)),
  assess: (t, c) => FROM[t.engine](c),
  naming: () => ({ engine: 'postgres' }),
};

/** How a column of each source engine arrives in Postgres: a new engine does not compile until it says. */
const FROM: { readonly [E in Engine]: (c: Column) => Assessment } = {
  postgres: () => EXACT,
  mysql: fromMysql,
};

function fromMysql(c: Column): Assessment {
  const type = c.type;
  switch (type.kind) {
    case 'int':
      return type.bytes === 8 && type.unsigned ? documented('numeric(20,0): the whole unsigned range, as a numeric') : EXACT;
    case 'bool':
      return documented('TINYINT(1) as boolean (types.tinyint1): 0 → false, any other value → true');
    case 'time':
      return documented('interval: TIME spans -838:59:59 … 838:59:59, which Postgres time cannot hold');
    case 'year':
      return documented('smallint: YEAR 0000 → 0');
    case 'json':
      return documented('jsonb: key order and whitespace are normalized, a duplicate key keeps its last value');
    case 'enum':
    case 'set':
      return documented('text: the value text (a SET as "b,c")');
    default:
      return EXACT;
  }
}
