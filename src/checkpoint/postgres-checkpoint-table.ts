import type { ClientBase } from 'pg';
import { DDL_LOCK_SQL } from '../engines/postgres/ddl-lock.js';
import { noneWhenMissing, type CheckpointStore } from '../core/checkpoint-store.js';

/** Readers need only a query method: a pool serves as well as a client. */
type Queryable = Pick<ClientBase, 'query'>;
import type { Checkpoint, SnapshotProgress } from '../core/checkpoint.js';
import { positionFromJson, positionToJson } from '../core/position.js';
import { FERRY_SCHEMA } from '../core/table-mapping.js';
import { decodeHolds, decodeKey, encodeHolds, encodeKey } from '../core/checkpoint-codec.js';
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

/**
 * ferry's checkpoint kept in the Postgres target, in its own schema. Writers take the caller's
 * client so the checkpoint commits in the same transaction as the data it describes (DESIGN §3.2).
 */
const CHECKPOINT = `${FERRY_SCHEMA}.ferry_checkpoint`;
const PROGRESS = `${FERRY_SCHEMA}.ferry_snapshot_progress`;
const OFFSETS = `${FERRY_SCHEMA}.ferry_kafka_offsets`;
const DEAD_LETTERS = `${FERRY_SCHEMA}.ferry_dead_letters`;

export async function ensureCheckpointTables(client: ClientBase): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(DDL_LOCK_SQL);
    await createCheckpointTables(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function createCheckpointTables(client: ClientBase): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${FERRY_SCHEMA}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${CHECKPOINT} (
    pipeline text PRIMARY KEY, phase text NOT NULL, position jsonb, tables text[], owner text, overlap_end jsonb, holds jsonb,
    updated_at timestamptz NOT NULL DEFAULT now())`);
  // Columns later versions added, for tables an earlier one created (altered only when missing).
  const { rows } = await client.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = '${FERRY_SCHEMA}' AND table_name = 'ferry_checkpoint'`,
  );
  const present = new Set(rows.map((r) => r.column_name as string));
  for (const [column, type] of [
    ['tables', 'text[]'],
    ['owner', 'text'],
    ['overlap_end', 'jsonb'],
    ['holds', 'jsonb'],
  ]) {
    if (!present.has(column!)) await client.query(`ALTER TABLE ${CHECKPOINT} ADD COLUMN IF NOT EXISTS ${column} ${type}`);
  }
  await client.query(`CREATE TABLE IF NOT EXISTS ${PROGRESS} (
    pipeline text NOT NULL, table_name text NOT NULL, last_key jsonb, rows bigint NOT NULL, done boolean NOT NULL,
    position jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, table_name))`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${OFFSETS} (
    pipeline text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, topic, partition))`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${DEAD_LETTERS} (
    id bigserial PRIMARY KEY, letter_id text NOT NULL UNIQUE, pipeline text NOT NULL, table_name text NOT NULL, row_key jsonb NOT NULL,
    operation text NOT NULL, position jsonb NOT NULL, error_class text NOT NULL, error_code text NOT NULL, error_message text NOT NULL,
    row_image jsonb NOT NULL, dead_lettered_at timestamptz NOT NULL DEFAULT now(), replayed_at timestamptz)`);
}

async function readCheckpoint(client: Queryable, pipeline: string): Promise<Checkpoint | null> {
  // A cut-over row is never written again: its updated_at is when the cutover completed.
  const { rows } = await client.query(
    `SELECT phase, position, tables, overlap_end, holds, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM ${CHECKPOINT} WHERE pipeline = $1`,
    [pipeline],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    phase: row.phase,
    position: row.position ? positionFromJson(row.position) : null,
    ...(row.tables ? { tables: row.tables } : {}),
    ...(row.overlap_end ? { overlapEnd: positionFromJson(row.overlap_end) } : {}),
    ...decodeHolds(row.holds),
    ...(row.phase === 'cut-over' ? { cutOverAt: new Date(row.at) } : {}),
  };
}

