import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CutoverState, FerryEventBus } from '../core/events.js';
import { comparePositions, formatPosition, type Position } from '../core/position.js';
import type { Sink } from '../core/sink.js';
import type { Source } from '../core/source.js';
import { coerceError, FerryError } from '../errors.js';
import type { LiveStatus } from '../pipeline/live-status.js';
import { verifyTables, type TableVerdict } from '../verify/verify.js';

/** The body of POST /cutover (DESIGN §1.3). */
export const cutoverRequestSchema = z
  .object({
    timeoutSeconds: z.number().int().min(1).max(86_400).default(300),
    maxLagSeconds: z.number().positive().default(5),
    fence: z.enum(['read-only', 'none']).default('read-only'),
    verify: z.enum(['counts', 'checksums', 'none']).default('counts'),
  })
  .strict();
export type CutoverRequest = z.infer<typeof cutoverRequestSchema>;

export interface CutoverView {
  readonly id: string;
  readonly state: CutoverState;
  readonly request: CutoverRequest;
  readonly reason?: string;
  /** Each state entered, with when (ISO) and the ms since the cutover started. */
  readonly history: readonly { state: CutoverState; at: string; ms: number }[];
  /** The last source position applied: where the target's history ends. */
  readonly finalPosition?: string;
  readonly verify?: readonly TableVerdict[];
  /** From the fence (or the marker, with fence: none) to completed. */
  readonly fencedToCompletedMs?: number;
}

export interface CutoverDeps {
  readonly events: FerryEventBus;
  readonly status: LiveStatus;
  readonly log: Logger;
  /** Connections of the cutover's own, apart from the stream's. */
  readonly openSource: () => Promise<Source>;
  readonly openSink: () => Promise<Sink>;
  /** Ends the stream after the last applied transaction; resolves when the pipeline has stopped. */
  readonly stopStream: () => Promise<void>;
}

const TERMINAL: ReadonlySet<CutoverState> = new Set(['completed', 'failed', 'aborted']);
/** How long lifting the fence may take once a cutover failed. */
const UNFENCE_TIMEOUT_MS = 30_000;

/**
 * One cutover at a time: preflight → fencing → draining → verifying → finalizing → completed, or
 * failed/aborted with the source unfenced again. Every step runs against the one deadline
 * `timeoutSeconds` sets; POST /cutover/abort, a SIGTERM, or the pipeline stopping can end it until it
 * reaches finalizing.
 */
export class CutoverController {
  #current: Run | null = null;

  constructor(private readonly deps: CutoverDeps) {}

  /** Starts a cutover; refused while one runs or after one completed. */
  start(request: CutoverRequest): CutoverView {
    const current = this.#current;
    if (current && !TERMINAL.has(current.state)) throw new FerryError('config', `a cutover (${current.id}) is already ${current.state}`, { hint: 'follow it with GET /cutover, or POST /cutover/abort' });
    if (current?.state === 'completed') throw new FerryError('config', `cutover ${current.id} has completed: the stream is stopped`, { hint: 'nothing more to do; restart ferry to stream again' });
    const run = new Run(randomUUID(), request, this.deps);
    this.#current = run;
    void run.execute();
    return run.view();
  }

  view(): CutoverView | null {
    return this.#current?.view() ?? null;
  }

  /** A cutover is between preflight and its end: the pipeline must not be paused meanwhile. */
  get active(): boolean {
    return this.#current !== null && !TERMINAL.has(this.#current.state);
  }

  /** Aborts the running cutover and unfences the source; resolves with its final view. */
  async abort(): Promise<CutoverView> {
    const run = this.#current;
    if (!run || TERMINAL.has(run.state)) throw new FerryError('config', run ? `cutover ${run.id} is already ${run.state}` : 'no cutover is running', { hint: 'POST /cutover starts one' });
    if (run.state === 'finalizing') throw new FerryError('config', `cutover ${run.id} is finalizing (the stream is stopping): too late to abort`, { hint: 'wait for completed; POST /cutover/abort cannot undo finalizing' });
    return run.abort('aborted through POST /cutover/abort');
  }

  /**
   * ferry is stopping (SIGTERM) or its pipeline ended: a cutover that has not reached finalizing is
   * aborted, and the source unfenced, before the process goes. Resolves when no cutover runs.
   */
  async settle(why: string): Promise<void> {
    const run = this.#current;
    if (!run || TERMINAL.has(run.state)) return;
    if (run.state === 'finalizing') return run.finished();
    await run.abort(why);
  }
}

