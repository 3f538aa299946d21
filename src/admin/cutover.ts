import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CutoverVerify } from '../config.js';
import type { CutoverState, FerryEventBus } from '../core/events.js';
import { formatPosition, type Position } from '../core/position.js';
import { bounded, LATE_HINT, lateChanges, waitApplied, waitForMarker } from './cutover-waits.js';
import type { TableSchema } from '../core/schema.js';
import type { Sink } from '../core/sink.js';
import type { Fencing } from '../core/fencing.js';
import type { Heartbeat } from '../core/heartbeat.js';
import { readerOf } from '../core/target-reader.js';
import type { Source } from '../core/source.js';
import type { NextKeyValues, SourceCatalogue } from '../core/source-catalogue.js';
import type { SourceLog } from '../core/source-log.js';
import type { Verifiable } from '../core/verify-side.js';
import { coerceError, FerryError } from '../core/errors.js';
import type { LiveStatus } from '../pipeline/live-status.js';
import type { ReplayRun } from '../pipeline/replay.js';
import type { ResyncRun } from '../pipeline/resync.js';
import type { TableHolds } from '../core/table-hold.js';
import { holdText, quarantinedTables } from '../core/table-quarantine.js';
import { verifyTables, type TableVerdict } from '../verify/verify.js';
import { nextKeyValuesThrough } from '../transforms/passed-columns.js';
import type { Transform } from '../transforms/transform.js';

/** The body of POST /cutover (DESIGN §1.3). */
export const cutoverRequestSchema = z
  .object({
    timeoutSeconds: z.number().int().min(1).max(86_400).default(300),
    maxLagSeconds: z.number().positive().default(5),
    fence: z.enum(['read-only', 'none']).default('read-only'),
    /** Unnamed: the config's cutover.verify (checksums unless set). */
    verify: z.enum(['counts', 'checksums', 'none']).optional(),
    /** A grouped cutover of these pipelines of the process (group-cutover.ts). */
    pipelines: z
      .array(z.string().min(1))
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'names a pipeline twice')
      .optional(),
  })
  .strict();
export type CutoverRequestBody = z.infer<typeof cutoverRequestSchema>;
/** A request with every choice made: what one pipeline's cutover runs with, and GET /cutover shows. */
export type CutoverRequest = Omit<CutoverRequestBody, 'pipelines'> & { readonly verify: CutoverVerify };

/**
 * What one member of a grouped cutover (group-cutover.ts) waits on and tells its group. Its Run
 * passes barrier `verified` after verifying (before finalizing), and `finalized` once sequences
 * moved, drained to the head, holds re-checked and constraints created (before it stops the stream).
 */
export interface CutoverGroupMember {
  /** The group's one deadline (epoch ms): the waits at the barriers count against it too. */
  readonly deadline: number;
  /** Resolves once every member has reached `at`; rejects when the group fails or the deadline passes first. */
  barrier(at: CutoverBarrier): Promise<void>;
  /** This member failed or was aborted before it started stopping its stream; returns the reason it fails with. */
  failed(reason: string): string;
}
export type CutoverBarrier = 'verified' | 'finalized';

/** A member's cutover as its group sees it and ends it. */
export interface CutoverMemberRun {
  readonly id: string;
  readonly state: CutoverState;
  /** Past the point where the fence may be lifted. */
  readonly stopping: boolean;
  view(): CutoverView;
  /** Ends it before it stops the stream, unfencing the source: `aborted`, or `failed` (its group failed). */
  abort(why: string, as?: 'aborted' | 'failed'): Promise<CutoverView>;
  finished(): Promise<void>;
}

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

/**
 * The source as the cutover uses it, on connections of its own: no snapshot and no stream (the
 * pipeline's stream runs elsewhere), but the fence, the heartbeat for its marker, the log for its
 * last checks, the catalogue's sequences and verification.
 */
export type CutoverSource = SourceCatalogue & Fencing & Heartbeat & SourceLog & Verifiable & Pick<Source, 'close'>;

