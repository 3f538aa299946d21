import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TableId } from '../../core/change-event.js';
import type { Column, ColumnType, Index, TableSchema } from '../../core/schema.js';
import { targetTableId } from '../../pipeline/table-mapping.js';
import type { Flavor } from './binlog-position.js';
import { columnBackfill, parseColumnType, type TypeOptions } from './mysql-types.js';

const SYSTEM_SCHEMAS = "('mysql','information_schema','performance_schema','sys')";

export interface DescribeOptions extends TypeOptions {
  readonly flavor: Flavor;
  readonly filter: (t: TableId) => boolean;
  readonly targetSchema: string | undefined;
}

/** A table the source has but ferry cannot describe (an unsupported column type), with why. */
export interface UndescribableTable {
  readonly table: TableId;
  readonly error: Error;
}

/**
 * Reads the selected base tables with their columns, primary key and secondary indexes.
 * Tables whose columns ferry cannot map come back in `failed` so `check` can name them all at once.
 */
export async function describeTables(conn: Connection, options: DescribeOptions, only?: TableId): Promise<{ tables: TableSchema[]; failed: UndescribableTable[] }> {
  const where = only ? 'AND t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?' : '';
  const args = only ? [only.schema, only.name] : [];
  const [tableRows] = await conn.query<RowDataPacket[]>(
    `SELECT t.TABLE_SCHEMA AS s, t.TABLE_NAME AS n FROM information_schema.TABLES t
      WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${where}
      ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME`, args);
  const selected = tableRows.map((r) => ({ schema: String(r.s), name: String(r.n) })).filter(options.filter);
  if (selected.length === 0) return { tables: [], failed: [] };

  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, EXTRA AS extra, COLUMN_DEFAULT AS def, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS t WHERE t.TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${where}
      ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, args);
  const [indexRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, INDEX_NAME AS i, NON_UNIQUE AS nonUnique, COLUMN_NAME AS c, SUB_PART AS subPart, INDEX_TYPE AS type
       FROM information_schema.STATISTICS t WHERE t.TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${where}
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, args);

  // MariaDB's JSON is LONGTEXT with a json_valid() column check; that check is how to tell it apart.
  const jsonColumns = new Set<string>();
  if (options.flavor === 'mariadb') {
    const [checks] = await conn.query<RowDataPacket[]>(
      `SELECT CONSTRAINT_SCHEMA AS s, TABLE_NAME AS n, CONSTRAINT_NAME AS c FROM information_schema.CHECK_CONSTRAINTS t
        WHERE LEVEL = 'Column' AND CHECK_CLAUSE = CONCAT('json_valid(\`', CONSTRAINT_NAME, '\`)') ${where.replace(/TABLE_SCHEMA/g, 'CONSTRAINT_SCHEMA')}`, args);
    for (const r of checks) jsonColumns.add(`${String(r.s)}\u0000${String(r.n)}\u0000${String(r.c)}`);
  }
  const key = (s: unknown, n: unknown) => `${String(s)}\u0000${String(n)}`;
  const columns = new Map<string, RowDataPacket[]>();
  for (const r of columnRows) entry(columns, key(r.s, r.n), () => []).push(r);
  const indexes = new Map<string, Map<string, { unique: boolean; columns: string[]; portable: boolean }>>();
  for (const r of indexRows) {
    const idx = entry(entry(indexes, key(r.s, r.n), () => new Map()), String(r.i), () => ({ unique: Number(r.nonUnique) === 0, columns: [], portable: true }));
    if (r.c !== null) idx.columns.push(String(r.c));
    // FULLTEXT/SPATIAL indexes and prefix parts have no plain btree equivalent in the target: left out.
    if (r.c === null || r.subPart !== null || !/^BTREE|HASH$/i.test(String(r.type))) idx.portable = false;
  }

  const tables: TableSchema[] = [];
  const failed: UndescribableTable[] = [];
  for (const t of selected) {
    try {
      const cols: Column[] = (columns.get(key(t.schema, t.name)) ?? []).map((r) => {
        const type: ColumnType = jsonColumns.has(`${key(r.s, r.n)}\u0000${String(r.c)}`) ? { kind: 'json' } : parseColumnType(String(r.type), options);
        const nullable = r.nullable === 'YES';
        return {
          name: String(r.c),
          type,
          sourceType: String(r.type),
          nullable,
          autoIncrement: /auto_increment/i.test(String(r.extra)),
          backfill: columnBackfill(type, nullable, r.def === null ? null : String(r.def), String(r.extra), options.flavor),
          ...(r.collation ? { collation: String(r.collation) } : {}),
        };
      });
      const byName = indexes.get(key(t.schema, t.name)) ?? new Map<string, { unique: boolean; columns: string[]; portable: boolean }>();
      const secondary: Index[] = [...byName.entries()]
        .filter(([name, idx]) => name !== 'PRIMARY' && idx.portable)
        .map(([name, idx]) => ({ name, unique: idx.unique, columns: idx.columns }));
      tables.push({
        engine: 'mysql',
        source: t,
        target: targetTableId(t, options.targetSchema),
        columns: cols,
        primaryKey: byName.get('PRIMARY')?.columns ?? [],
        indexes: secondary,
      });
    } catch (err) {
      failed.push({ table: t, error: err as Error });
    }
  }
  return { tables, failed };
}

function entry<K, V>(map: Map<K, V>, k: K, make: () => V): V {
  let v = map.get(k);
  if (v === undefined) map.set(k, (v = make()));
  return v;
}