class Run {
  state: CutoverState = 'preflight';
  readonly #started = Date.now();
  readonly #history: { state: CutoverState; at: string; ms: number }[] = [];
  readonly #abort = new AbortController();
  #reason: string | undefined;
  #finalPosition: Position | undefined;
  #verdicts: TableVerdict[] | undefined;
  #fencedAt: number | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(readonly id: string, readonly request: CutoverRequest, private readonly deps: CutoverDeps) {
    this.#enter('preflight');
  }

  view(): CutoverView {
    const completed = this.#history.find((h) => h.state === 'completed');
    return {
      id: this.id,
      state: this.state,
      request: this.request,
      ...(this.#reason ? { reason: this.#reason } : {}),
      history: [...this.#history],
      ...(this.#finalPosition ? { finalPosition: formatPosition(this.#finalPosition) } : {}),
      ...(this.#verdicts ? { verify: this.#verdicts } : {}),
      ...(completed && this.#fencedAt !== undefined ? { fencedToCompletedMs: this.#started + completed.ms - this.#fencedAt } : {}),
    };
  }

  async abort(why: string): Promise<CutoverView> {
    this.#abort.abort(new FerryError('config', why));
    await this.#done;
    return this.view();
  }

  finished(): Promise<void> {
    return this.#done;
  }

  #enter(state: CutoverState, reason?: string): void {
    this.state = state;
    if (reason) this.#reason = reason;
    this.#history.push({ state, at: new Date().toISOString(), ms: Date.now() - this.#started });
    this.deps.events.emit('cutover-state', { id: this.id, state, ...(reason ? { reason } : {}) });
    const level = state === 'failed' ? 'error' : 'info';
    this.deps.log[level]({ cutover: this.id, state, reason }, `cutover ${state}${reason ? `: ${reason}` : ''}`);
  }

  execute(): Promise<void> {
    this.#done = this.#execute();
    return this.#done;
  }

  async #execute(): Promise<void> {
    const { deps, request } = this;
    const deadline = Date.now() + request.timeoutSeconds * 1000;
    const step = <T>(what: string, work: Promise<T>) => bounded(work, deadline, this.#abort.signal, `${what} did not finish within timeoutSeconds (${request.timeoutSeconds} s)`);
    const opened: Promise<{ close(): Promise<void> }>[] = [];
    const open = <T extends { close(): Promise<void> }>(what: string, opening: Promise<T>) => {
      opened.push(opening);
      return step(what, opening);
    };
    let fencing: Promise<void> | null = null;
    let stopping = false;
    const late = lateChanges(deps.events);
    let source: Source | null = null;
    try {
      const { status } = deps;
      if (status.phase !== 'streaming') throw new FerryError('config', `the pipeline is ${status.phase}, not streaming`, { hint: 'start the cutover once the snapshot is done and the stream runs' });
      if (status.paused) throw new FerryError('config', 'the pipeline is paused: nothing would be applied', { hint: 'POST /resume first' });
      const lag = status.lagSeconds();
      if (lag === null || lag > request.maxLagSeconds) {
        throw new FerryError('config', `replication lag ${lag === null ? 'is not known yet' : `${lag.toFixed(1)} s is above maxLagSeconds ${request.maxLagSeconds}`}`, { hint: 'wait until ferry has caught up (GET /status), then try again' });
      }
      source = await open('opening the source', deps.openSource());
      const sink = await open('opening the target', deps.openSink());
      const tables = await step('describing the tables', source.describeTables());

      this.#enter('fencing');
      const marker = `cutover:${this.id}`;
      const applied = waitForMarker(deps.events, marker);
      try {
        // The fence's own statements give up at the deadline (lock_wait_timeout, statement_timeout), so it settles before any unfence.
        fencing = request.fence === 'read-only' ? source.fence(marker, Math.max(1, (deadline - Date.now()) / 1000)) : source.beat(marker);
        await step(request.fence === 'read-only' ? 'fencing the source' : 'writing the fence marker', fencing);
        this.#fencedAt = Date.now();

        this.#enter('draining');
        this.#finalPosition = await step('draining to the fence marker', applied.promise);
      } finally {
        applied.cancel();
      }
      late.watch();

      if (request.verify !== 'none') {
        this.#enter('verifying');
        // Drained to the fence: the source is quiet, so the first comparison is exact.
        this.#verdicts = await step('verifying', verifyTables(source, sink, tables, request.verify, { recheck: 0, signal: this.#abort.signal }));
        const differ = this.#verdicts.filter((v) => !v.equal);
        if (differ.length > 0) throw new FerryError('fatal', `verify (${request.verify}) found differences in ${differ.map((v) => v.table).join(', ')}`, { hint: 'run `ferry verify` to see the differing key ranges' });
      }

      this.#enter('finalizing');
      await step('moving target sequences', (async () => sink.advanceSequences(tables, await source.nextKeyValues(tables)))());
      // Everything the source logged until now is applied before the stream stops: a write that got
      // past the fence shows up here, instead of being left behind unreplicated.
      const head = await step('reading the source head', source.headPosition());
      // A heartbeat of its own right away, rather than waiting for the next: the applied position passes the head with it.
      await source.beat().catch(() => {});
      await step('draining to the source head', waitApplied(deps.status, head, this.#abort.signal));
      late.check();
      stopping = true;
      await step('stopping the stream', deps.stopStream());
      late.check();
      this.#enter('completed');
    } catch (err) {
      const aborted = this.#abort.signal.aborted && !stopping;
      let reason = aborted ? (this.#abort.signal.reason as Error).message : coerceError(err).message;
      if (stopping) {
        // The stream has stopped or is stopping: lifting the fence now would let writes in that nothing replicates.
        reason += '; the stream stopped, so the source STAYS FENCED: restart ferry (it resumes from the checkpoint) and cut over again, or unfence by hand';
      } else if (fencing && source) {
        reason += await unfence(source, fencing);
      }
      if (!aborted) deps.events.emit('failure', { kind: 'cutover', message: reason });
      this.#enter(aborted ? 'aborted' : 'failed', reason);
    } finally {
      late.stop();
      // Connections opened late (after their step gave up) are closed as they arrive.
      for (const o of opened) void o.then((c) => c.close(), () => {});
    }
  }
}

/** Lifts a fence, after its own statements have settled (they share the connection); says how that went. */
async function unfence(source: Source, fencing: Promise<void>): Promise<string> {
  try {
    await fencing.catch(() => {});
    await bounded(source.unfence(), Date.now() + UNFENCE_TIMEOUT_MS, new AbortController().signal, `unfencing did not finish within ${UNFENCE_TIMEOUT_MS / 1000} s`);
    return '; the source is writable again';
  } catch (err) {
    return `; UNFENCING FAILED, the source may still be read-only (SET GLOBAL read_only = OFF, or ALTER DATABASE … RESET default_transaction_read_only): ${(err as Error).message}`;
  }
}

/**
 * Source transactions with changes applied after the fence marker: writes that got past the fence
 * (an account with SUPER or READ ONLY ADMIN, a session that set default_transaction_read_only off).
 */
function lateChanges(events: FerryEventBus): { watch(): void; check(): void; stop(): void } {
  let count = 0;
  let off = () => {};
  return {
    watch() {
      off = events.on('batch-applied', (b) => (count += b.transactions));
    },
    check() {
      if (count > 0) {
        throw new FerryError('fatal', `${count} source transaction(s) with changes were written after the fence`, {
          hint: 'some session bypasses the fence (MySQL/MariaDB: accounts with SUPER or READ ONLY ADMIN; Postgres: a session that sets default_transaction_read_only off); stop those writers, or use fence: none after stopping the application',
        });
      }
    },
    stop: () => off(),
  };
}

/** Resolves once the applied position has reached `head`. */
async function waitApplied(status: LiveStatus, head: Position, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    if (status.applied && comparePositions(status.applied.position, head) >= 0) return;
    await sleep(50);
  }
}

/** Resolves with the position of the target commit that carried `marker`. */
function waitForMarker(events: FerryEventBus, marker: string): { promise: Promise<Position>; cancel: () => void } {
  let off = () => {};
  const promise = new Promise<Position>((resolve) => {
    off = events.on('marker-applied', (m) => {
      if (m.marker === marker) resolve(m.position);
    });
  });
  return { promise: promise.finally(() => off()), cancel: () => off() };
}

/** `work`, or a rejection at the deadline or on abort, whichever comes first. */
function bounded<T>(work: Promise<T>, deadline: number, signal: AbortSignal, timeoutMessage: string): Promise<T> {
  work.catch(() => {}); // settled later, after the race is lost
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new FerryError('fatal', timeoutMessage, { hint: 'raise timeoutSeconds, or find what holds the step up in the log' }))), Math.max(0, deadline - Date.now()));
    const onAbort = () => finish(() => reject(signal.reason as Error));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      settle();
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then((v) => finish(() => resolve(v)), (e: unknown) => finish(() => reject(e as Error)));
  });
}
