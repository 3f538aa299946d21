import type { Connection, RowDataPacket } from 'mysql2/promise';
import { FerryError } from '../../errors.js';
import { writeHeartbeat } from './mysql-heartbeat.js';

/**
 * The cutover fence: read_only stops every account without SUPER / READ ONLY ADMIN (the server waits
 * for open transactions to end first). ferry, which set it, still writes the marker; then
 * super_read_only, where the server has it (MySQL), stops the rest too.
 */
export async function fenceServer(conn: Connection, pipeline: string, marker: string, timeoutSeconds: number, cancelled: () => boolean): Promise<void> {
  // SET GLOBAL read_only waits for open transactions, holding new ones back meanwhile: never past the cutover's deadline.
  const seconds = Math.max(1, Math.ceil(timeoutSeconds));
  const step = async (sql: string) => {
    if (cancelled()) throw new FerryError('config', 'the fence was lifted while it was being put up');
    await conn.query(sql);
  };
  await step(`SET SESSION lock_wait_timeout = ${seconds}, innodb_lock_wait_timeout = ${seconds}`);
  await step('SET GLOBAL read_only = ON');
  if (cancelled()) throw new FerryError('config', 'the fence was lifted while it was being put up');
  await writeHeartbeat(conn, pipeline, marker);
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL VARIABLES LIKE 'super_read_only'");
  if (rows.length > 0) await step('SET GLOBAL super_read_only = ON');
}

/** Lifts the fence (read_only OFF also turns super_read_only off). */
export async function unfenceServer(conn: Connection): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL VARIABLES LIKE 'super_read_only'");
  if (rows.length > 0) await conn.query('SET GLOBAL super_read_only = OFF');
  await conn.query('SET GLOBAL read_only = OFF');
}
