import { EventEmitter } from 'node:events';
import type { Op } from './change-event.js';
import type { Position } from './position.js';
import type { DeadLettered, ReplayedLetters } from './sink.js';
import type { TableHold, TableHolds } from './table-hold.js';
import { ERROR_KINDS, type FerryError } from './errors.js';

/** What a failure is counted as: a FerryError's kind, or what failed besides the stream. Every one is a ferry_errors_total series from the start (DESIGN §1.4). */
export const FAILURE_KINDS = [...ERROR_KINDS, 'heartbeat', 'cutover'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/**
 * 'idle': a refresh pipeline (snapshot.schedule) between its refreshes. 'waiting': in a process of
 * several, until every pipeline it depends on (dependsOn) streams.
 */
export type Phase = 'waiting' | 'starting' | 'preflight' | 'snapshot' | 'streaming' | 'idle' | 'stopping' | 'stopped' | 'failed';

/** What ferry tells its observers (logs, progress bars, metrics). The seam between work and watching. */
export interface FerryEvents {
  phase: { phase: Phase };
  'snapshot-table-started': { table: string; estimatedRows: number; resumedRows: number };
  'snapshot-chunk-loaded': { table: string; rows: number; totalRows: number };
  'snapshot-table-done': { table: string; rows: number; ms: number };
  'snapshot-done': { rows: number; ms: number; position: Position };
  /** An interrupted snapshot that cannot resume starts over, every table emptied. */
  'snapshot-restarted': { reason: string };
  /** `transactions` counts source transactions with changes; heartbeats and filtered ones only move the position. */
  'batch-applied': { transactions: number; events: number; perTable: readonly TableOps[]; position: Position; commitTime: Date; ms: number };
  /** A marker written with Heartbeat.beat was committed to the target, with `changesAfter` transactions with changes that followed it in the same target commit. */
  'marker-applied': { marker: string; position: Position; changesAfter: number };
  /** A heartbeat was written: the source's clock against ours, and where its log ends. */
  heartbeat: { clockOffsetMs: number; head: Position; retainedBytes: number | null };
  /** Something went wrong: `kind` is the FerryError kind, or what failed ('heartbeat', 'cutover'). (Not 'error': EventEmitter throws that one when unheard.) */
  failure: { kind: FailureKind; message: string };
  paused: { paused: boolean };
  /** `finalPosition` (formatted) with 'completed': where the target's history ends. */
  'cutover-state': { id: string; state: CutoverState; reason?: string; finalPosition?: string };
  'schema-changed': { table: string; addedColumns: string[] };
  /** `resumesFrom`: the checkpoint the next attempt starts from (the last commit), null where partitions keep their own. */
  'stream-retry': { error: FerryError; attempt: number; delayMs: number; resumesFrom: Position | null };
  /**
   * `deadLetterTables`: the source tables whose error policy is dead-letter; `tables`: every source
   * table the stream replicates, and `holds`: those held (the checkpoint's), where the stream has them.
   */
  'stream-started': { from: Position; deadLetterTables?: readonly string[]; tables?: readonly string[]; holds?: TableHolds };
  /** A committed target transaction set (`hold`) or lifted (null) the hold of source table `table`. */
  'table-hold': { table: string; hold: TableHold | null };
  /** A committed target transaction dead-lettered `rows` rows of `table` the target rejected for `reason`. */
  /** A committed transaction marked a replay's dead letters replayed (`marker`: the replay's watermark), `rejected` of their rows dead-lettered again. */
  'letters-replayed': ReplayedLetters;
  /** POST /dead-letters/replay finished with one table: rows read again and upserted, keys deleted, rows rejected again. */
  'replay-table-done': { id: string; table: string; letters: number; rows: number; deleted: number; rejected: number; ms: number };
  'rows-dead-lettered': DeadLettered;
  /** POST /tables/{schema.table}/resync began copying `table` again, or began it over (`restarted`: after a restart or a lost connection). */
  'resync-started': { id: string; table: string; since: string; restarted: boolean };
  /**
   * The resync met its `chunks`-th chunk's watermark in the stream: `rows` rows injected so far (`chunkRows` of them now),
   * `readAhead` rows read so far as the stream met an update that left values out (the target may lack its row).
   */
  'resync-chunk': { id: string; table: string; chunks: number; rows: number; chunkRows: number; readAhead: number };
  /** The resync's last chunk and the table's hold lifted were committed to the target. */
  'resync-done': { id: string; table: string; chunks: number; rows: number; ms: number };
  /** A refresh pipeline (snapshot.schedule) knows its next tick: as it starts, and after each refresh. */
  'refresh-scheduled': { next: Date | null };
  /** A tick of snapshot.schedule began reloading every selected table. */
  'refresh-started': { startedAt: Date };
  /** The refresh copied `rows` rows into `tables` tables and committed its checkpoint. */
  'refresh-done': { startedAt: Date; endedAt: Date; rows: number; tables: number };
  /** The refresh failed (it is tried again at the next tick, afresh); `kind` as FerryError's. */
  'refresh-failed': { startedAt: Date; endedAt: Date; kind: FailureKind; message: string };
  /** The Kafka sink had `messages` acknowledged by the brokers, `ms` after sending them. */
  'kafka-produced': { messages: number; ms: number };
  /** Replication lag went above the ready threshold (`maxLagSeconds`, admin.readyMaxLagSeconds), or back to it or below. */
  'lag-threshold': { above: boolean; lagSeconds: number | null; maxLagSeconds: number };
  /** A webhook receiver took a notification (sent), refused it or did not answer (failed: it is retried), or its full queue dropped its oldest one. */
  'notification-delivery': { receiver: string; outcome: 'sent' | 'failed' | 'dropped'; queued: number };
  /** An applying process's position in one partition against the partition's end, after a batch; `lag` null once the partition is no longer its own. */
  'kafka-consumer-lag': { topic: string; partition: number; lag: number | null };
}

export type CutoverState = 'preflight' | 'fencing' | 'draining' | 'verifying' | 'finalizing' | 'completed' | 'failed' | 'aborted';

/** Events applied to one table in one batch, by operation. */
export interface TableOps {
  readonly table: string;
  readonly op: Op;
  readonly events: number;
}

type Listener<K extends keyof FerryEvents> = (payload: FerryEvents[K]) => void;

export class FerryEventBus {
  readonly #emitter = new EventEmitter();

  emit<K extends keyof FerryEvents>(name: K, payload: FerryEvents[K]): void {
    this.#emitter.emit(name, payload);
  }

  on<K extends keyof FerryEvents>(name: K, listener: Listener<K>): () => void {
    this.#emitter.on(name, listener);
    return () => this.#emitter.off(name, listener);
  }
}
