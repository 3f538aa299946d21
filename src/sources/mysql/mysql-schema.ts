import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TableId } from '../../core/change-event.js';
import type { CheckConstraint, Column, ColumnType, ForeignKey, Index, ReferentialAction, TableSchema } from '../../core/schema.js';
import { targetTableId } from '../../core/table-mapping.js';
import type { Flavor } from '../../engines/mysql/binlog-position.js';
import { mysqlCheck } from './mysql-checks.js';
import { columnDefault } from '../../engines/mysql/defaults.js';
import { columnBackfill, parseColumnType, type TypeOptions } from '../../engines/mysql/types.js';

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
export async function describeTables(
  conn: Connection,
  options: DescribeOptions,
  only?: TableId,
): Promise<{ tables: TableSchema[]; failed: UndescribableTable[] }> {
  const where = only ? 'AND t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?' : '';
  const args = only ? [only.schema, only.name] : [];
  const [tableRows] = await conn.query<RowDataPacket[]>(
    `SELECT t.TABLE_SCHEMA AS s, t.TABLE_NAME AS n FROM information_schema.TABLES t
      WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${where}
      ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME`,
    args,
  );
  const selected = tableRows.map((r) => ({ schema: String(r.s), name: String(r.n) })).filter(options.filter);
  if (selected.length === 0) return { tables: [], failed: [] };

  const [columnRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, EXTRA AS extra, COLUMN_DEFAULT AS def, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS t WHERE t.TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${where}
      ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    args,
  );
  const [indexRows] = await conn.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, INDEX_NAME AS i, NON_UNIQUE AS nonUnique, COLUMN_NAME AS c, SUB_PART AS subPart, INDEX_TYPE AS type
       FROM information_schema.STATISTICS t WHERE t.TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${where}
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    args,
  );

  const key = (s: unknown, n: unknown) => `${String(s)}\u0000${String(n)}`;
  const foreignKeys = await readForeignKeys(conn, where, args);
  const checks = await readChecks(conn, options.flavor, where, args);
  // MariaDB's JSON is LONGTEXT with a json_valid() column check; that check is how to tell it apart.
  const jsonColumns = new Set<string>();
  for (const [table, list] of checks) {
    for (const c of list) if (c.column && c.expression === `json_valid(\`${c.column}\`)`) jsonColumns.add(`${table}\u0000${c.column}`);
  }
  const columns = new Map<string, RowDataPacket[]>();
  for (const r of columnRows) entry(columns, key(r.s, r.n), () => []).push(r);
  const indexes = new Map<string, Map<string, { unique: boolean; columns: string[]; portable: boolean }>>();
  for (const r of indexRows) {
    const idx = entry(
      entry(indexes, key(r.s, r.n), () => new Map()),
      String(r.i),
      () => ({ unique: Number(r.nonUnique) === 0, columns: [], portable: true }),
    );
    if (r.c !== null) idx.columns.push(String(r.c));
    // FULLTEXT/SPATIAL indexes and prefix parts have no plain btree equivalent in the target: left out.
    if (r.c === null || r.subPart !== null || !/^BTREE|HASH$/i.test(String(r.type))) idx.portable = false;
  }

  const tables: TableSchema[] = [];
  const failed: UndescribableTable[] = [];
  for (const t of selected) {
    try {
      const cols: Column[] = (columns.get(key(t.schema, t.name)) ?? []).map((r) => {
        const type: ColumnType = jsonColumns.has(`${key(r.s, r.n)}\u0000${String(r.c)}`)
          ? { kind: 'json' }
          : parseColumnType(String(r.type), options, String(r.c));
        const nullable = r.nullable === 'YES';
        return {
          name: String(r.c),
          type,
          sourceType: String(r.type),
          nullable,
          autoIncrement: /auto_increment/i.test(String(r.extra)),
          backfill: columnBackfill(type, nullable, r.def === null ? null : String(r.def), String(r.extra), options.flavor),
          ...(r.collation ? { collation: String(r.collation) } : {}),
          ...optional('default', columnDefault(type, r.def === null ? null : String(r.def), String(r.extra), options.flavor)),
          ...optional('onUpdate', /\bon update (current_timestamp(\(\d*\))?)/i.exec(String(r.extra))?.[1]),
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
        foreignKeys: foreignKeys.get(key(t.schema, t.name)) ?? [],
        checks: (checks.get(key(t.schema, t.name)) ?? []).map(({ name, expression }) => mysqlCheck(name, expression, cols)),
      });
    } catch (err) {
      failed.push({ table: t, error: err as Error });
    }
  }
  return { tables, failed };
}

