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
import { PipelineCutOver } from '../pipeline/snapshot-decision.js';
import { PauseGate } from '../core/pause-gate.js';
import type { PipelineAdminDeps } from './admin-server.js';
import { CutoverController, type CutoverDeps } from './cutover.js';
import { ResyncRequests } from '../pipeline/resync-requests.js';
import { rulesTransform } from '../transforms/rules.js';
import { READY_MAX_LAG_DEFAULT } from '../config.js';
import { watchLag } from '../notify/lag-watch.js';

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

export interface PipelineUnitOptions {
  readonly config: Config;
  /** This pipeline's logger (a child naming it, in a process of several). */
  readonly log: Logger;
  readonly events: FerryEventBus;
  /** The webhook receivers' names, for their metrics in this pipeline's registry; none where the process keeps them. */
  readonly receivers: readonly string[];
  /** Whether this pipeline's registry has the process's own metrics (nodejs_*, process_*): false where a process registry has them. */
  readonly processMetrics: boolean;
  /** Throws when its cutover alone may not fence its source (another pipeline of the process reads it too). */
  readonly refuseFence?: CutoverDeps['refuseFence'];
  /** Where the admin API has its routes: /pipelines/{name} in a process of several; '' (the default) in a one-pipeline process. */
  readonly routes?: string;
}

/**
 * One pipeline with what operates it (DESIGN §1.3): live status, metrics, pause, resyncs and its
 * cutover; the admin API and the notifications are the process's. Built first, run later (run()), so
 * the admin API is up before any pipeline starts and a pipeline can wait for others.
 */
export class PipelineUnit {
  readonly name: string;
  readonly config: Config;
  readonly log: Logger;
  readonly events: FerryEventBus;
  readonly status: LiveStatus;
  readonly metrics: FerryMetrics;
  readonly gate: PauseGate;
  readonly resyncs: ResyncRequests;
  readonly cutover: CutoverController;
  readonly #streamStop = new AbortController();
  readonly #stopLagWatch: () => void;
  #pipeline: Promise<void> = Promise.resolve();
  /** Its checkpoint said it was cut over before this run: ferry run refused it. */
  #cutOverBefore = false;

  constructor(o: PipelineUnitOptions) {
    const { config, log, events } = o;
    this.name = config.pipeline;
    this.config = config;
    this.log = log;
    this.events = events;
    this.status = new LiveStatus(config.pipeline, events);
    this.status.routes = o.routes ?? '';
    this.metrics = new FerryMetrics(
      config.pipeline,
      events,
      this.status,
      { source: config.source.type === 'kafka', target: config.target.type === 'kafka' },
      o.receivers,
      o.processMetrics,
    );
    this.#stopLagWatch = watchLag(events, this.status, config.admin?.readyMaxLagSeconds ?? READY_MAX_LAG_DEFAULT);
    this.gate = new PauseGate(events);
    this.resyncs = new ResyncRequests(log, resyncRefusal(config));
    this.cutover = new CutoverController({
      events,
      status: this.status,
      log,
      openSource: () => openSource(config, log),
      openSink: () => openSink(config, log),
      stopStream: async () => {
        this.#streamStop.abort();
        await this.#pipeline;
      },
      defaultVerify: config.cutover.verify,
      transform: rulesTransform(config.transforms),
      resyncs: this.resyncs,
      ...(o.refuseFence ? { refuseFence: o.refuseFence } : {}),
    });
  }

  /** What the admin API answers for this pipeline. */
  adminDeps(): PipelineAdminDeps {
    const { config, log } = this;
    return {
      status: this.status,
      metrics: this.metrics,
      gate: this.gate,
      cutover: this.cutover,
      resyncs: this.resyncs,
      readyMaxLagSeconds: config.admin?.readyMaxLagSeconds ?? READY_MAX_LAG_DEFAULT,
      log,
      done: () => this.cutOver,
      ...(config.target.type === 'kafka' ? {} : { deadLetters: (limit: number) => readDeadLetters(config, log, limit) }),
    };
  }

  /**
   * Runs the pipeline until `signal` (SIGTERM/SIGINT, or a pipeline it depends on failed) drains it,
   * a cutover stops it ('cut-over': GET /cutover tells whether it completed), or it fails (rejects).
   */
  run(signal: AbortSignal, until: 'snapshot' | 'stream'): Promise<'stopped' | 'cut-over'> {
    const { config, log, events, gate, resyncs, cutover } = this;
    // A SIGTERM aborts a cutover that has not started stopping the stream, unfencing the source before ferry goes;
    // so does a pipeline it depends on failing (the process aborts `signal` with why, a string).
    const onStop = () => void cutover.settle(typeof signal.reason === 'string' ? signal.reason : 'ferry received SIGTERM/SIGINT');
    signal.addEventListener('abort', onStop, { once: true });
    const both = AbortSignal.any([signal, this.#streamStop.signal]);
    const { source } = config;
    this.#pipeline =
      source.type === 'kafka'
        ? runKafkaApplier({ config: { ...config, source }, log, events, gate, signal: both })
        : config.snapshot.schedule && until === 'stream'
          ? runRefreshes({ config, log, events, until: 'snapshot', signal: both }, config.snapshot.schedule)
          : runPipeline({ config, log, events, gate, until, signal: both, resyncs });
    this.#pipeline = this.#pipeline.catch((err: unknown) => {
      if (err instanceof PipelineCutOver) this.#cutOverBefore = true;
      throw err;
    });
    // Whatever ended the pipeline, no cutover is left holding the source fenced.
    const settled = this.#pipeline.finally(() => cutover.settle('the pipeline stopped').finally(() => signal.removeEventListener('abort', onStop)));
    return settled.then(() => (this.#streamStop.signal.aborted ? ('cut-over' as const) : ('stopped' as const)));
  }

  /** Cut over for good: in this run, or before it. */
  get cutOver(): boolean {
    return this.#cutOverBefore || this.cutover.view()?.state === 'completed';
  }

  close(): void {
    this.#stopLagWatch();
    this.metrics.close();
    this.status.close();
  }
}