export interface CutoverDeps {
  readonly events: FerryEventBus;
  readonly status: LiveStatus;
  readonly log: Logger;
  /** Connections of the cutover's own, apart from the stream's. */
  readonly openSource: () => Promise<CutoverSource>;
  readonly openSink: () => Promise<Sink>;
  /** Ends the stream after the last applied transaction; resolves when the pipeline has stopped. */
  readonly stopStream: () => Promise<void>;
  /** The verification of a request that names none (config cutover.verify). */
  readonly defaultVerify: CutoverVerify;
  /** What the pipeline makes of each table (transforms.rules): the verification compares through it. */
  readonly transform?: Transform;
  /** The resync running or asked for (ResyncRequests): its table is not held in the checkpoint until its start commits; or the replay of dead letters running. */
  readonly resyncs: { readonly current: ResyncRun | ReplayRun | null };
  /** Throws when this cutover alone may not fence the source as `fence` asks (in a process of several, another pipeline reads it too). */
  readonly refuseFence?: (fence: CutoverRequestBody['fence']) => void;
}

/**
 * A cutover hands the target to the application: not while a table is held, which the target holds
 * behind the source (quarantined) or half-copied (being resynced), nor while a resync is asked for
 * whose start has not committed its hold yet, nor while a replay of dead letters writes rows the
 * target lacks.
 */
/** `routes`: where the admin API has the pipeline's routes (LiveStatus.routes). */
function refuseHeldTables(holds: TableHolds, routes: string, resync: ResyncRun | ReplayRun | null = null): void {
  const held = Object.entries(holds);
  const pending =
    resync && 'replay' in resync
      ? [`the dead letters of ${resync.replay.table ?? 'every table'} are being replayed (${resync.id}, asked for ${resync.since})`]
      : resync && !holds[resync.table]
        ? [`${resync.table} is to be resynced (${resync.id}, asked for ${resync.since})`]
        : [];
  if (held.length === 0 && pending.length === 0) return;
  const count = held.length + pending.length;
  throw new FerryError(
    'config',
    `cannot cut over while ${count === 1 ? 'a table is' : 'tables are'} held: ${[...held.map(([t, h]) => holdText(t, h)), ...pending].join('; ')}`,
    {
      hint: `fix the target, then POST ${routes}/tables/{schema.table}/resync for each quarantined table (${quarantinedTables(holds).join(', ') || 'none'}) and wait until no table is held (GET /status), then cut over`,
    },
  );
}

const TERMINAL: ReadonlySet<CutoverState> = new Set(['completed', 'failed', 'aborted']);
/** How long lifting the fence may take once a cutover failed. */
const UNFENCE_TIMEOUT_MS = 30_000;

/**
 * One cutover at a time: preflight → fencing → draining → verifying → finalizing → completed, or
 * failed/aborted with the source unfenced again. Every step runs against the one deadline
 * `timeoutSeconds` sets; POST /cutover/abort, a SIGTERM, or the pipeline stopping can end it until it
 * starts stopping the stream.
 */
export class CutoverController {
  #current: Run | null = null;

  constructor(private readonly deps: CutoverDeps) {}

  /** Starts a cutover; refused while one runs or after one completed. `pipelines` in the body is the admin API's to route. */
  start(body: CutoverRequestBody): CutoverView {
    this.deps.refuseFence?.(body.fence);
    return this.join(body).view();
  }

  /**
   * Throws why a cutover cannot start now: one runs, one completed, a table is held; and with
   * `streaming`, the pipeline is not streaming (a grouped cutover refuses that up front, where a
   * one-pipeline cutover starts and fails on it).
   */
  checkStart(o: { streaming?: boolean } = {}): void {
    const current = this.#current;
    if (current && !TERMINAL.has(current.state))
      throw new FerryError('config', `a cutover (${current.id}) is already ${current.state}`, {
        hint: `follow it with GET ${this.deps.status.routes}/cutover, or POST ${this.deps.status.routes}/cutover/abort`,
      });
    if (current?.state === 'completed') {
      throw new FerryError('config', `cutover ${current.id} has completed: the pipeline is cut over for good and the stream is stopped`, {
        hint: 'nothing more to do; ferry run refuses this pipeline from now on, and a fresh pipeline name replicates again',
      });
    }
    refuseHeldTables(this.deps.status.holds, this.deps.status.routes, this.deps.resyncs.current);
    if (o.streaming && this.deps.status.phase !== 'streaming')
      throw new FerryError('config', `the pipeline is ${this.deps.status.phase}, not streaming`, {
        hint: 'cut over once the snapshot is done and the stream runs',
      });
  }

