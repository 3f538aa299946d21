import type sql from 'mssql';
import { checkpointFromText, decodeKey, encodeHolds, encodeKey } from '../core/checkpoint-codec.js';
import type { Checkpoint, SnapshotProgress } from '../core/checkpoint.js';
import { type CheckpointStore, noneWhenMissing } from '../core/checkpoint-store.js';
import { DEAD_LETTER_COLUMNS, deadLetterValues, letterKey, storedLetter, storedLetterColumns, type StoredDeadLetter } from '../core/dead-letter.js';
import { positionFromJson, positionToJson } from '../core/position.js';
import { FERRY_SCHEMA } from '../core/table-mapping.js';
import { quoteIdent, textLiteral } from '../engines/mssql/quoting.js';
import { takenOver } from './pipeline-ownership.js';

/**
 * ferry's checkpoint kept in a SQL Server target, in its own schema. Writers take the sink's session,
 * so the checkpoint commits in the same transaction as the data it describes (DESIGN §3.2); every
 * write of the checkpoint row is fenced by the owner token of the process that claimed the pipeline.
 */

/** What the checkpoint needs of a session: parameterized statements (`@p1…`, bound in order) and their rows. */
export interface MssqlStatements {
  query<T extends Record<string, unknown>>(statement: string, params?: readonly unknown[]): Promise<T[]>;
}

const SCHEMA = quoteIdent(FERRY_SCHEMA);
const CHECKPOINT = `${SCHEMA}.[ferry_checkpoint]`;
const PROGRESS = `${SCHEMA}.[ferry_snapshot_progress]`;
const OFFSETS = `${SCHEMA}.[ferry_kafka_offsets]`;
const DEAD_LETTERS = `${SCHEMA}.[ferry_dead_letters]`;

/** Each statement creates what is missing (CREATE SCHEMA must be alone in its batch, hence EXEC). */
export const ENSURE_SQL: readonly string[] = [
  `IF SCHEMA_ID(${textLiteral(FERRY_SCHEMA)}) IS NULL EXEC(${textLiteral(`CREATE SCHEMA ${SCHEMA}`)})`,
  `IF OBJECT_ID(${textLiteral(CHECKPOINT)}, N'U') IS NULL CREATE TABLE ${CHECKPOINT} (
    [pipeline] nvarchar(100) NOT NULL, [phase] nvarchar(16) NOT NULL, [position] nvarchar(max) NULL, [tables] nvarchar(max) NULL,
    [owner] nvarchar(36) NULL, [overlap_end] nvarchar(max) NULL, [holds] nvarchar(max) NULL, [updated_at] datetime2(6) NOT NULL,
    CONSTRAINT [ferry_checkpoint_pkey] PRIMARY KEY ([pipeline]))`,
  // Columns later versions added, for a checkpoint table an earlier one created.
  `IF COL_LENGTH(${textLiteral(CHECKPOINT)}, N'holds') IS NULL ALTER TABLE ${CHECKPOINT} ADD [holds] nvarchar(max) NULL`,
  // row_count, as on MySQL: ROWS is a T-SQL keyword. 100 + 300 characters keep the key under 900 bytes.
  `IF OBJECT_ID(${textLiteral(PROGRESS)}, N'U') IS NULL CREATE TABLE ${PROGRESS} (
    [pipeline] nvarchar(100) NOT NULL, [table_name] nvarchar(300) NOT NULL, [last_key] nvarchar(max) NULL, [row_count] bigint NOT NULL,
    [done] bit NOT NULL, [position] nvarchar(max) NOT NULL, [updated_at] datetime2(6) NOT NULL,
    CONSTRAINT [ferry_snapshot_progress_pkey] PRIMARY KEY ([pipeline], [table_name]))`,
  `IF OBJECT_ID(${textLiteral(OFFSETS)}, N'U') IS NULL CREATE TABLE ${OFFSETS} (
    [pipeline] nvarchar(100) NOT NULL, [topic] nvarchar(249) NOT NULL, [partition] int NOT NULL, [next_offset] bigint NOT NULL,
    [updated_at] datetime2(6) NOT NULL, CONSTRAINT [ferry_kafka_offsets_pkey] PRIMARY KEY ([pipeline], [topic], [partition]))`,
  // letter_id is a SHA-256 in hex (core/dead-letter.ts), unique so a redelivered batch stores its letters once; nvarchar as the
  // parameters bound to it are (a char column would be converted to them, and its index not sought).
  `IF OBJECT_ID(${textLiteral(DEAD_LETTERS)}, N'U') IS NULL CREATE TABLE ${DEAD_LETTERS} (
    [id] bigint IDENTITY(1,1) NOT NULL, [letter_id] nvarchar(64) NOT NULL, [pipeline] nvarchar(100) NOT NULL, [table_name] nvarchar(300) NOT NULL,
    [row_key] nvarchar(max) NOT NULL, [operation] nvarchar(8) NOT NULL, [position] nvarchar(max) NOT NULL, [error_class] nvarchar(20) NOT NULL,
    [error_code] nvarchar(20) NOT NULL, [error_message] nvarchar(max) NOT NULL, [row_image] nvarchar(max) NOT NULL,
    [dead_lettered_at] datetime2(6) NOT NULL, [replayed_at] datetime2(6) NULL,
    CONSTRAINT [ferry_dead_letters_pkey] PRIMARY KEY ([id]), CONSTRAINT [ferry_dead_letters_letter_id_key] UNIQUE ([letter_id]))`,
];

