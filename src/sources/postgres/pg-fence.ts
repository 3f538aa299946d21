import type pg from 'pg';
import { FERRY_APPLICATION_NAME } from '../../engines/postgres/connection.js';
import { FerryError } from '../../core/errors.js';

/** SQLSTATE of "must be owner of database …". */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Ends every client session of this database but ferry's own (and with `since`, only those that
 * started after it), waiting up to 5 s for each to be gone, so none commits after the fence marker.
 */
function otherSessions(since?: Date): { sql: string; values: unknown[] } {
  return {
    sql: `SELECT count(pg_terminate_backend(pid, 5000)) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
             AND application_name <> $1${since ? ' AND backend_start >= $2' : ''}`,
    values: since ? [FERRY_APPLICATION_NAME, since] : [FERRY_APPLICATION_NAME],
  };
}

/**
 * The cutover fence: new sessions of the database start read-only, and every open session but
 * ferry's is ended (their open transactions roll back), so none keeps writing under its old setting.
 * Clients that reconnect come back read-only. Needs the database's owner (ALTER DATABASE) and
 * pg_signal_backend (or superuser) to end other users' sessions.
 */
export async function fenceDatabase(client: pg.ClientBase, timeoutSeconds: number, cancelled: () => boolean): Promise<number> {
  const { rows: db } = await client.query('SELECT quote_ident(current_database()) AS name');
  // Never past the cutover's deadline, whatever holds a lock.
  await client.query(`SET statement_timeout = ${Math.max(1000, Math.ceil(timeoutSeconds * 1000))}`);
  try {
    await client
      .query(`ALTER DATABASE ${db[0].name as string} SET default_transaction_read_only = on`)
      .catch(async (err: { code?: string; message: string }) => {
        if (err.code !== INSUFFICIENT_PRIVILEGE) throw err;
        const {
          rows: [u],
        } = await client.query('SELECT quote_ident(current_user) AS name');
        // The cutover's reason carries messages only: the fix goes into the message.
        throw new FerryError(
          'config',
          `the fence failed, default_transaction_read_only was not set: the source user may not alter the database (${err.message}); as an admin: ALTER DATABASE ${db[0].name as string} OWNER TO ${u.name as string}; or stop the application's writes yourself and cut over with {"fence": "none"}`,
          { cause: err },
        );
      });
    if (cancelled()) throw new FerryError('config', 'the fence was lifted while it was being put up');
    const { sql, values } = otherSessions();
    const { rows } = await client.query(sql, values);
    return Number(rows[0].n);
  } finally {
    await client.query('RESET statement_timeout');
  }
}

/** The database's new sessions start read-only: a fence (ferry's, or one left behind) is up. */
export async function databaseFenced(client: pg.ClientBase): Promise<boolean> {
  const {
    rows: [r],
  } = await client.query(
    `SELECT EXISTS (SELECT 1 FROM pg_db_role_setting d JOIN pg_database db ON db.oid = d.setdatabase
                     WHERE db.datname = current_database() AND d.setrole = 0
                       AND 'default_transaction_read_only=on' = ANY (d.setconfig)) AS fenced`,
  );
  return r.fenced as boolean;
}

/**
 * Lifts the fence; sessions that connected while it stood (read-only by default) are ended, so they
 * come back writable. Resolves false when none was up; then sessions are ended only when an earlier
 * call lifted it (`liftedBefore`): one still starting up then was not yet listed. A fence that never
 * went up leaves the sessions be.
 */
export async function unfenceDatabase(client: pg.ClientBase, fencedAt: Date | null, liftedBefore: boolean): Promise<boolean> {
  const up = await databaseFenced(client);
  if (up) {
    const { rows: db } = await client.query('SELECT quote_ident(current_database()) AS name');
    await client.query(`ALTER DATABASE ${db[0].name as string} RESET default_transaction_read_only`);
  }
  if (fencedAt && (up || liftedBefore)) {
    const { sql, values } = otherSessions(fencedAt);
    await client.query(sql, values);
  }
  return up;
}
