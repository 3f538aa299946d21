import type pg from 'pg';
import type { Partitioning, TableSchema } from '../../core/schema.js';
import { DDL_LOCK_SQL } from '../../engines/postgres/ddl-lock.js';
import { qualified, quoteIdent } from '../../engines/postgres/quoting.js';
import { columnDrift, settleDrift } from '../column-drift.js';
import type { TargetTables } from '../target-tables.js';
import { addColumnSql, columnType, createEnumSql, createPartitionedTableSql, createTableSql, enumTypes } from './postgres-dialect.js';
import { postgresHolds } from './postgres-widening.js';

/** Target tables on Postgres: schemas, enum types and partitions as the source has them. */
export const postgresTables: TargetTables<pg.ClientBase> = {
  createSchemaSql: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,

  async lockDdl(client) {
    await client.query(DDL_LOCK_SQL);
  },

  async exists(client, t) {
    const { rows } = await client.query('SELECT to_regclass($1) AS oid', [qualified(t.target)]);
    return Boolean(rows[0]?.oid);
  },

  async create(client, t, replace, keyLater) {
    if (replace) await client.query(`DROP TABLE IF EXISTS ${qualified(t.target)} CASCADE`);
    await createEnumTypes(client, t);
    if (t.engine === 'postgres' && t.partitioning) await createPartitionedTable(client, t, t.partitioning);
    else await client.query(createTableSql(t, keyLater));
  },

  truncateSql: (t) => `TRUNCATE ${qualified(t.target)}`,

  async reconcileColumns(client, t, addMissing, keyLater) {
    // With an empty search_path format_type qualifies user types (public.mood), as the source describes them.
    await client.query("SELECT set_config('search_path', '', true)");
    const { rows } = await client.query(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
      [qualified(t.target)],
    );
    await client.query("SELECT set_config('search_path', '\"$user\", public', true)");
    const { rows: key } = await client.query(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary`,
      [qualified(t.target)],
    );
    const drift = columnDrift(
      t,
      new Map(rows.map((r) => [r.name, r.type])),
      key.map((r) => r.name),
      (c) => columnType(t, c),
      postgresHolds,
      keyLater,
    );
    await settleDrift(t, drift, addMissing, async (c) => {
      for (const sql of addColumnSql(t, c)) await client.query(sql);
    });
  },
};

/** Enum types a Postgres-to-Postgres table uses, created with the source's labels when the target lacks them. */
async function createEnumTypes(client: pg.ClientBase, t: TableSchema): Promise<void> {
  for (const e of enumTypes(t)) {
    const { rows } = await client.query('SELECT to_regtype($1) AS oid', [e.name]);
    if (!rows[0]?.oid) for (const sql of createEnumSql(e.name, e.labels)) await client.query(sql);
  }
}

/**
 * A source's partitioned table, partitioned alike: also the partitions the source added since the
 * target table was made. A plain table made earlier (by the operator, or a ferry that flattened it)
 * stays as it is: it holds all the rows just as well.
 */
async function createPartitionedTable(client: pg.ClientBase, t: TableSchema, p: Partitioning): Promise<void> {
  const [table, ...partitions] = createPartitionedTableSql(t, p);
  await client.query(table!);
  const { rows } = await client.query('SELECT relkind FROM pg_class WHERE oid = to_regclass($1)', [qualified(t.target)]);
  if (rows[0]?.relkind === 'p') for (const sql of partitions) await client.query(sql);
}
