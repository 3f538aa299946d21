import type pg from 'pg';
import { FERRY_APPLICATION_NAME } from './pg-connection.js';
import { FerryError } from '../../errors.js';

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
    await client.query(`ALTER DATABASE ${db[0].name as string} SET default_transaction_read_only = on`);
    if (cancelled()) throw new FerryError('config', 'the fence was lifted while it was being put up');
    const { sql, values } = otherSessions();
    const { rows } = await client.query(sql, values);
    return Number(rows[0].n);
  } finally {
    await client.query('RESET statement_timeout');
  }
}

/** Lifts the fence; sessions that connected while it stood (read-only by default) are ended, so they come back writable. */
export async function unfenceDatabase(client: pg.ClientBase, fencedAt: Date | null): Promise<void> {
  const { rows: db } = await client.query('SELECT quote_ident(current_database()) AS name');
  await client.query(`ALTER DATABASE ${db[0].name as string} RESET default_transaction_read_only`);
  if (fencedAt) {
    const { sql, values } = otherSessions(fencedAt);
    await client.query(sql, values);
  }
}
