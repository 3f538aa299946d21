import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { FerryEventBus } from '../core/events.js';
import { FerryMetrics } from '../metrics/metrics.js';
import { runPipeline } from '../pipeline/coordinator.js';
import { runRefreshes } from '../pipeline/refreshes.js';
import { runKafkaApplier } from '../pipeline/kafka-applier.js';
import { openSink, openSinkToRead, openSource } from '../pipeline/endpoints.js';
import type { StoredDeadLetter } from '../core/dead-letter.js';
import { LiveStatus } from '../pipeline/live-status.js';
import { PauseGate } from '../core/pause-gate.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import { CutoverController } from './cutover.js';
import { ResyncRequests } from '../pipeline/resync-requests.js';
import { rulesTransform } from '../transforms/rules.js';
import { READY_MAX_LAG_DEFAULT } from '../config.js';
import { notify } from '../notify/notifier.js';
import { RecentEvents } from '../notify/recent-events.js';
import { WebhookReceiver } from '../notify/webhook.js';
import { watchLag } from '../notify/lag-watch.js';

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

/** The target's last dead letters, on connections of their own (the stream's are busy applying). */
async function readDeadLetters(config: Config, log: Logger, limit: number): Promise<StoredDeadLetter[]> {
  const sink = await openSinkToRead(config, log);
  try {
    return (await sink.readDeadLetters?.(limit)) ?? [];
  } finally {
    await sink.close();
  }
}

/** Why this process cannot resync a table at all: it does not read the source, or cannot empty the table it writes. */
function resyncRefusal(config: Config): { message: string; hint: string } | null {
  if (config.source.type === 'kafka')
    return {
      message: 'this process applies from Kafka: it does not read the source tables a resync copies',
      hint: 'a resync runs on a pipeline from a database to a database; here, re-snapshot the producing pipeline (snapshot.mode: always)',
    };
  if (config.target.type === 'kafka')
    return {
      message: 'a resync cannot empty a table on a kafka target: its topics keep every message',
      hint: 'resync on a pipeline whose target is a database, or re-snapshot the producing pipeline (snapshot.mode: always)',
    };
  return null;
}

/**
 * A pipeline with what operates it: live status, metrics, and the admin API with pause and cutover.
 * A completed cutover ends the stream; the admin API stays up until close() so GET /cutover answers.
 */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const { config, log, events } = o;
  const status = new LiveStatus(config.pipeline, events);
  const receivers = config.notify.webhooks.map((w) => new WebhookReceiver(w, events, log));
  const metrics = new FerryMetrics(
    config.pipeline,
    events,
    status,
    { source: config.source.type === 'kafka', target: config.target.type === 'kafka' },
    receivers.map((r) => r.name),
  );
  const recent = new RecentEvents();
  const closeNotify = notify(config.pipeline, events, recent, receivers);
  const stopLagWatch = watchLag(events, status, config.admin?.readyMaxLagSeconds ?? READY_MAX_LAG_DEFAULT);
  const gate = new PauseGate(events);
  const resyncs = new ResyncRequests(log, resyncRefusal(config));
  const streamStop = new AbortController();
  let pipeline: Promise<void> = Promise.resolve();
  const cutover = new CutoverController({
    events,
    status,
    log,
    openSource: () => openSource(config, log),
    openSink: () => openSink(config, log),
    stopStream: async () => {
      streamStop.abort();
      await pipeline;
    },
    defaultVerify: config.cutover.verify,
    transform: rulesTransform(config.transforms),
    resyncs,
  });
  let admin: AdminServer | null = null;
  if (config.admin) {
    admin = await startAdminServer(config.admin.listen, {
      status,
      metrics,
      gate,
      cutover,
      resyncs,
      token: config.admin.token,
      readyMaxLagSeconds: config.admin.readyMaxLagSeconds,
      log,
      recentEvents: recent,
      ...(config.target.type === 'kafka' ? {} : { deadLetters: (limit: number) => readDeadLetters(config, log, limit) }),
    });
  }
  // A SIGTERM aborts a cutover that has not started stopping the stream, unfencing the source before ferry goes.
  const onStop = () => void cutover.settle('ferry received SIGTERM/SIGINT');
  o.signal.addEventListener('abort', onStop, { once: true });
  const signal = AbortSignal.any([o.signal, streamStop.signal]);
  const { source } = config;
  pipeline =
    source.type === 'kafka'
      ? runKafkaApplier({ config: { ...config, source }, log, events, gate, signal })
      : config.snapshot.schedule && o.until === 'stream'
        ? runRefreshes({ config, log, events, until: 'snapshot', signal }, config.snapshot.schedule)
        : runPipeline({ config, log, events, gate, until: o.until, signal, resyncs });
  // Whatever ended the pipeline, no cutover is left holding the source fenced.
  const settled = pipeline.finally(() => cutover.settle('the pipeline stopped').finally(() => o.signal.removeEventListener('abort', onStop)));
  const done = settled.then(() => (streamStop.signal.aborted ? ('cut-over' as const) : ('stopped' as const)));
  return {
    adminUrl: admin?.url ?? null,
    status,
    done,
    async close() {
      stopLagWatch();
      await closeNotify();
      await admin?.close();
      metrics.close();
      status.close();
    },
  };
}
