import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Row, Value } from '../../core/change-event.js';
import type { Position } from '../../core/position.js';
import type { TableSchema } from '../../core/schema.js';
import type { RowReader } from '../../core/row-reader.js';
import type { TableReader } from '../../core/snapshot-reader.js';
import { filterSql } from '../../core/filter-sql.js';
import type { FilterValue, RowFilter } from '../../core/transform-rules.js';
import { binlogPosition, masterStatus, type Flavor } from '../../engines/mysql/binlog-position.js';
import { connect } from '../../engines/mysql/connection.js';
import { exactColumn, quoteIdent } from '../../engines/mysql/quoting.js';
import { normalizeValue } from '../../engines/mysql/types.js';

/**
 * Opens a REPEATABLE READ transaction with a consistent snapshot and learns its exact binlog position.
 * MariaDB reports the snapshot's own position (binlog_snapshot_file/position) with no global lock.
 * Oracle MySQL has no such status, so a short FLUSH TABLES WITH READ LOCK pins the position while the
 * snapshot opens, then releases it.
 */
export async function openSnapshotReader(url: string, flavor: Flavor): Promise<TableReader> {
  const conn = await connect(url);
  try {
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const position = flavor === 'mariadb' ? await openMariaDb(conn) : await openMySql(conn);
    return new MysqlTableReader(conn, position);
  } catch (err) {
    await conn.end().catch(() => {});
    throw err;
  }
}

async function openMariaDb(conn: Connection): Promise<Position> {
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  const [rows] = await conn.query<RowDataPacket[]>("SHOW STATUS LIKE 'binlog_snapshot_%'");
  const get = (name: string) => rows.find((r) => String(r.Variable_name).toLowerCase() === name)?.Value;
  return binlogPosition(conn, 'mariadb', String(get('binlog_snapshot_file')), Number(get('binlog_snapshot_position')));
}

async function openMySql(conn: Connection): Promise<Position> {
  await conn.query('FLUSH TABLES WITH READ LOCK');
  try {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const { file, pos } = await masterStatus(conn);
    return binlogPosition(conn, 'mysql', file, pos);
  } finally {
    await conn.query('UNLOCK TABLES');
  }
}

/** `(a > ?) OR (a = ? AND b > ?) …`: keyset pagination an index range scan can serve on any server. */
export function keysetPredicate(keyColumns: readonly string[]): string {
  const terms = keyColumns.map((col, i) => {
    const equal = keyColumns.slice(0, i).map((c) => `${quoteIdent(c)} = ?`);
    return `(${[...equal, `${quoteIdent(col)} > ?`].join(' AND ')})`;
  });
  return terms.join(' OR ');
}

export function keysetArgs(keyColumns: readonly string[], afterKey: Row): Value[] {
  return keyColumns.flatMap((_, i) => keyColumns.slice(0, i + 1).map((c) => afterKey[c] ?? null));
}

/** The keyset page after `afterKey` of the rows meeting `filters`: the SQL and its parameters (key values first, then the filters'). */
export function readChunkSql(table: TableSchema, afterKey: Row | null, limit: number, filters?: readonly RowFilter[]): { sql: string; values: Value[] } {
  const pk = table.primaryKey;
  const cols = table.columns.map((c) => exactColumn(c.name, c.type.kind)).join(', ');
  const from = `${quoteIdent(table.source.schema)}.${quoteIdent(table.source.name)}`;
  const values: Value[] = afterKey ? keysetArgs(pk, afterKey) : [];
  const bind = (v: FilterValue) => {
    values.push(v);
    return '?';
  };
  const terms = [...(afterKey ? [`(${keysetPredicate(pk)})`] : []), ...(filters?.length ? [filterSql(filters, table.columns, quoteIdent, bind)] : [])];
  const where = terms.length > 0 ? `WHERE ${terms.join(' AND ')}` : '';
  return { sql: `SELECT ${cols} FROM ${from} ${where} ORDER BY ${pk.map(quoteIdent).join(', ')} LIMIT ${Number(limit)}`, values };
}

/** The rows whose primary key is one of `keys`: `(a, b) IN ((?, ?), …)`, which MySQL and MariaDB serve from the key's index. */
export function readKeysSql(table: TableSchema, keys: readonly Row[]): { sql: string; values: Value[] } {
  const pk = table.primaryKey;
  const cols = table.columns.map((c) => exactColumn(c.name, c.type.kind)).join(', ');
  const from = `${quoteIdent(table.source.schema)}.${quoteIdent(table.source.name)}`;
  const tuple = `(${pk.map(() => '?').join(', ')})`;
  return {
    sql: `SELECT ${cols} FROM ${from} WHERE (${pk.map(quoteIdent).join(', ')}) IN (${keys.map(() => tuple).join(', ')})`,
    values: keys.flatMap((k) => pk.map((c) => k[c] ?? null)),
  };
}

/** One statement's rows in `table.columns` order, the driver's row arrays converted in place: no object per row. */
async function queryRows(conn: Connection, table: TableSchema, sql: string, values: Value[]): Promise<Value[][]> {
  const [rows] = await conn.query<RowDataPacket[]>({ sql, values, rowsAsArray: true });
  const read = rows as unknown as Value[][];
  const types = table.columns.map((c) => c.type);
  for (const row of read) for (let i = 0; i < types.length; i++) row[i] = normalizeValue(types[i]!, row[i]);
  return read;
}

/** A resync's reads (core/row-reader.ts): autocommit statements, each a consistent read of its own. */
export async function openRowReader(url: string): Promise<RowReader> {
  const conn = await connect(url);
  return {
    readChunk: (table, afterKey, limit) => {
      const { sql, values } = readChunkSql(table, afterKey, limit);
      return queryRows(conn, table, sql, values);
    },
    readKeys: async (table, keys) => {
      if (keys.length === 0) return [];
      const { sql, values } = readKeysSql(table, keys);
      return queryRows(conn, table, sql, values);
    },
    close: () => conn.end().catch(() => {}),
  };
}

class MysqlTableReader implements TableReader {
  readonly #conn: Connection;
  readonly position: Position;

  constructor(conn: Connection, position: Position) {
    this.#conn = conn;
    this.position = position;
  }

  readChunk(table: TableSchema, afterKey: Row | null, limit: number, filters?: readonly RowFilter[]): Promise<Value[][]> {
    const { sql, values } = readChunkSql(table, afterKey, limit, filters);
    return queryRows(this.#conn, table, sql, values);
  }

  async close(): Promise<void> {
    await this.#conn.query('COMMIT').catch(() => {});
    await this.#conn.end().catch(() => {});
  }
}
