import type { Connection, RowDataPacket } from 'mysql2/promise';
import { FerryError } from '../../core/errors.js';
import type { Flavor } from '../../engines/mysql/binlog-position.js';
import { writeHeartbeat } from './mysql-heartbeat.js';

/** The privileges the fence needs: to set read_only, and (MySQL) to write the marker once it is on. */
export function fencePrivileges(flavor: Flavor): string {
  return flavor === 'mariadb' ? 'READ_ONLY ADMIN' : 'SYSTEM_VARIABLES_ADMIN, CONNECTION_ADMIN';
}

/** What to do when the source user may not fence: the GRANT, or a cutover without ferry's fence. */
export async function fenceFix(conn: Connection, flavor: Flavor): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
  const user = String(rows[0]?.u ?? '<user>@<host>');
  const at = user.lastIndexOf('@');
  return `as an admin: GRANT ${fencePrivileges(flavor)} ON *.* TO '${user.slice(0, at)}'@'${user.slice(at + 1)}'; or stop the application's writes yourself and cut over with {"fence": "none"}`;
}

/** The server refuses application writes now (read_only, or MySQL's super_read_only). */
export async function serverReadOnly(conn: Connection): Promise<{ readOnly: boolean; superReadOnly: boolean }> {
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only')");
  const on = (name: string) => rows.some((r) => r.Variable_name === name && String(r.Value).toUpperCase() === 'ON');
  return { readOnly: on('read_only'), superReadOnly: on('super_read_only') };
}

/** ER_SPECIFIC_ACCESS_DENIED_ERROR: "you need (at least one of) the … privilege(s)". */
const ACCESS_DENIED = 1227;

/**
 * The cutover fence: read_only stops every account without SUPER / READ ONLY ADMIN (the server waits
 * for open transactions to end first). ferry, which set it, still writes the marker; then
 * super_read_only, where the server has it (MySQL), stops the rest too.
 */
export async function fenceServer(
  conn: Connection,
  flavor: Flavor,
  pipeline: string,
  marker: string,
  timeoutSeconds: number,
  cancelled: () => boolean,
): Promise<void> {
  // SET GLOBAL read_only waits for open transactions, holding new ones back meanwhile: never past the cutover's deadline.
  const seconds = Math.max(1, Math.ceil(timeoutSeconds));
  const step = async (sql: string) => {
    if (cancelled()) throw new FerryError('config', 'the fence was lifted while it was being put up');
    await conn.query(sql);
  };
  await step(`SET SESSION lock_wait_timeout = ${seconds}, innodb_lock_wait_timeout = ${seconds}`);
  try {
    await step('SET GLOBAL read_only = ON');
  } catch (err) {
    if ((err as { errno?: number }).errno !== ACCESS_DENIED) throw err;
    // The cutover's reason carries messages only: the fix goes into the message.
    const fix = await fenceFix(conn, flavor);
    throw new FerryError('config', `the fence failed, read_only was not set: the source user may not set it (${(err as Error).message}); ${fix}`, {
      cause: err,
      hint: fix,
    });
  }
  if (cancelled()) throw new FerryError('config', 'the fence was lifted while it was being put up');
  await writeHeartbeat(conn, pipeline, marker);
  const [rows] = await conn.query<RowDataPacket[]>("SHOW GLOBAL VARIABLES LIKE 'super_read_only'");
  if (rows.length > 0) await step('SET GLOBAL super_read_only = ON');
}

/** Lifts the fence (read_only OFF also turns super_read_only off); false when none was up, and nothing is done. */
export async function unfenceServer(conn: Connection): Promise<boolean> {
  const { readOnly, superReadOnly } = await serverReadOnly(conn);
  if (!readOnly && !superReadOnly) return false;
  if (superReadOnly) await conn.query('SET GLOBAL super_read_only = OFF');
  await conn.query('SET GLOBAL read_only = OFF');
  return true;
}
