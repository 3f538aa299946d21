import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Row, Value } from '../../core/change-event.js';
import type { Position } from '../../core/position.js';
import type { TableSchema } from '../../core/schema.js';
import type { TableReader } from '../../core/snapshot-reader.js';
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

class MysqlTableReader implements TableReader {
  readonly #conn: Connection;
  readonly position: Position;

  constructor(conn: Connection, position: Position) {
    this.#conn = conn;
    this.position = position;
  }

  async readChunk(table: TableSchema, afterKey: Row | null, limit: number): Promise<Value[][]> {
    const pk = table.primaryKey;
    const cols = table.columns.map((c) => exactColumn(c.name, c.type.kind)).join(', ');
    const from = `${quoteIdent(table.source.schema)}.${quoteIdent(table.source.name)}`;
    const where = afterKey ? `WHERE ${keysetPredicate(pk)}` : '';
    const order = pk.map(quoteIdent).join(', ');
    const [rows] = await this.#conn.query<RowDataPacket[]>({
      sql: `SELECT ${cols} FROM ${from} ${where} ORDER BY ${order} LIMIT ${Number(limit)}`,
      values: afterKey ? keysetArgs(pk, afterKey) : [],
      rowsAsArray: true,
    });
    // The driver's row arrays, converted in place: no object per row.
    const values = rows as unknown as Value[][];
    const types = table.columns.map((c) => c.type);
    for (const row of values) for (let i = 0; i < types.length; i++) row[i] = normalizeValue(types[i]!, row[i]);
    return values;
  }

  async close(): Promise<void> {
    await this.#conn.query('COMMIT').catch(() => {});
    await this.#conn.end().catch(() => {});
  }
}
