import type { Connection, Pool, RowDataPacket } from 'mysql2/promise';
import type { Checkpoint, SnapshotProgress } from '../core/checkpoint.js';
import { positionFromJson, positionToJson } from '../core/position.js';
import { FERRY_SCHEMA } from '../core/table-mapping.js';
import { checkpointFromText, decodeKey, encodeHolds, encodeKey } from '../core/checkpoint-codec.js';
import {
  DEAD_LETTER_COLUMNS,
  deadLetterValues,
  letterKey,
  storedLetter,
  storedLetterColumns,
  type DeadLetter,
  type LetterKey,
  type StoredDeadLetter,
} from '../core/dead-letter.js';
import { takenOver } from './pipeline-ownership.js';
import { noneWhenMissing, type CheckpointStore } from '../core/checkpoint-store.js';

/**
 * ferry's checkpoint kept in a MySQL/MariaDB target, in its own database. Writers take the caller's
 * connection so the checkpoint commits in the same transaction as the data it describes (DESIGN §3.2).
 */
const CHECKPOINT = `${FERRY_SCHEMA}.ferry_checkpoint`;
const PROGRESS = `${FERRY_SCHEMA}.ferry_snapshot_progress`;
const OFFSETS = `${FERRY_SCHEMA}.ferry_kafka_offsets`;
const DEAD_LETTERS = `${FERRY_SCHEMA}.ferry_dead_letters`;

type Queryable = Pick<Connection, 'query'> | Pool;

export async function ensureMysqlCheckpointTables(conn: Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${FERRY_SCHEMA}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${CHECKPOINT} (
    pipeline varchar(100) NOT NULL PRIMARY KEY, phase varchar(16) NOT NULL, position longtext NULL, tables longtext NULL,
    owner varchar(36) NULL, overlap_end longtext NULL, holds longtext NULL, updated_at datetime(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  // Columns later versions added, for tables an earlier one created (altered only when missing; a
  // process starting alongside may have added it first: duplicate column name).
  const [columns] = await conn.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${FERRY_SCHEMA}' AND TABLE_NAME = 'ferry_checkpoint'`,
  );
  for (const [column, after] of [
    ['overlap_end', 'owner'],
    ['holds', 'overlap_end'],
  ]) {
    if (columns.some((c) => c.name === column)) continue;
    await conn.query(`ALTER TABLE ${CHECKPOINT} ADD COLUMN ${column} longtext NULL AFTER ${after}`).catch((err: { errno?: number }) => {
      if (err.errno !== 1060) throw err;
    });
  }
  await conn.query(`CREATE TABLE IF NOT EXISTS ${PROGRESS} (
    pipeline varchar(100) NOT NULL, table_name varchar(400) NOT NULL, last_key longtext NULL, row_count bigint NOT NULL,
    done tinyint(1) NOT NULL, position longtext NOT NULL, updated_at datetime(6) NOT NULL,
    PRIMARY KEY (pipeline, table_name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${OFFSETS} (
    pipeline varchar(100) NOT NULL, topic varchar(249) NOT NULL, \`partition\` int NOT NULL, next_offset bigint NOT NULL,
    updated_at datetime(6) NOT NULL, PRIMARY KEY (pipeline, topic, \`partition\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${DEAD_LETTERS} (
    id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, letter_id char(64) NOT NULL UNIQUE, pipeline varchar(100) NOT NULL,
    table_name varchar(400) NOT NULL, row_key longtext NOT NULL, operation varchar(8) NOT NULL, position longtext NOT NULL,
    error_class varchar(20) NOT NULL, error_code varchar(20) NOT NULL, error_message longtext NOT NULL, row_image longtext NOT NULL,
    dead_lettered_at datetime(6) NOT NULL, replayed_at datetime(6) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
}

async function readMysqlCheckpoint(conn: Queryable, pipeline: string): Promise<Checkpoint | null> {
  // updated_at holds UTC_TIMESTAMP(6); a cut-over row is never written again, so it is when the cutover completed.
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT phase, position, tables, overlap_end, holds, DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS at FROM ${CHECKPOINT} WHERE pipeline = ?`,
    [pipeline],
  );
  const row = rows[0];
  return row ? checkpointFromText(row as Parameters<typeof checkpointFromText>[0], () => new Date(String(row.at))) : null;
}

/** Fails unless `owner` still owns the pipeline; share-locks the row (parallel chunk loads) until the caller's transaction ends. */
async function assertMysqlOwner(conn: Connection, pipeline: string, owner: string): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT owner FROM ${CHECKPOINT} WHERE pipeline = ? LOCK IN SHARE MODE`, [pipeline]);
  if (rows[0] && rows[0].owner !== owner) throw takenOver(pipeline);
}

export async function claimMysqlCheckpoint(conn: Connection, pipeline: string, owner: string): Promise<void> {
  await conn.query(`UPDATE ${CHECKPOINT} SET owner = ? WHERE pipeline = ?`, [owner, pipeline]);
}

/** Writes phase, position, overlap end and holds (and `tables` when given), only while `owner` still owns the row. */
async function writeMysqlCheckpoint(conn: Connection, pipeline: string, owner: string, c: Checkpoint): Promise<void> {
  await assertMysqlOwner(conn, pipeline, owner);
  await conn.query(
    `INSERT INTO ${CHECKPOINT} (pipeline, phase, position, tables, owner, overlap_end, holds, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE phase = VALUES(phase), position = VALUES(position), tables = COALESCE(VALUES(tables), tables),
       overlap_end = VALUES(overlap_end), holds = VALUES(holds), updated_at = VALUES(updated_at)`,
    [
      pipeline,
      c.phase,
      c.position ? JSON.stringify(positionToJson(c.position)) : null,
      c.tables ? JSON.stringify(c.tables) : null,
      owner,
      c.overlapEnd ? JSON.stringify(positionToJson(c.overlapEnd)) : null,
      encodeHolds(c.holds),
    ],
  );
}

async function readMysqlProgress(conn: Queryable, pipeline: string): Promise<SnapshotProgress[]> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT table_name, last_key, row_count, done, position FROM ${PROGRESS} WHERE pipeline = ?`, [pipeline]);
  return rows.map((r) => ({
    table: r.table_name,
    lastKey: decodeKey(r.last_key),
    rows: Number(r.row_count),
    done: Number(r.done) === 1,
    position: positionFromJson(JSON.parse(r.position)),
  }));
}