/**
 * "There is already an object named …" and "Column names in each table must be unique": another
 * process created the table or added the column between the check and the CREATE or ALTER.
 */
const ALREADY_EXISTS = new Set([2714, 2705]);

/**
 * Creates ferry's tables and columns where missing. Two processes starting at once may both find one
 * missing; the one that loses the race runs the statements again, and then finds them all.
 */
export async function ensureMssqlCheckpointTables(session: { run(statement: string): Promise<void> }): Promise<void> {
  const create = async () => {
    for (const statement of ENSURE_SQL) await session.run(statement);
  };
  await create().catch((err: { number?: number }) => {
    if (!ALREADY_EXISTS.has(err.number ?? 0)) throw err;
    return create();
  });
}

export const READ_CHECKPOINT_SQL = `SELECT [phase], [position], [tables], [overlap_end], [holds], [updated_at] FROM ${CHECKPOINT} WHERE [pipeline] = @p1`;

/** The owner of the row, share-locked (parallel chunk loads share it) until the caller's transaction ends. */
export const ASSERT_OWNER_SQL = `SELECT [owner] FROM ${CHECKPOINT} WITH (HOLDLOCK, ROWLOCK) WHERE [pipeline] = @p1`;

export const CLAIM_SQL = `UPDATE ${CHECKPOINT} SET [owner] = @p2 WHERE [pipeline] = @p1`;

/**
 * Parameters: pipeline, phase, position, tables (null keeps them), owner, overlap end, holds. The row is
 * updated only while `owner` owns it, and inserted only when there is none; the owner it has
 * afterwards tells the caller whether it wrote.
 */
export const WRITE_CHECKPOINT_SQL = [
  `UPDATE ${CHECKPOINT} SET [phase] = @p2, [position] = @p3, [tables] = COALESCE(@p4, [tables]), [overlap_end] = @p6, [holds] = @p7, [updated_at] = SYSUTCDATETIME() WHERE [pipeline] = @p1 AND [owner] = @p5`,
  `INSERT INTO ${CHECKPOINT} ([pipeline], [phase], [position], [tables], [owner], [overlap_end], [holds], [updated_at]) SELECT @p1, @p2, @p3, @p4, @p5, @p6, @p7, SYSUTCDATETIME() WHERE NOT EXISTS (SELECT 1 FROM ${CHECKPOINT} WITH (UPDLOCK, HOLDLOCK) WHERE [pipeline] = @p1)`,
  `SELECT [owner] FROM ${CHECKPOINT} WHERE [pipeline] = @p1`,
].join('; ');

export const READ_PROGRESS_SQL = `SELECT [table_name], [last_key], [row_count], [done], [position] FROM ${PROGRESS} WHERE [pipeline] = @p1`;

/**
 * Parameters: pipeline, table, last key, rows, done, position. A table's chunks load one after the
 * other, so its row has one writer; without key-range locks (HOLDLOCK), the first chunks of tables
 * loading side by side do not deadlock on the gap their rows go into.
 */
export const WRITE_PROGRESS_SQL = [
  `UPDATE ${PROGRESS} SET [last_key] = @p3, [row_count] = @p4, [done] = @p5, [position] = @p6, [updated_at] = SYSUTCDATETIME() WHERE [pipeline] = @p1 AND [table_name] = @p2`,
  `INSERT INTO ${PROGRESS} ([pipeline], [table_name], [last_key], [row_count], [done], [position], [updated_at]) SELECT @p1, @p2, @p3, @p4, @p5, @p6, SYSUTCDATETIME() WHERE NOT EXISTS (SELECT 1 FROM ${PROGRESS} WHERE [pipeline] = @p1 AND [table_name] = @p2)`,
].join('; ');

export const CLEAR_PROGRESS_SQL = `DELETE FROM ${PROGRESS} WHERE [pipeline] = @p1`;

const PARTITION_ROW = '[pipeline] = @p1 AND [topic] = @p2 AND [partition] = @p3';

/**
 * Parameters: pipeline, topic, partition. Makes the row of a partition never applied (a concurrent
 * first insert waits on the key-range lock, then finds it), then reads it under an update lock held
 * to the end of the transaction.
 */
