import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Position } from '../../core/position.js';

export type Flavor = 'mariadb' | 'mysql';

export async function serverFlavor(conn: Connection): Promise<Flavor> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0]?.v)) ? 'mariadb' : 'mysql';
}

/**
 * A binlog file/offset, with its MariaDB GTID position when the server has one.
 * An empty GTID position is left out: resuming from '' would mean "from the oldest binlog".
 */
export async function binlogPosition(conn: Connection, flavor: Flavor, file: string, pos: number): Promise<Position> {
  if (flavor === 'mariadb') {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, ?) AS gtid', [file, pos]);
    const gtid = rows[0]?.gtid;
    if (typeof gtid === 'string' && gtid !== '') return { kind: 'mysql', file, pos, gtid };
  }
  return { kind: 'mysql', file, pos };
}

/** The binlog's current file and offset (MySQL 8.4 renamed the statement). */
export async function masterStatus(conn: Connection): Promise<{ file: string; pos: number }> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS').catch(() => conn.query<RowDataPacket[]>('SHOW BINARY LOG STATUS'));
  const row = rows[0];
  if (!row) throw new Error('the server has binary logging off (SHOW MASTER STATUS is empty)');
  return { file: String(row.File), pos: Number(row.Position) };
}

/** The end of the binlog now. */
export async function headPosition(conn: Connection, flavor: Flavor): Promise<Position> {
  const { file, pos } = await masterStatus(conn);
  return binlogPosition(conn, flavor, file, pos);
}
