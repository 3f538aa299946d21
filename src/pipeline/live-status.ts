import type { CutoverState, FerryEventBus, Phase } from '../core/events.js';
import { formatPosition, type Position } from '../core/position.js';
import type { TableHold } from '../core/table-hold.js';
import { holdJson, quarantinedTables } from '../core/table-quarantine.js';
import { bytesBehind } from './status.js';

export interface TableProgress {
  rows: number;
  estimated: number;
  done: boolean;
}

/** What GET /status answers (DESIGN §1.3). */
export interface LiveStatusJson {
  readonly pipeline: string;
  readonly phase: Phase;
  readonly paused: boolean;
  readonly sourceHead: string | null;
  readonly appliedPosition: string | null;
  readonly lagSeconds: number | null;
  readonly lagBytes: number | null;
  readonly slotRetainedBytes: number | null;
  readonly lastAppliedCommitTime: string | null;
  readonly applied: { readonly transactions: number; readonly events: number };
  readonly snapshot: readonly ({ table: string } & TableProgress)[];
  readonly cutover: { readonly id: string; readonly state: CutoverState; readonly reason?: string; readonly finalPosition?: string } | null;
  /** Each held table's hold (table-hold.ts), a quarantine's position formatted. */
  readonly holds: Readonly<Record<string, Record<string, unknown>>>;
  readonly lastError: { readonly kind: string; readonly message: string; readonly at: string } | null;
  /** The last resync (POST /tables/{schema.table}/resync) of this process, running or done. */
  readonly resync: ResyncProgress | null;
  /** A refresh pipeline's (snapshot.schedule) last refresh and next tick; null on any other pipeline. */
  readonly refresh: RefreshStatusJson | null;
  /** A pipeline that depends on others (dependsOn): those it waits for to stream before it starts, [] once started. */
  readonly waitingFor?: readonly string[];
}

export interface RefreshStatus {
  next: Date | null;
  last: { state: 'running' | 'done' | 'failed'; startedAt: Date; endedAt?: Date; rows?: number; tables?: number; error?: string } | null;
  lastSuccessAt: Date | null;
  done: number;
  failed: number;
  /** How the last refresh that ended did (the one running now, if any, aside): what /readyz answers on. */
  lastEnded: 'done' | 'failed' | null;
}

export interface RefreshStatusJson {
  readonly next: string | null;
  readonly last: { state: 'running' | 'done' | 'failed'; startedAt: string; endedAt?: string; rows?: number; tables?: number; error?: string } | null;
  readonly lastSuccessAt: string | null;
  readonly done: number;
  readonly failed: number;
}

export interface ResyncProgress {
  id: string;
  table: string;
  state: 'running' | 'done';
  since: string;
  /** How many times it started over (after a restart of ferry, a lost connection, a column added). */
  restarts: number;
  chunks: number;
  rows: number;
  /** Rows read so far as the stream met an update that left values out (Postgres TOAST), which the target may have lacked the row for. */
  readAhead: number;
  ms?: number;
}

/**
 * The running pipeline as its events tell it: what the admin API and the metrics read. Lag is
 * measured on the source's clock: now, moved by the offset the last heartbeat measured, minus the
 * source commit time of the last applied transaction (a heartbeat one on a quiet source).
 */
export class LiveStatus {
  phase: Phase = 'starting';
  paused = false;
  applied: { position: Position; commitTime: Date } | null = null;
  head: Position | null = null;
  retainedBytes: number | null = null;
  /** The source's clock minus ours, from the last heartbeat; null before the first. */
  clockOffsetMs: number | null = null;
  transactions = 0;
  events = 0;
  readonly snapshot = new Map<string, TableProgress>();
  /** The source tables the stream replicates (`schema.table`), as of its last start. */
  tables: readonly string[] = [];
  /** The tables held: the checkpoint's as the stream started, then as committed transactions set or lift them. */
  holds: Record<string, TableHold> = {};
  cutover: { id: string; state: CutoverState; reason?: string; finalPosition?: string } | null = null;
  lastError: { kind: string; message: string; at: Date } | null = null;
  resync: ResyncProgress | null = null;
  refresh: RefreshStatus | null = null;
  /** The pipelines it waits for (phase waiting), [] once it started; null for a pipeline that depends on none. */
  waitingFor: readonly string[] | null = null;
  /** Where the admin API has this pipeline's routes, for the hints naming them: '' in a one-pipeline process, /pipelines/{name} in one of several. */
  routes = '';
  readonly #offs: (() => void)[];