  /** Starts a cutover, as one member of `group` when given (group-cutover.ts); refused as checkStart() says. */
  join(body: CutoverRequestBody, group?: CutoverGroupMember): CutoverMemberRun {
    this.checkStart({ streaming: group !== undefined });
    const { pipelines: _group, ...rest } = body;
    const run = new Run(randomUUID(), { ...rest, verify: body.verify ?? this.deps.defaultVerify }, this.deps, group);
    this.#current = run;
    void run.execute();
    return run;
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
    if (!run || TERMINAL.has(run.state))
      throw new FerryError('config', run ? `cutover ${run.id} is already ${run.state}` : 'no cutover is running', {
        hint: `POST ${this.deps.status.routes}/cutover starts one`,
      });
    if (run.stopping)
      throw new FerryError('config', `cutover ${run.id} is stopping the stream: too late to abort`, {
        hint: `wait for its end; GET ${this.deps.status.routes}/cutover`,
      });
    return run.abort(`aborted through POST ${this.deps.status.routes}/cutover/abort`);
  }

  /**
   * ferry is stopping (SIGTERM) or its pipeline ended: a cutover that has not started stopping the stream is
   * aborted, and the source unfenced, before the process goes. Resolves when no cutover runs.
   */
  async settle(why: string): Promise<void> {
    const run = this.#current;
    if (!run || TERMINAL.has(run.state)) return;
    if (run.stopping) return run.finished();
    await run.abort(why);
  }
}