export const LOCK_PARTITION_SQL = [
  `INSERT INTO ${OFFSETS} ([pipeline], [topic], [partition], [next_offset], [updated_at]) SELECT @p1, @p2, @p3, 0, SYSUTCDATETIME() WHERE NOT EXISTS (SELECT 1 FROM ${OFFSETS} WITH (UPDLOCK, HOLDLOCK) WHERE ${PARTITION_ROW})`,
  `SELECT [next_offset] FROM ${OFFSETS} WITH (UPDLOCK, HOLDLOCK) WHERE ${PARTITION_ROW}`,
].join('; ');

/** Parameters: pipeline, topic, partition, next offset (decimal text: a bigint beyond 2^53 would not survive a number). */
export const WRITE_PARTITION_SQL = `UPDATE ${OFFSETS} SET [next_offset] = CAST(@p4 AS bigint), [updated_at] = SYSUTCDATETIME() WHERE ${PARTITION_ROW}`;

/**
 * Parameters: DEAD_LETTER_COLUMNS in order (letter_id first). The same letter again (a redelivered
 * batch) leaves the stored one as it is; the key-range lock keeps two writers of one letter apart.
 */
export const WRITE_DEAD_LETTER_SQL = `INSERT INTO ${DEAD_LETTERS} (${bracketed(DEAD_LETTER_COLUMNS)}, [dead_lettered_at]) SELECT ${DEAD_LETTER_COLUMNS.split(
  ', ',
)
  .map((_, i) => `@p${i + 1}`)
  .join(', ')}, SYSUTCDATETIME() WHERE NOT EXISTS (SELECT 1 FROM ${DEAD_LETTERS} WITH (UPDLOCK, HOLDLOCK) WHERE [letter_id] = @p1)`;

/** Parameters: pipeline. The letters not replayed yet, in id order. */
export const UNREPLAYED_LETTERS_SQL = `SELECT [id], [table_name], [row_key] FROM ${DEAD_LETTERS} WHERE [pipeline] = @p1 AND [replayed_at] IS NULL ORDER BY [id]`;

/** A request takes at most 2,100 parameters: ids are marked this many at a time. */
export const MARK_REPLAYED_IDS = 1000;

/** Parameters: pipeline, then `ids` letter ids (at most MARK_REPLAYED_IDS); one replayed already keeps its time. */
export function markReplayedSql(ids: number): string {
  const list = Array.from({ length: ids }, (_, i) => `@p${i + 2}`).join(', ');
  return `UPDATE ${DEAD_LETTERS} SET [replayed_at] = SYSUTCDATETIME() WHERE [pipeline] = @p1 AND [id] IN (${list}) AND [replayed_at] IS NULL`;
}

export const DEAD_LETTER_COUNTS_SQL = `SELECT [table_name], COUNT_BIG(*) AS [n] FROM ${DEAD_LETTERS} WHERE [pipeline] = @p1 AND [replayed_at] IS NULL GROUP BY [table_name]`;

/** Parameters: pipeline, limit. The last `limit` letters, newest first; times as ISO 8601 text in UTC (they hold SYSUTCDATETIME()). */
export const READ_DEAD_LETTERS_SQL = `SELECT TOP (@p2) ${storedLetterColumns((c) => `CONVERT(nvarchar(30), [${c}], 126) + N'Z'`)} FROM ${DEAD_LETTERS} WHERE [pipeline] = @p1 ORDER BY [id] DESC`;

/** `a, b` as `[a], [b]`. */
function bracketed(columns: string): string {
  return columns
    .split(', ')
    .map((c) => quoteIdent(c))
    .join(', ');
}

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

async function readCheckpoint(on: MssqlStatements, pipeline: string): Promise<Checkpoint | null> {
  const rows = await on.query<{
    phase: Checkpoint['phase'];
    position: string | null;
    tables: string | null;
    overlap_end: string | null;
    holds: string | null;
    updated_at: Date;
  }>(READ_CHECKPOINT_SQL, [pipeline]);
  const row = rows[0];
  // updated_at holds SYSUTCDATETIME(), read as UTC (the pool's useUTC).
  return row ? checkpointFromText(row, () => row.updated_at) : null;
}

async function assertOwner(c: MssqlStatements, pipeline: string, owner: string): Promise<void> {
  const rows = await c.query<{ owner: string | null }>(ASSERT_OWNER_SQL, [pipeline]);
  if (rows[0]?.owner !== owner) throw takenOver(pipeline);
}

/** Marks an existing checkpoint row as `owner`'s: from now on only it may write the row. */
export async function claimMssqlCheckpoint(on: MssqlStatements, pipeline: string, owner: string): Promise<void> {
  await on.query(CLAIM_SQL, [pipeline, owner]);
}

