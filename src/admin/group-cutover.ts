import { randomUUID } from 'node:crypto';
import type { CutoverState } from '../core/events.js';
import { FerryError } from '../core/errors.js';
import type { CutoverBarrier, CutoverController, CutoverGroupMember, CutoverMemberRun, CutoverRequestBody, CutoverView } from './cutover.js';

export interface GroupCutoverView {
  readonly id: string;
  /** completed when every member completed; failed once every member ended and one did not complete; else the least advanced member's state. */
  readonly state: CutoverState;
  readonly pipelines: Readonly<Record<string, CutoverView>>;
  readonly reason?: string;
}

/** A grouped cutover names a pipeline the process does not run: the request is wrong (400), not in conflict. */
export class UnknownPipelineError extends FerryError {}

const ORDER: readonly CutoverState[] = ['preflight', 'fencing', 'draining', 'verifying', 'finalizing', 'completed'];
const TERMINAL: ReadonlySet<CutoverState> = new Set(['completed', 'failed', 'aborted']);

/**
 * Cuts several pipelines of one process over together (POST /cutover with `{"pipelines": [...]}`):
 * each member runs its own cutover (CutoverController.join) with the same request against its own
 * source and target, and waits for the others twice: once every member has verified, and once every
 * member is ready to stop its stream. A member failing or aborted before all passed the second
 * barrier fails them all, each lifting its own fence; after it, a member's failure is its own (its
 * source stays fenced, as a one-pipeline cutover leaves it). One deadline (timeoutSeconds) for all.
 *
 * The admin API holds one per process: `new GroupCutover(controllers)` with every pipeline's
 * CutoverController by name; POST /cutover → start(body) (throws UnknownPipelineError → 400, other
 * FerryErrors of kind config → 409), GET /cutover → view() (null before the first: 404),
 * POST /cutover/abort → abort(); `active` while one runs; settle(why) on SIGTERM.
 */
export class GroupCutover {
  #current: GroupRun | null = null;

  constructor(
    private readonly controllers: ReadonlyMap<string, CutoverController>,
    /** Throws when the fence `fence` of pipelines `names` would fence the source of a pipeline not among them. */
    private readonly refuseFence: (names: readonly string[], fence: CutoverRequestBody['fence']) => void = () => {},
  ) {}

  /** Starts a grouped cutover of `body.pipelines`; refused (nothing started) when any member cannot start now. */
  start(body: CutoverRequestBody): GroupCutoverView {
    const names = body.pipelines ?? [];
    const known = [...this.controllers.keys()];
    const unknown = names.filter((n) => !this.controllers.has(n));
    if (names.length === 0 || unknown.length > 0)
      throw new UnknownPipelineError('config', names.length === 0 ? 'name the pipelines to cut over' : `no pipeline ${unknown.join(', ')} in this process`, {
        hint: `send {"pipelines": [...]} naming some of ${known.join(', ')}`,
      });
    const current = this.#current;
    if (current?.active)
      throw new FerryError('config', `a grouped cutover (${current.id}) is running`, { hint: 'follow it with GET /cutover, or POST /cutover/abort' });
    this.refuseFence(names, body.fence);
    for (const name of names) {
      try {
        this.controllers.get(name)!.checkStart({ streaming: true });
      } catch (err) {
        const e = err as FerryError;
        throw new FerryError('config', `pipeline ${name}: ${e.message}`, { hint: e.hint ?? 'see GET /status' });
      }
    }
    const run = new GroupRun(body, names, this.controllers);
    this.#current = run;
    return run.view();
  }

  view(): GroupCutoverView | null {
    return this.#current?.view() ?? null;
  }

  /** A grouped cutover runs: some member has not ended. */
  get active(): boolean {
    return this.#current?.active ?? false;
  }

  /** Aborts the running grouped cutover: every member aborted and unfenced. Too late once a member stops its stream. */
  async abort(): Promise<GroupCutoverView> {
    const run = this.#current;
    if (!run?.active)
      throw new FerryError('config', run ? `grouped cutover ${run.id} has ended` : 'no grouped cutover is running', { hint: 'POST /cutover starts one' });
    if (run.passed)
      throw new FerryError('config', `grouped cutover ${run.id} is stopping the streams: too late to abort`, { hint: 'wait for its end; GET /cutover' });
    await run.abort('aborted through POST /cutover/abort');
    return run.view();
  }

  /** ferry is stopping: a grouped cutover that has not started stopping streams is aborted (every fence lifted); resolves when none runs. */
  async settle(why: string): Promise<void> {
    const run = this.#current;
    if (!run?.active) return;
    if (run.passed) await run.finished();
    else await run.abort(why);
  }
}

/**
 * The part of timeoutSeconds kept for the steps after the last barrier (stop each stream, check the log
 * after it, record the cutover): a quarter of it, at most 15 s. Past the barrier a step that times out
 * leaves its source fenced, so the barrier is not passed without this much time left.
 */
function lastStepsReserveMs(timeoutSeconds: number): number {
  return Math.min(15_000, (timeoutSeconds * 1000) / 4);
}

