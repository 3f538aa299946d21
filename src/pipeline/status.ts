import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { formatPosition, type Position } from '../core/position.js';
import { openSinkToRead, openSource } from './endpoints.js';

export interface PipelineStatus {
  readonly pipeline: string;
  readonly phase: 'new' | 'snapshot' | 'stream' | 'cut-over';
  /** Phase 'cut-over': when the cutover completed and its final source position; `ferry run` refuses the pipeline. */
  readonly cutover: { readonly completedAt: string | null; readonly finalPosition: string | null } | null;
  readonly appliedPosition: string | null;
  readonly sourceHead: string | null;
  /** Binlog bytes between the applied position and the head, when both are in one file; WAL bytes for Postgres. */
  readonly lagBytes: number | null;
  /** Postgres: WAL the pipeline's replication slot keeps on the source (from its restart_lsn). */
  readonly slotRetainedBytes: number | null;
  readonly snapshot: readonly { table: string; rows: number; done: boolean }[];
}

/** Log bytes between an applied position and the head, where they can be told (one binlog file, or WAL). */
export function bytesBehind(applied: Position | null, head: Position | null): number | null {
  if (applied?.kind === 'mysql' && head?.kind === 'mysql' && applied.file === head.file) return Math.max(0, head.pos - applied.pos);
  if (applied?.kind === 'pg' && head?.kind === 'pg') return Math.max(0, Number(head.lsn - applied.lsn));
  return null;
}

/** What `ferry status` prints: the target's checkpoint against the source's head. */
export async function readStatus(config: Config, log: Logger): Promise<PipelineStatus> {
  const sink = await openSinkToRead(config, log);
  try {
    const checkpoint = await sink.loadCheckpoint();
    const progress = await sink.loadSnapshotProgress();
    const source = await openSource(config, log).catch((err: Error) => {
      log.warn({ err: err.message }, 'source unreachable; showing the target side only');
      return null;
    });
    const [head, retained] = source ? await Promise.all([source.headPosition(), source.retainedBytes?.() ?? null]).finally(() => source.close()) : [null, null];
    const cutOver = checkpoint?.phase === 'cut-over';
    const applied = checkpoint?.phase === 'stream' || cutOver ? checkpoint.position : null;
    return {
      pipeline: config.pipeline,
      phase: checkpoint?.phase ?? 'new',
      cutover: cutOver ? { completedAt: checkpoint.cutOverAt?.toISOString() ?? null, finalPosition: applied ? formatPosition(applied) : null } : null,
      appliedPosition: applied ? formatPosition(applied) : null,
      sourceHead: head ? formatPosition(head) : null,
      lagBytes: bytesBehind(applied, head),
      slotRetainedBytes: retained,
      snapshot: progress.map((p) => ({ table: p.table, rows: p.rows, done: p.done })),
    };
  } finally {
    await sink.close();
  }
}