async function writeMysqlProgress(conn: Connection, pipeline: string, p: SnapshotProgress): Promise<void> {
  await conn.query(
    `INSERT INTO ${PROGRESS} (pipeline, table_name, last_key, row_count, done, position, updated_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE last_key = VALUES(last_key), row_count = VALUES(row_count), done = VALUES(done), position = VALUES(position), updated_at = VALUES(updated_at)`,
    [pipeline, p.table, encodeKey(p.lastKey), p.rows, p.done ? 1 : 0, JSON.stringify(positionToJson(p.position))],
  );
}

async function clearMysqlProgress(conn: Connection, pipeline: string): Promise<void> {
  await conn.query(`DELETE FROM ${PROGRESS} WHERE pipeline = ?`, [pipeline]);
}

async function lockMysqlPartition(conn: Connection, pipeline: string, topic: string, partition: number): Promise<bigint> {
  await conn.query(`INSERT IGNORE INTO ${OFFSETS} (pipeline, topic, \`partition\`, next_offset, updated_at) VALUES (?, ?, ?, 0, UTC_TIMESTAMP(6))`, [
    pipeline,
    topic,
    partition,
  ]);
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT next_offset FROM ${OFFSETS} WHERE pipeline = ? AND topic = ? AND \`partition\` = ? FOR UPDATE`, [
    pipeline,
    topic,
    partition,
  ]);
  return BigInt(rows[0]!.next_offset as string | number);
}

