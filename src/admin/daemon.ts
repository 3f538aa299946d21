import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { FerryEventBus } from '../core/events.js';
import type { LiveStatus } from '../pipeline/live-status.js';
import { startProcess } from './process.js';

export interface DaemonOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly events: FerryEventBus;
  /** SIGTERM/SIGINT: drain and stop. */
  readonly signal: AbortSignal;
  readonly until: 'snapshot' | 'stream';
}

export interface Daemon {
  /** The admin API's address; null without an `admin` section in the config. */
  readonly adminUrl: string | null;
  readonly status: LiveStatus;
  /** Settles when the pipeline stops: 'cut-over' when a cutover stopped it (GET /cutover tells whether it completed). */
  readonly done: Promise<'stopped' | 'cut-over'>;
  /** Closes the admin API (after `done`). */
  close(): Promise<void>;
}

/**
 * A process of one pipeline (the demo's): its status, metrics, notifications and the admin API with
 * pause and cutover. A completed cutover ends the stream; the admin API stays up until close() so GET
 * /cutover answers.
 */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const { config, log, events } = o;
  const proc = await startProcess({ pipelines: [{ config, log, events }], multi: false, log, signal: o.signal, until: o.until });
  const unit = proc.pipelines[0]!;
  const done = proc.done.then((outcome) => {
    const failure = outcome.failed[0];
    if (failure) throw failure.error;
    return outcome.cutOver.length > 0 ? ('cut-over' as const) : ('stopped' as const);
  });
  return { adminUrl: proc.adminUrl, status: unit.status, done, close: () => proc.close() };
}