async function writeCheckpoint(c: MssqlStatements, pipeline: string, owner: string, checkpoint: Checkpoint): Promise<void> {
  const rows = await c.query<{ owner: string | null }>(WRITE_CHECKPOINT_SQL, [
    pipeline,
    checkpoint.phase,
    checkpoint.position ? json(positionToJson(checkpoint.position)) : null,
    json(checkpoint.tables),
    owner,
    checkpoint.overlapEnd ? json(positionToJson(checkpoint.overlapEnd)) : null,
    encodeHolds(checkpoint.holds),
  ]);
  if (rows[0]?.owner !== owner) throw takenOver(pipeline);
}

async function readProgress(on: MssqlStatements, pipeline: string): Promise<SnapshotProgress[]> {
  const rows = await on.query<{ table_name: string; last_key: string | null; row_count: string | number; done: boolean; position: string }>(READ_PROGRESS_SQL, [
    pipeline,
  ]);
  return rows.map((r) => ({
    table: r.table_name,
    lastKey: decodeKey(r.last_key),
    rows: Number(r.row_count),
    done: r.done === true,
    position: positionFromJson(JSON.parse(r.position)),
  }));
}

async function lockPartition(c: MssqlStatements, pipeline: string, topic: string, partition: number): Promise<bigint> {
  const rows = await c.query<{ next_offset: string | number }>(LOCK_PARTITION_SQL, [pipeline, topic, partition]);
  return BigInt(rows[0]!.next_offset);
}

async function deadLetterCounts(on: MssqlStatements, pipeline: string): Promise<Map<string, number>> {
  const rows = await on.query<{ table_name: string; n: string | number }>(DEAD_LETTER_COUNTS_SQL, [pipeline]);
  return new Map(rows.map((r) => [r.table_name, Number(r.n)]));
}

async function readDeadLetters(on: MssqlStatements, pipeline: string, limit: number): Promise<StoredDeadLetter[]> {
  return (await on.query(READ_DEAD_LETTERS_SQL, [pipeline, limit])).map(storedLetter).reverse();
}

/** Invalid object name: what a read finds before ferry's tables exist (DESIGN §1.1: the read-only commands create nothing). */
const missingTable = (err: unknown) => (err as { number?: number }).number === 208;

/** Statements on a pool: each on any of its connections, outside any transaction (the readers'). */
export function poolStatements(pool: sql.ConnectionPool): MssqlStatements {
  return {
    async query<T extends Record<string, unknown>>(statement: string, params: readonly unknown[] = []): Promise<T[]> {
      const request = pool.request();
      params.forEach((p, i) => request.input(`p${i + 1}`, p));
      return (await request.query<T>(statement)).recordset ?? [];
    },
  };
}

/** The store of one pipeline in a SQL Server target; readers go through `pool`, writers through the sink's session. */
export function mssqlCheckpointStore(pool: sql.ConnectionPool, pipeline: string, owner: string): CheckpointStore<MssqlStatements> {
  const readers = poolStatements(pool);
  return {
    read: () => noneWhenMissing(readCheckpoint(readers, pipeline), null, missingTable),
    readProgress: () => noneWhenMissing(readProgress(readers, pipeline), [], missingTable),
    assertOwner: (c) => assertOwner(c, pipeline, owner),
    write: (c, checkpoint) => writeCheckpoint(c, pipeline, owner, checkpoint),
    writeProgress: async (c, p) => {
      await c.query(WRITE_PROGRESS_SQL, [pipeline, p.table, encodeKey(p.lastKey), p.rows, p.done, json(positionToJson(p.position))]);
    },
    clearProgress: async (c) => {
      await c.query(CLEAR_PROGRESS_SQL, [pipeline]);
    },
    lockPartition: (c, topic, partition) => lockPartition(c, pipeline, topic, partition),
    writePartition: async (c, topic, partition, next) => {
      await c.query(WRITE_PARTITION_SQL, [pipeline, topic, partition, next.toString()]);
    },
    writeDeadLetter: async (c, letter) => {
      await c.query(WRITE_DEAD_LETTER_SQL, deadLetterValues(pipeline, letter));
    },
    unreplayedLetters: async () => noneWhenMissing(readers.query(UNREPLAYED_LETTERS_SQL, [pipeline]), [], missingTable).then((rows) => rows.map(letterKey)),
    markReplayed: async (c, ids) => {
      for (let i = 0; i < ids.length; i += MARK_REPLAYED_IDS) {
        const slice = ids.slice(i, i + MARK_REPLAYED_IDS);
        await c.query(markReplayedSql(slice.length), [pipeline, ...slice]);
      }
    },
    deadLetterCounts: () => noneWhenMissing(deadLetterCounts(readers, pipeline), new Map(), missingTable),
    readDeadLetters: (limit) => noneWhenMissing(readDeadLetters(readers, pipeline, limit), [], missingTable),
  };
}