class GroupRun {
  readonly id = randomUUID();
  readonly #members = new Map<string, CutoverMemberRun>();
  readonly #arrived: Record<CutoverBarrier, Set<string>> = { verified: new Set(), finalized: new Set() };
  readonly #waiting: Record<CutoverBarrier, { resolve: () => void; reject: (e: Error) => void }[]> = { verified: [], finalized: [] };
  readonly #timer: NodeJS.Timeout;
  /** Every member passed the last barrier: from now on each member's end is its own. */
  passed = false;
  /** Set by abort(): every member ends aborted, and none fails the others. */
  #aborting = false;
  /** The first failure before all passed the last barrier, which fails every member; or why it was aborted. */
  #reason: string | undefined;

  constructor(
    body: CutoverRequestBody,
    private readonly names: readonly string[],
    controllers: ReadonlyMap<string, CutoverController>,
  ) {
    const timeoutSeconds = body.timeoutSeconds;
    const deadline = Date.now() + timeoutSeconds * 1000;
    // The last barrier must be passed with time left for what follows it, which no failure may interrupt
    // without leaving sources fenced: stopping every stream, reading the log after it, recording the cutover.
    const lastBarrierMs = timeoutSeconds * 1000 - lastStepsReserveMs(timeoutSeconds);
    this.#timer = setTimeout(() => this.#late(timeoutSeconds), lastBarrierMs);
    for (const name of names) {
      const member: CutoverGroupMember = {
        deadline,
        barrier: (at) => this.#arrive(name, at),
        failed: (reason) => this.#failed(name, reason),
      };
      this.#members.set(name, controllers.get(name)!.join(body, member));
    }
  }

  get active(): boolean {
    return [...this.#members.values()].some((m) => !TERMINAL.has(m.state)) || this.#members.size < this.names.length;
  }

  view(): GroupCutoverView {
    const pipelines = Object.fromEntries([...this.#members].map(([name, m]) => [name, m.view()]));
    const states = Object.values(pipelines).map((v) => v.state);
    const running = states.filter((s) => !TERMINAL.has(s));
    const state: CutoverState =
      running.length > 0
        ? running.reduce((least, s) => (ORDER.indexOf(s) < ORDER.indexOf(least) ? s : least))
        : states.every((s) => s === 'completed')
          ? 'completed'
          : 'failed';
    const reason =
      this.#reason ??
      (Object.entries(pipelines)
        .filter(([, v]) => v.state !== 'completed' && v.reason)
        .map(([name, v]) => `pipeline ${name}: ${v.reason}`)
        .join('; ') ||
        undefined);
    return { id: this.id, state, pipelines, ...(reason ? { reason } : {}) };
  }

  async abort(why: string): Promise<void> {
    this.#aborting = true;
    this.#reason ??= why;
    this.#end(new FerryError('config', why));
    await Promise.all([...this.#members.values()].map((m) => m.abort(why)));
  }

  async finished(): Promise<void> {
    await Promise.all([...this.#members.values()].map((m) => m.finished()));
  }

  #arrive(name: string, at: CutoverBarrier): Promise<void> {
    if (this.#reason) return Promise.reject(new FerryError('config', this.#reason));
    this.#arrived[at].add(name);
    if (this.#arrived[at].size < this.names.length) return new Promise((resolve, reject) => this.#waiting[at].push({ resolve, reject }));
    if (at === 'finalized') {
      this.passed = true;
      clearTimeout(this.#timer);
    }
    for (const w of this.#waiting[at].splice(0)) w.resolve();
    return Promise.resolve();
  }

  /** A member failed or was aborted before it stopped its stream: before the last barrier, every other member fails too. */
  #failed(name: string, reason: string): string {
    if (this.passed || this.#aborting) return reason;
    return this.#fail(`pipeline ${name}: ${reason}`);
  }

  /** Fails every member (the one that failed already has): each lifts its own fence. */
  #fail(why: string): string {
    if (this.#reason) return this.#reason;
    const reason = `the grouped cutover failed: ${why}`;
    this.#reason = reason;
    this.#end(new FerryError('config', reason));
    // Deferred: a member can fail as it starts, before the group has started the others.
    queueMicrotask(() => {
      for (const m of this.#members.values()) void m.abort(reason, 'failed');
    });
    return reason;
  }

  /** The deadline passed before every member got past the last barrier: all fail, naming those the others wait for. */
  #late(timeoutSeconds: number): void {
    // Once every member has verified, the members behind are those not ready to stop their streams, waited for or not.
    const at: CutoverBarrier = this.#arrived.verified.size === this.names.length ? 'finalized' : 'verified';
    const behind = this.names.filter((n) => !this.#arrived[at].has(n));
    const what = at === 'verified' ? 'verified' : 'got ready to stop the stream (sequences, drain to the head, deferred constraints)';
    const reserve = lastStepsReserveMs(timeoutSeconds) / 1000;
    this.#fail(
      `${behind.length === 1 ? 'pipeline' : 'pipelines'} ${behind.join(', ')} had not ${what} within timeoutSeconds (${timeoutSeconds} s) less the ${reserve} s kept for stopping the streams and recording the cutover`,
    );
  }

  #end(e: Error): void {
    clearTimeout(this.#timer);
    for (const at of ['verified', 'finalized'] as const) for (const w of this.#waiting[at].splice(0)) w.reject(e);
  }
}