/** Fails unless `owner` still owns the pipeline; holds the row until the caller's transaction ends. */
async function assertOwner(client: ClientBase, pipeline: string, owner: string): Promise<void> {
  const { rowCount } = await client.query(`SELECT 1 FROM ${CHECKPOINT} WHERE pipeline = $1 AND owner = $2 FOR SHARE`, [pipeline, owner]);
  if (rowCount === 0) throw takenOver(pipeline);
}

/** Marks an existing checkpoint row as this process's: from now on only `owner` may write it. */
export async function claimCheckpoint(client: ClientBase, pipeline: string, owner: string): Promise<void> {
  await client.query(`UPDATE ${CHECKPOINT} SET owner = $2 WHERE pipeline = $1`, [pipeline, owner]);
}

/**
 * Writes phase, position, overlap end and holds (and `tables` when the checkpoint carries them: the end of a snapshot),
 * only while `owner` still owns the row; otherwise another process took the pipeline over.
 */
async function writeCheckpoint(client: ClientBase, pipeline: string, owner: string, c: Checkpoint): Promise<void> {
  const { rowCount } = await client.query(
    `INSERT INTO ${CHECKPOINT} (pipeline, phase, position, tables, owner, overlap_end, holds, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now())
     ON CONFLICT (pipeline) DO UPDATE SET phase = EXCLUDED.phase, position = EXCLUDED.position,
       tables = COALESCE(EXCLUDED.tables, ${CHECKPOINT}.tables), overlap_end = EXCLUDED.overlap_end, holds = EXCLUDED.holds, updated_at = now()
     WHERE ${CHECKPOINT}.owner IS NOT DISTINCT FROM EXCLUDED.owner`,
    [
      pipeline,
      c.phase,
      c.position ? JSON.stringify(positionToJson(c.position)) : null,
      c.tables ?? null,
      owner,
      c.overlapEnd ? JSON.stringify(positionToJson(c.overlapEnd)) : null,
      encodeHolds(c.holds),
    ],
  );
  if (rowCount === 0) throw takenOver(pipeline);
}

async function readProgress(client: Queryable, pipeline: string): Promise<SnapshotProgress[]> {
  const { rows } = await client.query(`SELECT table_name, last_key, rows, done, position FROM ${PROGRESS} WHERE pipeline = $1`, [pipeline]);
  return rows.map((r) => ({
    table: r.table_name,
    lastKey: decodeKey(r.last_key),
    rows: Number(r.rows),
    done: r.done,
    position: positionFromJson(r.position),
  }));
}

async function writeProgress(client: ClientBase, pipeline: string, p: SnapshotProgress): Promise<void> {
  await client.query(
    `INSERT INTO ${PROGRESS} (pipeline, table_name, last_key, rows, done, position, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (pipeline, table_name) DO UPDATE SET last_key = EXCLUDED.last_key, rows = EXCLUDED.rows, done = EXCLUDED.done,
       position = EXCLUDED.position, updated_at = now()`,
    [pipeline, p.table, encodeKey(p.lastKey), p.rows, p.done, JSON.stringify(positionToJson(p.position))],
  );
}

async function clearProgress(client: ClientBase, pipeline: string): Promise<void> {
  await client.query(`DELETE FROM ${PROGRESS} WHERE pipeline = $1`, [pipeline]);
}

async function lockPartition(client: ClientBase, pipeline: string, topic: string, partition: number): Promise<bigint> {
  // A concurrent first insert of the same row waits for the other transaction, then does nothing.
  await client.query(`INSERT INTO ${OFFSETS} (pipeline, topic, partition, next_offset) VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING`, [
    pipeline,
    topic,
    partition,
  ]);
  const { rows } = await client.query(`SELECT next_offset FROM ${OFFSETS} WHERE pipeline = $1 AND topic = $2 AND partition = $3 FOR UPDATE`, [
    pipeline,
    topic,
    partition,
  ]);
  return BigInt(rows[0].next_offset as string);
}

