import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { formatPosition, type Position } from '../core/position.js';
import type { TableHolds } from '../core/table-hold.js';
import { holdJson, resyncRoute } from '../core/table-quarantine.js';
import { openSinkToRead, openSource } from './endpoints.js';
import type { LiveStatusJson, ResyncProgress } from './live-status.js';

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
  /** Each held table's hold as the checkpoint keeps it, in GET /status's form: quarantined (since, position, key, reason, message) or resyncing (since). */
  readonly holds: LiveStatusJson['holds'];
  /** The resync running now, as the ferry running the pipeline reports it (its admin API); null when none runs or it cannot be asked. */
  readonly resync: ResyncProgress | null;
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
      holds: Object.fromEntries(Object.entries(checkpoint?.holds ?? {}).map(([table, hold]) => [table, holdJson(hold)])),
      resync: await runningResync(config, checkpoint?.holds ?? {}, log),
    };
  } finally {
    await sink.close();
  }
}

/**
 * The running resync as the ferry process running the pipeline reports it (GET /status): the
 * checkpoint holds its table 'resyncing', but only that process knows its chunks and rows so far.
 * Asked only while a table is held so, at `admin.listen` (a fixed port: port 0 leaves no address to
 * ask; a process of several pipelines answers this one's among theirs); null when there is none or it does not answer, which is logged.
 */
export async function runningResync(config: Pick<Config, 'pipeline' | 'admin'>, holds: TableHolds, log: Logger): Promise<ResyncProgress | null> {
  const listen = config.admin?.listen;
  if (!listen || listen.endsWith(':0') || !Object.values(holds).some((h) => h.state === 'resyncing')) return null;
  const url = `http://${listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}/status`;
  try {
    // A process of several pipelines answers each one's under its name.
    const body = (await (await fetch(url, { signal: AbortSignal.timeout(2_000) })).json()) as LiveStatusJson | { pipelines: Record<string, LiveStatusJson> };
    const { pipeline, resync } = 'pipelines' in body ? (body.pipelines[config.pipeline] ?? { pipeline: undefined, resync: null }) : body;
    return pipeline === config.pipeline && resync?.state === 'running' && holds[resync.table]?.state === 'resyncing' ? resync : null;
  } catch (err) {
    log.warn({ err: (err as Error).message }, `the admin API at ${url} did not answer: the resync's progress is not shown`);
    return null;
  }
}

/** `ferry status`'s lines for the held tables: each hold, and the running resync's progress where known. */
export function holdLines(status: Pick<PipelineStatus, 'holds' | 'resync'>): string[] {
  return Object.entries(status.holds).map(([table, h]) => {
    if (h.state === 'quarantined') {
      return `held ${table}: quarantined since ${String(h.since)} at ${String(h.position)}: the target rejected the row with key ${JSON.stringify(h.key)} (${String(h.reason)}: ${String(h.message)}); fix the target, then ${resyncRoute(table)}`;
    }
    const r = status.resync?.table === table ? status.resync : null;
    const progress = r
      ? `: ${r.chunks} chunks, ${r.rows} rows copied so far${r.restarts === 0 ? '' : `, started over ${r.restarts === 1 ? 'once' : `${r.restarts} times`}`}`
      : ' (its progress: GET /status of the running ferry)';
    return `held ${table}: being resynced since ${String(h.since)}${progress}`;
  });
}
