import type pg from 'pg';
import { MESSAGE_PREFIX } from '../../engines/postgres/connection.js';

/**
 * ferry's heartbeat: a transactional logical message, so the stream carries a commit even when no
 * replicated table changes (lag stays honest, the slot advances). With a marker, the cutover's fence.
 */
export async function writeMessage(client: pg.ClientBase, marker: string | undefined): Promise<void> {
  await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [MESSAGE_PREFIX, JSON.stringify(marker ? { marker } : { heartbeat: true })]);
}

export async function serverClock(client: pg.ClientBase): Promise<Date> {
  const { rows } = await client.query('SELECT to_char(clock_timestamp() AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') AS now');
  return new Date(rows[0].now as string);
}