/** `{ [name]: value }` when the value is there, else nothing: for optional members of readonly objects. */
function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

const ACTIONS: Record<string, ReferentialAction> = {
  CASCADE: 'cascade',
  'SET NULL': 'set null',
  'SET DEFAULT': 'set default',
  RESTRICT: 'restrict',
  'NO ACTION': 'no action',
};

/** Foreign keys of the tables `where` selects, by table (`schema\0table`), their columns in key order. */
async function readForeignKeys(conn: Connection, where: string, args: unknown[]): Promise<Map<string, ForeignKey[]>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT rc.CONSTRAINT_SCHEMA AS s, rc.TABLE_NAME AS n, rc.CONSTRAINT_NAME AS name, rc.UPDATE_RULE AS onUpdate, rc.DELETE_RULE AS onDelete,
            k.COLUMN_NAME AS c, k.REFERENCED_TABLE_SCHEMA AS rs, k.REFERENCED_TABLE_NAME AS rn, k.REFERENCED_COLUMN_NAME AS rc
       FROM information_schema.REFERENTIAL_CONSTRAINTS rc
       JOIN information_schema.KEY_COLUMN_USAGE k
         ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME
      WHERE k.REFERENCED_COLUMN_NAME IS NOT NULL ${where.replace(/t\.TABLE_SCHEMA/g, 'rc.CONSTRAINT_SCHEMA').replace(/t\.TABLE_NAME/g, 'rc.TABLE_NAME')}
      ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    args,
  );
  const byTable = new Map<string, Map<string, { fk: ForeignKey; columns: string[]; referenced: string[] }>>();
  for (const r of rows) {
    const table = `${String(r.s)}\u0000${String(r.n)}`;
    const fk = entry(
      entry(byTable, table, () => new Map()),
      String(r.name),
      () => {
        const columns: string[] = [];
        const referenced: string[] = [];
        return {
          columns,
          referenced,
          fk: {
            name: String(r.name),
            columns,
            references: { schema: String(r.rs), name: String(r.rn) },
            referencedColumns: referenced,
            onDelete: ACTIONS[String(r.onDelete)] ?? 'no action',
            onUpdate: ACTIONS[String(r.onUpdate)] ?? 'no action',
          },
        };
      },
    );
    fk.columns.push(String(r.c));
    fk.referenced.push(String(r.rc));
  }
  return new Map([...byTable].map(([table, fks]) => [table, [...fks.values()].map((f) => f.fk)]));
}

/**
 * CHECK constraints of the tables `where` selects, by table. MariaDB names a column's own check after
 * the column (LEVEL 'Column'); MySQL 8 lists checks per schema, tied to tables by TABLE_CONSTRAINTS.
 */
async function readChecks(conn: Connection, flavor: Flavor, where: string, args: unknown[]): Promise<Map<string, (CheckConstraint & { column?: string })[]>> {
  const filter = where.replace(/t\.TABLE_SCHEMA/g, 'c.CONSTRAINT_SCHEMA').replace(/t\.TABLE_NAME/g, 'c.TABLE_NAME');
  const [rows] = await conn.query<RowDataPacket[]>(
    flavor === 'mariadb'
      ? `SELECT c.CONSTRAINT_SCHEMA AS s, c.TABLE_NAME AS n, c.CONSTRAINT_NAME AS name, c.CHECK_CLAUSE AS expr, c.LEVEL AS level
         FROM information_schema.CHECK_CONSTRAINTS c WHERE c.CONSTRAINT_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${filter}`
      : `SELECT c.CONSTRAINT_SCHEMA AS s, c.TABLE_NAME AS n, c.CONSTRAINT_NAME AS name, k.CHECK_CLAUSE AS expr, 'Table' AS level
         FROM information_schema.TABLE_CONSTRAINTS c
         JOIN information_schema.CHECK_CONSTRAINTS k ON k.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = c.CONSTRAINT_NAME
        WHERE c.CONSTRAINT_TYPE = 'CHECK' AND c.CONSTRAINT_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ${filter}`,
    args,
  );
  const byTable = new Map<string, (CheckConstraint & { column?: string })[]>();
  for (const r of rows) {
    entry(byTable, `${String(r.s)}\u0000${String(r.n)}`, () => []).push({
      name: String(r.name),
      expression: String(r.expr),
      ...(r.level === 'Column' ? { column: String(r.name) } : {}),
    });
  }
  return byTable;
}

function entry<K, V>(map: Map<K, V>, k: K, make: () => V): V {
  let v = map.get(k);
  if (v === undefined) map.set(k, (v = make()));
  return v;
}
