import type { Connection, RowDataPacket } from 'mysql2/promise';
import { FERRY_SCHEMA } from '../../core/table-mapping.js';
import { FerryError } from '../../core/errors.js';
import { quoteIdent } from '../../engines/mysql/quoting.js';

/** ferry's heartbeat table on a MySQL source: one row per pipeline, rewritten every beat. Never replicated. */
export const HEARTBEAT_TABLE = { schema: FERRY_SCHEMA, name: 'ferry_heartbeat' } as const;
const QUALIFIED = `${quoteIdent(HEARTBEAT_TABLE.schema)}.${quoteIdent(HEARTBEAT_TABLE.name)}`;

export async function ensureHeartbeatTable(conn: Connection): Promise<void> {
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(HEARTBEAT_TABLE.schema)}`);
    await conn.query(`CREATE TABLE IF NOT EXISTS ${QUALIFIED} (
      pipeline varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
      beat_at datetime(6) NOT NULL,
      marker varchar(200) NULL
    ) ENGINE=InnoDB`);
  } catch (err) {
    throw new FerryError(
      'config',
      `cannot create ferry's heartbeat table ${HEARTBEAT_TABLE.schema}.${HEARTBEAT_TABLE.name} on the source: ${(err as Error).message}`,
      {
        cause: err,
        hint: `GRANT CREATE, INSERT, UPDATE, SELECT ON ${HEARTBEAT_TABLE.schema}.* TO the source user (lag on a quiet source and the cutover's fence marker need it)`,
      },
    );
  }
}

/** Rewrites this pipeline's heartbeat row: a binlog transaction of its own, carrying `marker` when given. */
export async function writeHeartbeat(conn: Connection, pipeline: string, marker: string | undefined): Promise<void> {
  await conn.query(
    `INSERT INTO ${QUALIFIED} (pipeline, beat_at, marker) VALUES (?, UTC_TIMESTAMP(6), ?)
     ON DUPLICATE KEY UPDATE beat_at = VALUES(beat_at), marker = VALUES(marker)`,
    [pipeline, marker ?? null],
  );
}

export async function serverClock(conn: Connection): Promise<Date> {
  const [rows] = await conn.query<RowDataPacket[]>("SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ') AS now");
  return new Date(String(rows[0]!.now));
}

/** The heartbeat row's fields as the binlog gives them (zongji with dateStrings). */
export function heartbeatOf(row: Record<string, unknown>, pipeline: string): { at: Date; marker: string | undefined } | null {
  if (row.pipeline !== pipeline) return null;
  const at = new Date(`${String(row.beat_at).replace(' ', 'T')}Z`);
  return { at, marker: typeof row.marker === 'string' ? row.marker : undefined };
}