  constructor(
    readonly pipeline: string,
    bus: FerryEventBus,
    private readonly now: () => number = Date.now,
  ) {
    const table = (name: string) => {
      let t = this.snapshot.get(name);
      if (!t) this.snapshot.set(name, (t = { rows: 0, estimated: 0, done: false }));
      return t;
    };
    this.#offs = [
      bus.on('phase', ({ phase }) => (this.phase = phase)),
      bus.on('paused', ({ paused }) => (this.paused = paused)),
      bus.on('snapshot-table-started', ({ table: name, estimatedRows, resumedRows }) => {
        Object.assign(table(name), { rows: resumedRows, estimated: estimatedRows, done: false });
      }),
      bus.on('snapshot-chunk-loaded', ({ table: name, totalRows }) => (table(name).rows = totalRows)),
      bus.on('snapshot-table-done', ({ table: name, rows }) => Object.assign(table(name), { rows, done: true })),
      bus.on('batch-applied', (b) => {
        this.applied = { position: b.position, commitTime: b.commitTime };
        this.transactions += b.transactions;
        this.events += b.events;
      }),
      bus.on('heartbeat', (h) => {
        this.clockOffsetMs = h.clockOffsetMs;
        this.head = h.head;
        this.retainedBytes = h.retainedBytes;
      }),
      bus.on('stream-started', ({ tables, holds }) => {
        if (tables) this.tables = tables;
        if (holds) this.holds = { ...holds };
      }),
      bus.on('table-hold', ({ table, hold }) => {
        if (hold) this.holds[table] = hold;
        else delete this.holds[table];
      }),
      bus.on('failure', ({ kind, message }) => (this.lastError = { kind, message, at: new Date(this.now()) })),
      bus.on('resync-started', ({ id, table: name, since, restarted }) => {
        const restarts = !restarted ? 0 : this.resync?.id === id ? this.resync.restarts + 1 : 1;
        this.resync = { id, table: name, state: 'running', since, restarts, chunks: 0, rows: 0, readAhead: 0 };
      }),
      bus.on('resync-chunk', ({ id, chunks, rows, readAhead }) => {
        if (this.resync?.id === id) Object.assign(this.resync, { chunks, rows, readAhead });
      }),
      bus.on('resync-done', ({ id, chunks, rows, ms }) => {
        if (this.resync?.id === id) Object.assign(this.resync, { state: 'done', chunks, rows, ms: Math.round(ms) });
      }),
      bus.on('refresh-scheduled', ({ next }) => (this.#refresh().next = next)),
      bus.on('refresh-started', ({ startedAt }) => (this.#refresh().last = { state: 'running', startedAt })),
      bus.on('refresh-done', ({ startedAt, endedAt, rows, tables }) => {
        const r = this.#refresh();
        Object.assign(r, { last: { state: 'done', startedAt, endedAt, rows, tables }, lastSuccessAt: endedAt, done: r.done + 1, lastEnded: 'done' });
      }),
      bus.on('refresh-failed', ({ startedAt, endedAt, message }) => {
        const r = this.#refresh();
        Object.assign(r, { last: { state: 'failed', startedAt, endedAt, error: message }, failed: r.failed + 1, lastEnded: 'failed' });
      }),
      bus.on(
        'cutover-state',
        ({ id, state, reason, finalPosition }) => (this.cutover = { id, state, ...(reason ? { reason } : {}), ...(finalPosition ? { finalPosition } : {}) }),
      ),
    ];
  }

  #refresh(): RefreshStatus {
    this.refresh ??= { next: null, last: null, lastSuccessAt: null, done: 0, failed: 0, lastEnded: null };
    return this.refresh;
  }

  /** Seconds between the source's now and the commit time of the last applied transaction; null before the first. */
  lagSeconds(): number | null {
    if (!this.applied) return null;
    return Math.max(0, (this.now() + (this.clockOffsetMs ?? 0) - this.applied.commitTime.getTime()) / 1000);
  }

  /** Null when it cannot be told: nothing applied yet, no head read yet, or (MySQL) the two in different binlog files. */
  lagBytes(): number | null {
    return this.applied ? bytesBehind(this.applied.position, this.head) : null;
  }

  /**
   * Ready: streaming, no table quarantined (its changes are not applied), and lag known and below
   * `maxLagSeconds` (a stalled stream's lag grows past it). A refresh pipeline (snapshot.schedule),
   * which never streams: while its last refresh succeeded, idle or refreshing again.
   */
  readiness(maxLagSeconds: number): { ready: boolean; reason: string; quarantined?: string[] } {
    if (this.refresh && !UNREADY_REFRESH.has(this.phase)) return refreshReadiness(this.refresh);
    if (this.phase !== 'streaming') return { ready: false, reason: `phase is ${this.phase}, not streaming` };
    const quarantined = quarantinedTables(this.holds);
    if (quarantined.length > 0) {
      return {
        ready: false,
        reason: `quarantined (the target rejected a row; its changes are not applied): ${quarantined.join(', ')}; fix the target, then POST ${this.routes}/tables/{schema.table}/resync`,
        quarantined,
      };
    }
    const lag = this.lagSeconds();
    if (lag === null) return { ready: false, reason: 'nothing applied yet since the stream started' };
    if (lag > maxLagSeconds) return { ready: false, reason: `replication lag ${lag.toFixed(1)} s is above ${maxLagSeconds} s` };
    return { ready: true, reason: `streaming, lag ${lag.toFixed(1)} s` };
  }

  toJSON(): LiveStatusJson {
    return {
      pipeline: this.pipeline,
      phase: this.phase,
      paused: this.paused,
      sourceHead: this.head ? formatPosition(this.head) : null,
      appliedPosition: this.applied ? formatPosition(this.applied.position) : null,
      lagSeconds: this.lagSeconds(),
      lagBytes: this.lagBytes(),
      slotRetainedBytes: this.retainedBytes,
      lastAppliedCommitTime: this.applied?.commitTime.toISOString() ?? null,
      applied: { transactions: this.transactions, events: this.events },
      snapshot: [...this.snapshot.entries()].map(([table, p]) => ({ table, ...p })),
      cutover: this.cutover,
      holds: Object.fromEntries(Object.entries(this.holds).map(([table, hold]) => [table, holdJson(hold)])),
      lastError: this.lastError ? { ...this.lastError, at: this.lastError.at.toISOString() } : null,
      resync: this.resync && { ...this.resync },
      refresh: this.refresh && refreshJson(this.refresh),
      ...(this.waitingFor ? { waitingFor: [...this.waitingFor] } : {}),
    };
  }

  close(): void {
    this.#offs.forEach((off) => off());
  }
}

/** The phases in which a refresh pipeline is not ready, whatever its last refresh did. */
const UNREADY_REFRESH: ReadonlySet<Phase> = new Set(['waiting', 'stopping', 'stopped', 'failed']);

/** A refresh pipeline between or during its refreshes: ready while the last one that ended succeeded. */
function refreshReadiness(r: RefreshStatus): { ready: boolean; reason: string } {
  if (r.lastEnded === 'failed') return { ready: false, reason: 'the last refresh failed (GET /status: refresh.last, lastError)' };
  if (r.lastEnded === null) return { ready: false, reason: 'no refresh has succeeded yet' };
  const again = r.last?.state === 'running' ? '; refreshing again' : '';
  return { ready: true, reason: `refreshed at ${r.lastSuccessAt!.toISOString()}${again}` };
}

function refreshJson(r: RefreshStatus): RefreshStatusJson {
  const last = r.last && { ...r.last, startedAt: r.last.startedAt.toISOString(), endedAt: r.last.endedAt?.toISOString() };
  return { next: r.next?.toISOString() ?? null, last, lastSuccessAt: r.lastSuccessAt?.toISOString() ?? null, done: r.done, failed: r.failed };
}