async function writePartition(client: ClientBase, pipeline: string, topic: string, partition: number, next: bigint): Promise<void> {
  await client.query(`UPDATE ${OFFSETS} SET next_offset = $4, updated_at = now() WHERE pipeline = $1 AND topic = $2 AND partition = $3`, [
    pipeline,
    topic,
    partition,
    next.toString(),
  ]);
}

async function writeDeadLetter(client: ClientBase, pipeline: string, letter: DeadLetter): Promise<void> {
  await client.query(
    `INSERT INTO ${DEAD_LETTERS} (${DEAD_LETTER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (letter_id) DO NOTHING`,
    deadLetterValues(pipeline, letter),
  );
}

async function unreplayedLetters(client: Queryable, pipeline: string): Promise<LetterKey[]> {
  const { rows } = await client.query(`SELECT id, table_name, row_key FROM ${DEAD_LETTERS} WHERE pipeline = $1 AND replayed_at IS NULL ORDER BY id`, [
    pipeline,
  ]);
  return rows.map(letterKey);
}

async function markReplayed(client: ClientBase, pipeline: string, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`UPDATE ${DEAD_LETTERS} SET replayed_at = now() WHERE pipeline = $1 AND id = ANY($2::bigint[]) AND replayed_at IS NULL`, [pipeline, ids]);
}

async function deadLetterCounts(client: Queryable, pipeline: string): Promise<Map<string, number>> {
  const { rows } = await client.query(`SELECT table_name, count(*) AS n FROM ${DEAD_LETTERS} WHERE pipeline = $1 AND replayed_at IS NULL GROUP BY table_name`, [
    pipeline,
  ]);
  return new Map(rows.map((r) => [r.table_name as string, Number(r.n)]));
}

async function readDeadLetters(client: Queryable, pipeline: string, limit: number): Promise<StoredDeadLetter[]> {
  const iso = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  const { rows } = await client.query(`SELECT ${storedLetterColumns(iso)} FROM ${DEAD_LETTERS} WHERE pipeline = $1 ORDER BY id DESC LIMIT $2`, [
    pipeline,
    limit,
  ]);
  return rows.map(storedLetter).reverse();
}

/** undefined_table: also what a schema that does not exist gives. */
const missingTable = (err: unknown) => (err as { code?: string }).code === '42P01';

/** The store of one pipeline in a Postgres target; readers go through `pool`. */
export function postgresCheckpointStore(pool: Queryable, pipeline: string, owner: string): CheckpointStore<ClientBase> {
  return {
    read: () => noneWhenMissing(readCheckpoint(pool, pipeline), null, missingTable),
    readProgress: () => noneWhenMissing(readProgress(pool, pipeline), [], missingTable),
    assertOwner: (c) => assertOwner(c, pipeline, owner),
    write: (c, checkpoint) => writeCheckpoint(c, pipeline, owner, checkpoint),
    writeProgress: (c, progress) => writeProgress(c, pipeline, progress),
    clearProgress: (c) => clearProgress(c, pipeline),
    lockPartition: (c, topic, partition) => lockPartition(c, pipeline, topic, partition),
    writePartition: (c, topic, partition, next) => writePartition(c, pipeline, topic, partition, next),
    writeDeadLetter: (c, letter) => writeDeadLetter(c, pipeline, letter),
    unreplayedLetters: () => noneWhenMissing(unreplayedLetters(pool, pipeline), [], missingTable),
    markReplayed: (c, ids) => markReplayed(c, pipeline, ids),
    deadLetterCounts: () => noneWhenMissing(deadLetterCounts(pool, pipeline), new Map(), missingTable),
    readDeadLetters: (limit) => noneWhenMissing(readDeadLetters(pool, pipeline, limit), [], missingTable),
  };
}