async function writeMysqlPartition(conn: Connection, pipeline: string, topic: string, partition: number, next: bigint): Promise<void> {
  await conn.query(`UPDATE ${OFFSETS} SET next_offset = ?, updated_at = UTC_TIMESTAMP(6) WHERE pipeline = ? AND topic = ? AND \`partition\` = ?`, [
    next.toString(),
    pipeline,
    topic,
    partition,
  ]);
}

async function writeMysqlDeadLetter(conn: Connection, pipeline: string, letter: DeadLetter): Promise<void> {
  // The same letter again (a redelivered batch) leaves the stored one as it is.
  await conn.query(
    `INSERT INTO ${DEAD_LETTERS} (${DEAD_LETTER_COLUMNS}, dead_lettered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
     ON DUPLICATE KEY UPDATE letter_id = letter_id`,
    deadLetterValues(pipeline, letter),
  );
}

async function mysqlUnreplayedLetters(conn: Queryable, pipeline: string): Promise<LetterKey[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT id, table_name, row_key FROM ${DEAD_LETTERS} WHERE pipeline = ? AND replayed_at IS NULL ORDER BY id`,
    [pipeline],
  );
  return rows.map(letterKey);
}

async function markMysqlReplayed(conn: Connection, pipeline: string, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await conn.query(`UPDATE ${DEAD_LETTERS} SET replayed_at = UTC_TIMESTAMP(6) WHERE pipeline = ? AND id IN (?) AND replayed_at IS NULL`, [pipeline, ids]);
}

async function mysqlDeadLetterCounts(conn: Queryable, pipeline: string): Promise<Map<string, number>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT table_name, count(*) AS n FROM ${DEAD_LETTERS} WHERE pipeline = ? AND replayed_at IS NULL GROUP BY table_name`,
    [pipeline],
  );
  return new Map(rows.map((r) => [String(r.table_name), Number(r.n)]));
}

async function readMysqlDeadLetters(conn: Queryable, pipeline: string, limit: number): Promise<StoredDeadLetter[]> {
  const iso = (c: string) => `DATE_FORMAT(${c}, '%Y-%m-%dT%H:%i:%s.%fZ')`;
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT ${storedLetterColumns(iso)} FROM ${DEAD_LETTERS} WHERE pipeline = ? ORDER BY id DESC LIMIT ?`, [
    pipeline,
    limit,
  ]);
  return rows.map(storedLetter).reverse();
}

/** ER_NO_SUCH_TABLE: also what a database that does not exist gives. */
const missingTable = (err: unknown) => (err as { errno?: number }).errno === 1146;

/** The store of one pipeline in a MySQL/MariaDB target; readers go through `pool`. */
export function mysqlCheckpointStore(pool: Queryable, pipeline: string, owner: string): CheckpointStore<Connection> {
  return {
    read: () => noneWhenMissing(readMysqlCheckpoint(pool, pipeline), null, missingTable),
    readProgress: () => noneWhenMissing(readMysqlProgress(pool, pipeline), [], missingTable),
    assertOwner: (c) => assertMysqlOwner(c, pipeline, owner),
    write: (c, checkpoint) => writeMysqlCheckpoint(c, pipeline, owner, checkpoint),
    writeProgress: (c, progress) => writeMysqlProgress(c, pipeline, progress),
    clearProgress: (c) => clearMysqlProgress(c, pipeline),
    lockPartition: (c, topic, partition) => lockMysqlPartition(c, pipeline, topic, partition),
    writePartition: (c, topic, partition, next) => writeMysqlPartition(c, pipeline, topic, partition, next),
    writeDeadLetter: (c, letter) => writeMysqlDeadLetter(c, pipeline, letter),
    unreplayedLetters: () => noneWhenMissing(mysqlUnreplayedLetters(pool, pipeline), [], missingTable),
    markReplayed: (c, ids) => markMysqlReplayed(c, pipeline, ids),
    deadLetterCounts: () => noneWhenMissing(mysqlDeadLetterCounts(pool, pipeline), new Map(), missingTable),
    readDeadLetters: (limit) => noneWhenMissing(readMysqlDeadLetters(pool, pipeline, limit), [], missingTable),
  };
}
