import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { tableKey } from '../core/change-event.js';
import type { TableSchema } from '../core/schema.js';
import type { TableHolds } from '../core/table-hold.js';
import type { ResyncRun } from './resync.js';

/** A resync request refused: 404 for a table not replicated, 409 for one that cannot be resynced now or here. */
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
  /** Settles when the run's last chunk is committed; a failure fails the attempt, and the next one starts the run over. */
  run(run: ResyncRun, restarted: boolean): Promise<void>;
}

/**
 * POST /tables/{schema.table}/resync, one at a time, across stream attempts: a run that an attempt
 * ended (a lost connection) starts over on the next, as does one the checkpoint still holds after a
 * restart (or kill -9), whose table is 'resyncing' there.
 */
export class ResyncRequests {
  #attempt: ResyncAttempt | null = null;
  #current: ResyncRun | null = null;

  /** `refusal`: why this pipeline cannot resync at all (a kafka target), with the hint. */
  constructor(
    private readonly log: Logger,
    private readonly refusal: { readonly message: string; readonly hint: string } | null = null,
  ) {}

  request(name: string): ResyncRun {
    if (this.refusal) throw new ResyncRefused(409, this.refusal.message, this.refusal.hint);
    const attempt = this.#attempt;
    if (!attempt)
      throw new ResyncRefused(
        409,
        'the pipeline is not streaming',
        'resync once GET /status shows the phase streaming (after the snapshot, or once the stream reconnected)',
      );
    const table = attempt.tables.find((t) => tableKey(t.source) === name);
    if (!table) {
      const names = attempt.tables.map((t) => tableKey(t.source));
      const shown = names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length} in all)` : '');
      throw new ResyncRefused(404, `${name} is not a replicated table`, `name a source table as schema.table, one of: ${shown}`);
    }
    if (table.primaryKey.length === 0)
      throw new ResyncRefused(
        409,
        `${name} has no primary key: a resync reads and injects rows by key`,
        `add a primary key to ${name} at the source, or re-snapshot (snapshot.mode: always)`,
      );
    if (this.#current)
      throw new ResyncRefused(
        409,
        `a resync of ${this.#current.table} is running (${this.#current.id})`,
        'one resync at a time: wait until GET /status shows it done',
      );
    const run: ResyncRun = { id: randomUUID(), table: name, since: new Date().toISOString() };
    this.#current = run;
    this.#launch(attempt, run, false);
    return run;
  }

  /** The resync running, if any. */
  get current(): ResyncRun | null {
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
    const held = resyncingTable(holds);
    const run = this.#current ?? (held && { id: randomUUID(), table: held, since: new Date().toISOString() });
    if (run) {
      this.log.info({ table: run.table, id: run.id }, `the resync of ${run.table} starts over from its first chunk`);
      this.#current = run;
      this.#launch(attempt, run, true);
    }
    return () => {
      if (this.#attempt === attempt) this.#attempt = null;
    };
  }

  #launch(attempt: ResyncAttempt, run: ResyncRun, restarted: boolean): void {
    attempt.run(run, restarted).then(
      () => {
        if (this.#current === run) this.#current = null;
      },
      // The attempt fails with it (and says why); the next attempt starts it over.
      () => {},
    );
  }
}
