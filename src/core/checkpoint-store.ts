import type { Checkpoint, SnapshotProgress } from './checkpoint.js';
import type { DeadLetter, LetterKey, StoredDeadLetter } from './dead-letter.js';

/**
 * ferry's checkpoint and snapshot progress, kept in a SQL target next to the data. Writers take the
 * caller's connection `C`, so they commit in the same transaction as the data they describe
 * (DESIGN §3.2), and every write is fenced by the owner token of the process that claimed the pipeline.
 */
export interface CheckpointStore<C> {
  read(): Promise<Checkpoint | null>;
  readProgress(): Promise<SnapshotProgress[]>;
  /** Fails unless this process still owns the pipeline; holds the row until `c`'s transaction ends. */
  assertOwner(c: C): Promise<void>;
  /** Writes phase and position (and `tables` when the checkpoint carries them), only while this process owns the pipeline. */
  write(c: C, checkpoint: Checkpoint): Promise<void>;
  writeProgress(c: C, progress: SnapshotProgress): Promise<void>;
  clearProgress(c: C): Promise<void>;
  /**
   * Kafka path: locks the row of `topic`/`partition` until `c`'s transaction ends (so two appliers
   * that both think they own a partition, around a rebalance, apply it one after the other) and
   * returns the next offset to apply there: 0 for a partition never applied.
   */
  lockPartition(c: C, topic: string, partition: number): Promise<bigint>;
  /** Kafka path: `next` becomes the partition's next offset to apply, in `c`'s transaction. */
  writePartition(c: C, topic: string, partition: number, next: bigint): Promise<void>;
  /** Stores a row the target rejected in ferry.ferry_dead_letters, in `c`'s transaction; the same letter again (a redelivered batch) is stored once. */
  writeDeadLetter(c: C, letter: DeadLetter): Promise<void>;
  /** The letters not replayed yet, in id order (the order they were written in). */
  unreplayedLetters(): Promise<LetterKey[]>;
  /** Marks letters replayed, in `c`'s transaction (with the rows a replay read again for them); one replayed already stays as it was. */
  markReplayed(c: C, ids: readonly number[]): Promise<void>;
  /** Rows dead-lettered and not replayed, per source table (`schema.table`). */
  deadLetterCounts(): Promise<Map<string, number>>;
  /** The last `limit` dead letters of the pipeline, oldest first. */
  readDeadLetters(limit: number): Promise<StoredDeadLetter[]>;
}

/**
 * A read of ferry's tables in a target ferry has not written to yet gives `none`: the read-only
 * commands (status, verify) open the target without creating them (DESIGN §1.1), and there the
 * checkpoint that does not exist yet is simply no checkpoint.
 */
export function noneWhenMissing<T>(read: Promise<T>, none: T, isMissingTable: (err: unknown) => boolean): Promise<T> {
  return read.catch((err: unknown) => {
    if (isMissingTable(err)) return none;
    throw err;
  });
}

/** One ferry process per pipeline and target: taken at claim(), given up at close(). */
export interface PipelineLock {
  readonly owner: string;
  acquire(): Promise<void>;
  release(): Promise<void>;
}

/**
 * One engine's checkpoint tables as its sink uses them: src/checkpoint/ implements them per engine,
 * and src/engines/registry.ts hands them to the sink, so sinks and checkpoint stores never import
 * each other. `Conn` is the connection a write joins (the sink's transaction), `Pool` what reads use.
 */
export interface CheckpointTables<Conn, Pool> {
  /** Creates ferry's own tables where missing (never for the read-only commands, DESIGN §1.1). */
  ensure(conn: Conn): Promise<void>;
  store(pool: Pool, pipeline: string, owner: string): CheckpointStore<Conn>;
  lock(url: string, pipeline: string): PipelineLock;
}
