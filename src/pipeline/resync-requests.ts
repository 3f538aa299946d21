import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { tableKey } from '../core/change-event.js';
import type { TableSchema } from '../core/schema.js';
import type { TableHolds } from '../core/table-hold.js';
import type { ReplayRun, ReplayTally } from './replay.js';
import type { ResyncRun } from './resync.js';

/** A resync or replay request refused: 404 for a table not replicated, 409 for one that cannot be resynced now or here. */
export class ResyncRefused extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The table the checkpoint holds 'resyncing' (a resync a restart interrupted), if any: one at a time. */
export function resyncingTable(holds: TableHolds | undefined): string | null {
  return Object.entries(holds ?? {}).find(([, h]) => h.state === 'resyncing')?.[0] ?? null;
}

/** What one stream attempt offers: its replicated tables, and a resync run on its stream. */
export interface ResyncAttempt {
  readonly tables: readonly TableSchema[];
  /** Settles when the run's last chunk is committed (a replay's: of its last table); a failure fails the attempt, and the next one starts the run over. */
  run(run: ResyncRun | ReplayRun, restarted: boolean): Promise<void>;
}

/** A replay as POST /dead-letters/replay and GET /dead-letters/replay answer it. */
export interface ReplayView extends ReplayTally {
  readonly id: string;
  readonly since: string;
}

/**
 * POST /tables/{schema.table}/resync and POST /dead-letters/replay, one run at a time, across stream
 * attempts: a run that an attempt ended (a lost connection) starts over on the next, as does a resync
 * the checkpoint still holds after a restart (or kill -9), whose table is 'resyncing' there. A replay
 * that a restart interrupted is not started again: what it marked is committed with its rows, and a
 * new request replays what is left.
 */
export class ResyncRequests {
  #attempt: ResyncAttempt | null = null;
  #current: ResyncRun | ReplayRun | null = null;
  #lastReplay: ReplayRun | null = null;
  /** Settles each replay's waiters once it is done. */
  readonly #replayDone = new Map<string, () => void>();

  /** `refusal`: why this pipeline cannot resync at all (a kafka target), with the hint. */
  constructor(
    private readonly log: Logger,
    private readonly refusal: { readonly message: string; readonly hint: string } | null = null,
  ) {}

  /** The stream attempt a run can start on: refused on a pipeline that cannot, while not streaming, and while another run goes on. */
  #free(what: string): ResyncAttempt {
    if (this.refusal) throw new ResyncRefused(409, this.refusal.message, this.refusal.hint);
    const attempt = this.#attempt;
    if (!attempt)
      throw new ResyncRefused(
        409,
        'the pipeline is not streaming',
        `${what} once GET /status shows the phase streaming (after the snapshot, or once the stream reconnected)`,
      );
    const current = this.#current;
    if (current)
      throw new ResyncRefused(
        409,
        'replay' in current ? `a replay of dead letters is running (${current.id})` : `a resync of ${current.table} is running (${current.id})`,
        'one resync or replay at a time: wait until GET /status (resync) or GET /dead-letters/replay shows it done',
      );
    return attempt;
  }

  /** The replicated table `name`, or 404 naming the replicated ones. */
  static #table(attempt: ResyncAttempt, name: string): TableSchema {
    const table = attempt.tables.find((t) => tableKey(t.source) === name);
    if (table) return table;
    const names = attempt.tables.map((t) => tableKey(t.source));
    const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length} in all)` : '');
    throw new ResyncRefused(404, `${name} is not a replicated table`, `name a source table as schema.table, one of: ${shown}`);
  }

  request(name: string): ResyncRun {
    const attempt = this.#free('resync');
    const table = ResyncRequests.#table(attempt, name);
    if (table.primaryKey.length === 0)
      throw new ResyncRefused(
        409,
        `${name} has no primary key: a resync reads and injects rows by key`,
        `add a primary key to ${name} at the source, or re-snapshot (snapshot.mode: always)`,
      );
    const run: ResyncRun = { id: randomUUID(), table: name, since: new Date().toISOString() };
    this.#current = run;
    this.#launch(attempt, run, false);
    return run;
  }

  /**
   * Replays the dead letters of `table` (every table's when null) and waits up to `waitMs` for it to
   * be committed: `done` says whether it was. A table with no letters left is replayed at once, with nothing.
   */
  async replay(table: string | null, waitMs: number): Promise<{ done: boolean; view: ReplayView }> {
    const attempt = this.#free('replay');
    if (table !== null) ResyncRequests.#table(attempt, table);
    const since = new Date().toISOString();
    const run: ReplayRun = { id: randomUUID(), table: table ?? '*', since, replay: { table, state: 'running', tables: {}, left: {} } };
    const done = new Promise<void>((resolve) => this.#replayDone.set(run.id, resolve));
    this.#current = run;
    this.#lastReplay = run;
    this.#launch(attempt, run, false);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    return { done: run.replay.state === 'done', view: replayView(run) };
  }

  /** The last replay of this process, running or done. */
  get lastReplay(): ReplayView | null {
    return this.#lastReplay && replayView(this.#lastReplay);
  }

  /** The resync or replay running, if any. */
  get current(): ResyncRun | ReplayRun | null {
    return this.#current;
  }

  /**
   * A stream attempt begins with the checkpoint's `holds`: the run an earlier attempt left, or the one
   * the checkpoint holds 'resyncing', starts over on it; a run whose table the target quarantined
   * since it was asked for ends (a resync of it again would be refused the same rows). Returns the
   * detach for when the attempt ends.
   */
  attach(attempt: ResyncAttempt, holds: TableHolds | undefined): () => void {
    this.#attempt = attempt;
    const current = this.#current;
    const hold = current && holds?.[current.table];
    if (current && hold?.state === 'quarantined' && hold.since > current.since) {
      this.log.warn({ table: current.table, id: current.id }, `the resync of ${current.table} ended: the target rejected a row of it, and it is quarantined`);
      this.#current = null;
    }
    // A table held 'resyncing' that the attempt does not replicate (excluded since) cannot be copied by its stream.
    const held = resyncingTable(holds);
    const served = attempt.tables.some((t) => tableKey(t.source) === held) ? held : null;
    const run = this.#current ?? (served && { id: randomUUID(), table: served, since: new Date().toISOString() });
    if (run) {
      this.log.info(
        { table: run.table, id: run.id },
        'replay' in run ? 'the replay of dead letters starts over with those not replayed yet' : `the resync of ${run.table} starts over from its first chunk`,
      );
      this.#current = run;
      this.#launch(attempt, run, true);
    }
    return () => {
      if (this.#attempt === attempt) this.#attempt = null;
    };
  }

  #launch(attempt: ResyncAttempt, run: ResyncRun | ReplayRun, restarted: boolean): void {
    attempt.run(run, restarted).then(
      () => {
        if (this.#current === run) this.#current = null;
        this.#replayDone.get(run.id)?.();
        this.#replayDone.delete(run.id);
      },
      // The attempt fails with it (and says why); the next attempt starts it over.
      () => {},
    );
  }
}

/** A copy of the run's tally as the API shows it. */
function replayView(run: ReplayRun): ReplayView {
  const { table, state, tables, left } = run.replay;
  return { id: run.id, since: run.since, table, state, tables: structuredClone(tables), left: { ...left } };
}