class Run implements CutoverMemberRun {
  state: CutoverState = 'preflight';
  /** The stream is being stopped: past the point where the fence may be lifted or the cutover aborted. */
  stopping = false;
  readonly #started = Date.now();
  readonly #history: { state: CutoverState; at: string; ms: number }[] = [];
  readonly #abort = new AbortController();
  /** What an end through abort() is: asked for (aborted), or its group failed (failed). */
  #endAs: 'aborted' | 'failed' | undefined;
  #reason: string | undefined;
  #finalPosition: Position | undefined;
  #verdicts: TableVerdict[] | undefined;
  #fencedAt: number | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly request: CutoverRequest,
    private readonly deps: CutoverDeps,
    private readonly group?: CutoverGroupMember,
  ) {
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

  async abort(why: string, as: 'aborted' | 'failed' = 'aborted'): Promise<CutoverView> {
    this.#endAs ??= as;
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
    const final = state === 'completed' && this.#finalPosition ? { finalPosition: formatPosition(this.#finalPosition) } : {};
    this.deps.events.emit('cutover-state', { id: this.id, state, ...(reason ? { reason } : {}), ...final });
    const level = state === 'failed' ? 'error' : 'info';
    this.deps.log[level]({ cutover: this.id, state, reason }, `cutover ${state}${reason ? `: ${reason}` : ''}`);
  }

  execute(): Promise<void> {
    this.#done = this.#execute();
    return this.#done;
  }

  async #execute(): Promise<void> {
    const { deps, request, group } = this;
    const deadline = group?.deadline ?? Date.now() + request.timeoutSeconds * 1000;
    const step = <T>(what: string, work: Promise<T>) =>
      bounded(work, deadline, `${what} did not finish within timeoutSeconds (${request.timeoutSeconds} s)`, this.#abort.signal);
    /** A grouped cutover's member waits for the others here; without a group there is nothing to wait for. */
    const barrier = async (at: CutoverBarrier) => {
      if (!group) return;
      deps.log.info({ cutover: this.id, barrier: at }, `cutover: ${at}; waiting for the other pipelines of the group`);
      // The group rejects at the deadline naming whom it still waits for: this bound only backs it up.
      await bounded(group.barrier(at), deadline + 1000, `the group did not pass barrier ${at} within timeoutSeconds`, this.#abort.signal);
    };
    const opened: Promise<{ close(): Promise<void> }>[] = [];
    const open = <T extends { close(): Promise<void> }>(what: string, opening: Promise<T>) => {
      opened.push(opening);
      return step(what, opening);
    };
    /** Set once ferry puts up a fence (fence: read-only): lifted again on any failure before the stream stops. */
    let fencing: Promise<void> | null = null;
    /** The source was read-only before this cutover fenced it: that fence is not this cutover's to lift. */
    let fencedBefore = false;
    const late = lateChanges(deps.events);
    const polls = new AbortController(); // ends the waits a step that gave up left behind
    let source: CutoverSource | null = null;
    try {
      const { status } = deps;
      if (status.phase !== 'streaming')
        throw new FerryError('config', `the pipeline is ${status.phase}, not streaming`, {
          hint: 'start the cutover once the snapshot is done and the stream runs',
        });
      if (status.paused) throw new FerryError('config', 'the pipeline is paused: nothing would be applied', { hint: `POST ${status.routes}/resume first` });
      const lag = status.lagSeconds();
      if (lag === null || lag > request.maxLagSeconds) {
        throw new FerryError(
          'config',
          `replication lag ${lag === null ? 'is not known yet' : `${lag.toFixed(1)} s is above maxLagSeconds ${request.maxLagSeconds}`}`,
          { hint: 'wait until ferry has caught up (GET /status), then try again' },
        );
      }
      source = await open('opening the source', deps.openSource());
      const sink = await open('opening the target', deps.openSink());
      const tables = await step('describing the tables', source.describeTables());

      this.#enter('fencing');
      const marker = `cutover:${this.id}`;
      const applied = waitForMarker(deps.events, marker);
      try {
        // MariaDB's read_only is server-wide: another pipeline's cutover may have put it up and stopped its stream,
        // whose source must stay read-only whatever becomes of this cutover. Then this one writes its marker only,
        // and lifts nothing. Unknown (it cannot be read): fenced and lifted as ever.
        fencedBefore =
          request.fence === 'read-only' &&
          (await step(
            'reading the fence',
            source.fenced().catch(() => false),
          ));
        if (request.fence === 'read-only' && !fencedBefore) {
          // Bounded by the deadline itself (lock_wait_timeout, statement_timeout), and cancelled by unfence().
          fencing = source.fence(marker, Math.max(1, (deadline - Date.now()) / 1000));
          await step('fencing the source', fencing);
        } else {
          if (fencedBefore) deps.log.warn({ cutover: this.id }, "cutover: the source is read-only already (another cutover's fence?): writing the marker only");
          await step('writing the fence marker', source.beat(marker));
        }
        this.#fencedAt = Date.now();

        this.#enter('draining');
        late.watch(await step('draining to the fence marker', applied.promise));
      } finally {
        applied.cancel();
      }

      if (request.verify !== 'none') {
        this.#enter('verifying');
        // Drained to the fence: the source is quiet, so the first comparison is exact.
        this.#verdicts = await step(
          'verifying',
          verifyTables(source, readerOf(sink), tables, request.verify, {
            recheck: 0,
            signal: this.#abort.signal,
            ...(this.deps.transform ? { transform: this.deps.transform } : {}),
          }),
        );
        const differ = this.#verdicts.filter((v) => !v.equal);
        if (differ.length > 0)
          throw new FerryError('fatal', `verify (${request.verify}) found differences in ${differ.map((v) => v.table).join(', ')}`, {
            hint: 'run `ferry verify` to see the differing key ranges',
          });
      }
      await barrier('verified');

      this.#enter('finalizing');
      // A target without sequences (Kafka: they belong to the databases its appliers write) skips this step.
      // The target's steps take the tables as the target holds them: renamed, masked columns retyped, their own indexes.
      const targets = tables.map((t) => deps.transform?.plan(t).table ?? t);
      // A renamed key column's source value goes to the target's column of that name.
      const byTarget = (next: NextKeyValues) => (deps.transform ? nextKeyValuesThrough(next, tables, deps.transform) : next);
      if (sink.advanceSequences)
        await step('moving target sequences', (async () => sink.advanceSequences!(targets, byTarget(await source.nextKeyValues(tables))))());
      await step('draining to the source head', this.#drainToHead(source, tables, polls.signal));
      late.check();
      // What was held when the cutover started is not all: a table quarantined during the drain is held
      // too, as the stream committed it (before it applied the fence marker). Not read from this
      // cutover's own sink: a Kafka sink reads its checkpoint once and keeps it, which must be after the stream stopped.
      refuseHeldTables(deps.status.holds, deps.status.routes);
      // Before the stream stops, so that a constraint the target's rows break still unfences the source.
      await step('creating the deferred constraints', sink.finalizeSchema?.(targets) ?? Promise.resolve());
      // A grouped cutover stops no member's stream before every member got this far: until then, any failure lifts every fence.
      await barrier('finalized');
      this.stopping = true;
      await step('stopping the stream', deps.stopStream());
      late.check();
      // The last word: nothing replicated is in the source log after where the stream stopped.
      const final = status.applied!.position;
      const missed = await step('checking the source log after the final position', source.changesAfter(final, tables));
      if (missed > 0)
        throw new FerryError(
          'fatal',
          `${missed} change(s) to replicated tables are in the source log after the final position ${formatPosition(final)}: written past the fence, not replicated`,
          { hint: LATE_HINT },
        );
      // Done for good: a restarted ferry must not stream into the target the application takes over.
      await step('recording the cutover in the checkpoint', sink.recordCutover(final));
      this.#finalPosition = final;
      this.#enter('completed');
    } catch (err) {
      const ended = this.#abort.signal.aborted && !this.stopping;
      const aborted = ended && this.#endAs !== 'failed';
      let reason = ended ? (this.#abort.signal.reason as Error).message : coerceError(err).message;
      // Told before unfencing, so that the other members start lifting theirs at once.
      if (group && !this.stopping) reason = group.failed(reason);
      if (this.stopping) {
        // The stream has stopped or is stopping: lifting the fence now would let writes in that nothing replicates.
        reason += `; the stream stopped, so the source STAYS FENCED: unfence by hand (${UNFENCE_BY_HAND}), then restart ferry (it resumes from the checkpoint) and cut over again`;
      } else if (fencing && source) {
        reason += await unfence(source, fencing);
      } else if (fencedBefore) {
        reason += FENCED_BEFORE;
      }
      if (!aborted) deps.events.emit('failure', { kind: 'cutover', message: reason });
      this.#enter(aborted ? 'aborted' : 'failed', reason);
    } finally {
      polls.abort();
      late.stop();
      // Connections opened late (after their step gave up) are closed as they arrive.
      for (const o of opened)
        void o.then(
          (c) => c.close(),
          () => {},
        );
    }
  }

  /**
   * Everything the source logged until now is applied before the stream stops: a write that got past
   * the fence shows up here, instead of being left behind. A heartbeat of the cutover's own carries the
   * applied position past the head at once. Where none can be written (MySQL's super_read_only) and the
   * head is not reached (a binlog rotated after the marker), the log between is read for changes instead.
   */
  async #drainToHead(source: CutoverSource, tables: readonly TableSchema[], signal: AbortSignal): Promise<void> {
    const { status } = this.deps;
    const head = await source.headPosition();
    await bounded(source.beat(), Date.now() + 5000, 'heartbeat', signal).catch(() => {});
    if (await waitApplied(status, head, Date.now() + HEAD_WAIT_MS, signal)) return;
    const missed = await source.changesAfter(status.applied!.position, tables);
    if (missed > 0)
      throw new FerryError('fatal', `${missed} change(s) to replicated tables were written after the fence and are not applied yet`, { hint: LATE_HINT });
  }
}

const FENCED_BEFORE = "; the source was read-only before this cutover started (another cutover's fence?): it stays so, not lifted by this one";
const UNFENCE_BY_HAND = 'MySQL: SET GLOBAL read_only = OFF; Postgres: ALTER DATABASE … RESET default_transaction_read_only';
/** How long the applied position may take to pass the source head once a heartbeat was written. */
const HEAD_WAIT_MS = 10_000;

/**
 * Lifts a fence: unfence() cancels the fence's statement if it still waits and lifts it on a
 * connection of its own; once the fence's statements have settled, it is lifted once more, in case
 * one of them landed after. Says how that went, and what the source is now: a fence that failed
 * before it was up (no privilege to set it) left the source writable, and lifting then has nothing to do.
 */
async function unfence(source: Fencing, fencing: Promise<void>): Promise<string> {
  const lift = () => bounded(source.unfence(), Date.now() + UNFENCE_TIMEOUT_MS, `unfencing did not finish within ${UNFENCE_TIMEOUT_MS / 1000} s`);
  try {
    const first = await lift();
    await bounded(fencing, Date.now() + UNFENCE_TIMEOUT_MS, 'the fence did not settle').catch(() => {});
    const second = await lift();
    return first || second ? '; the source is writable again' : '; no fence was up: the source stayed writable';
  } catch (err) {
    const up = await bounded(source.fenced(), Date.now() + UNFENCE_TIMEOUT_MS, 'reading the fence').catch(() => null);
    const failure = (err as Error).message;
    if (up === false) return `; no fence is up: the source is writable (lifting found: ${failure})`;
    return `; UNFENCING FAILED, the source ${up ? 'IS STILL READ-ONLY' : 'may still be read-only'} (${UNFENCE_BY_HAND}): ${failure}`;
  }
}
