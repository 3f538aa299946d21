import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FAILURE_KINDS, type CutoverState, type FerryEventBus, type Phase } from '../core/events.js';
import type { LiveStatus } from '../pipeline/live-status.js';
import { VERSION } from '../version.js';
import { REJECTION_REASONS } from '../core/target-rejection.js';
import { LATENCY_BUCKETS } from './buckets.js';
import { registerKafkaMetrics, type KafkaEnds } from './kafka-metrics.js';
import { registerNotificationMetrics } from './notification-metrics.js';

const PHASES: readonly Phase[] = ['waiting', 'starting', 'preflight', 'snapshot', 'streaming', 'idle', 'stopping', 'stopped', 'failed'];
const CUTOVER_STATES: readonly CutoverState[] = ['preflight', 'fencing', 'draining', 'verifying', 'finalizing', 'completed', 'failed', 'aborted'];
/**
 * prom-client's gauges of the active handles, requests and resources named `_total`, which
 * `promtool check metrics` refuses on a gauge (DESIGN §1.4); their siblings without the suffix
 * (`nodejs_active_handles{type}` …) carry the same numbers by type.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * ferry's Prometheus metrics (DESIGN §1.4), every series labelled with the pipeline; the only place
 * that knows prom-client. Counters follow the pipeline's events; gauges are read from the live status
 * when scraped, so lag keeps growing between events when nothing is applied.
 */
export class FerryMetrics {
  readonly registry = new Registry();
  readonly #offs: (() => void)[];

  /**
   * Counters follow `events`; gauges read `status` (the one the admin API answers from). The Kafka
   * metrics exist only for the ends that are Kafka (`kafka`); the notification ones have a series per webhook `receivers`.
   * `processMetrics`: the process's own (nodejs_*, process_*) too; false in a process of several pipelines, whose ProcessMetrics has them.
   */
  constructor(pipeline: string, events: FerryEventBus, status: LiveStatus, kafka: KafkaEnds, receivers: readonly string[] = [], processMetrics = true) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pipeline });
    if (processMetrics) collectProcessMetrics(this.registry);
    const live = status;

    new Gauge({ name: 'ferry_build_info', help: "1, labelled with ferry's version", labelNames: ['version'], registers }).set({ version: VERSION }, 1);

    new Gauge({
      name: 'ferry_phase',
      help: '1 for the phase the pipeline is in, 0 for the others',
      labelNames: ['phase'],
      registers,
      collect() {
        for (const p of PHASES) this.set({ phase: p }, live.phase === p ? 1 : 0);
      },
    });
    /** A gauge read from the live status at each scrape; unknown (null) is no series at all, never a reassuring 0. */
    const readGauge = (name: string, help: string, read: () => number | null) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read();
          if (value === null) this.remove();
          else this.set(value);
        },
      });
    readGauge('ferry_replication_lag_seconds', "source's now minus the source commit time of the last applied transaction (heartbeats included)", () =>
      live.lagSeconds(),
    );
    readGauge('ferry_source_lag_bytes', 'source log bytes between the head and the applied position', () => live.lagBytes());
    readGauge('ferry_last_applied_timestamp_seconds', 'source commit time of the last applied transaction, unix seconds', () =>
      live.applied ? live.applied.commitTime.getTime() / 1000 : null,
    );
    readGauge('ferry_slot_retained_bytes', 'Postgres source: WAL the replication slot keeps', () => live.retainedBytes);
    readGauge('ferry_source_clock_offset_seconds', "the source's clock minus ferry's, measured at each heartbeat", () =>
      live.clockOffsetMs === null ? null : live.clockOffsetMs / 1000,
    );
    readGauge('ferry_paused', '1 while paused through the admin API', () => (live.paused ? 1 : 0));
    new Gauge({
      name: 'ferry_cutover_state',
      help: '1 for the state the cutover is in, 0 for the others (no series before a cutover)',
      labelNames: ['state'],
      registers,
      collect() {
        const cutover = live.cutover;
        if (cutover) for (const s of CUTOVER_STATES) this.set({ state: s }, cutover.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ferry_table_quarantined',
      help: '1 while the source table is quarantined (error policy quarantine-table: the target rejected a row of it, and its changes are not applied), else 0',
      labelNames: ['table'],
      registers,
      collect() {
        // Every replicated table from the stream's start, and any held table besides.
        for (const table of new Set([...live.tables, ...Object.keys(live.holds)])) this.set({ table }, live.holds[table]?.state === 'quarantined' ? 1 : 0);
      },
    });
    readGauge('ferry_refresh_next_timestamp_seconds', "a refresh pipeline's (snapshot.schedule) next tick, unix seconds", () =>
      live.refresh?.next ? live.refresh.next.getTime() / 1000 : null,
    );
    readGauge('ferry_refresh_last_success_timestamp_seconds', 'when the last refresh that succeeded ended, unix seconds (no series before the first)', () =>
      live.refresh?.lastSuccessAt ? live.refresh.lastSuccessAt.getTime() / 1000 : null,
    );
    const refreshes = new Counter({
      name: 'ferry_refreshes_total',
      help: 'refreshes (snapshot.schedule) by outcome: done, failed (tried again at the next tick)',
      labelNames: ['outcome'],
      registers,
    });
    const snapshotRows = new Counter({
      name: 'ferry_snapshot_rows_total',
      help: "rows copied by the snapshot, per table; a resumed table's count starts at the rows copied before",
      labelNames: ['table'],
      registers,
    });
    const snapshotEstimated = new Gauge({
      name: 'ferry_snapshot_rows_estimated',
      help: "the source's estimate of each table's rows at snapshot start",
      labelNames: ['table'],
      registers,
    });
    const applied = new Counter({ name: 'ferry_events_applied_total', help: 'row changes applied to the target', labelNames: ['table', 'op'], registers });
    const transactions = new Counter({ name: 'ferry_transactions_applied_total', help: 'source transactions with changes applied to the target', registers });
    const batchSeconds = new Histogram({
      name: 'ferry_apply_batch_seconds',
      help: 'time to apply one target transaction (a batch of source transactions)',
      registers,
      buckets: [...LATENCY_BUCKETS],
    });
    const errors = new Counter({
      name: 'ferry_errors_total',
      help: 'errors by kind: retriable (the stream restarts), fatal, config, heartbeat, cutover',
      labelNames: ['kind'],
      registers,
    });
    // Every kind from the start at 0: increase() over a series that appears at 1 sees no increase,
    // so the first error would never alert (DESIGN §1.4).
    for (const kind of FAILURE_KINDS) errors.inc({ kind }, 0);
    const deadLettered = new Counter({
      name: 'ferry_dead_letter_rows_total',
      help: 'rows the target rejected and ferry kept in ferry.ferry_dead_letters (error policy dead-letter), by source table and reason',
      labelNames: ['table', 'reason'],
      registers,
    });
    const replayed = new Counter({
      name: 'ferry_dead_letters_replayed_total',
      help: 'dead letters POST /dead-letters/replay marked replayed (their rows read again from the source and applied, or rejected again as new letters), by source table',
      labelNames: ['table'],
      registers,
    });
    const resynced = new Counter({
      name: 'ferry_resync_rows_total',
      help: 'rows a resync (POST /tables/{schema.table}/resync) copied again into the stream, per source table; a resync that starts over counts its rows again',
      labelNames: ['table'],
      registers,
    });

    this.#offs = [
      events.on('snapshot-table-started', ({ table, estimatedRows, resumedRows }) => {
        snapshotEstimated.set({ table }, estimatedRows);
        snapshotRows.inc({ table }, resumedRows);
      }),
      events.on('snapshot-chunk-loaded', ({ table, rows }) => snapshotRows.inc({ table }, rows)),
      events.on('batch-applied', (b) => {
        for (const t of b.perTable) applied.inc({ table: t.table, op: t.op }, t.events);
        transactions.inc(b.transactions);
        batchSeconds.observe(b.ms / 1000);
      }),
      events.on('failure', ({ kind }) => errors.inc({ kind })),
      // Both outcomes at 0 once the pipeline is a refresh one, for increase() (as errors above).
      events.on('refresh-scheduled', () => {
        refreshes.inc({ outcome: 'done' }, 0);
        refreshes.inc({ outcome: 'failed' }, 0);
      }),
      events.on('refresh-done', () => refreshes.inc({ outcome: 'done' })),
      events.on('refresh-failed', () => refreshes.inc({ outcome: 'failed' })),
      // Each dead-letter table with every reason at 0 once the stream knows its tables, for increase() (as errors above).
      events.on('stream-started', ({ deadLetterTables }) => {
        for (const table of deadLetterTables ?? []) {
          for (const reason of REJECTION_REASONS) deadLettered.inc({ table, reason }, 0);
          replayed.inc({ table }, 0);
        }
      }),
      events.on('letters-replayed', ({ table, letters }) => replayed.inc({ table }, letters)),
      events.on('rows-dead-lettered', ({ table, reason, rows }) => deadLettered.inc({ table, reason }, rows)),
      // At 0 when the resync starts, for increase() (as errors above).
      events.on('resync-started', ({ table }) => resynced.inc({ table }, 0)),
      events.on('resync-chunk', ({ table, chunkRows }) => resynced.inc({ table }, chunkRows)),
      ...registerNotificationMetrics(this.registry, events, receivers),
      ...registerKafkaMetrics(this.registry, events, kafka),
    ];
  }

  /** The Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.#offs.forEach((off) => off());
    this.registry.clear();
  }
}

/** The Node.js process's metrics (nodejs_*, process_*) in `registry`, without the ones promtool refuses. */
function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
}

/**
 * The metrics of a process of several pipelines: the process's own and the webhook receivers' (no
 * `pipeline` label: they are the process's), and every pipeline's registry, in one exposition.
 */
export class ProcessMetrics {
  readonly #registry = new Registry();
  readonly #offs: (() => void)[];

  constructor(
    events: FerryEventBus,
    receivers: readonly string[],
    private readonly pipelines: readonly FerryMetrics[],
  ) {
    collectProcessMetrics(this.#registry);
    this.#offs = registerNotificationMetrics(this.#registry, events, receivers);
  }

  /** The Prometheus text format: each family once, its series from every registry (each pipeline's labelled with it). */
  async text(): Promise<string> {
    const all = await Promise.all([this.#registry, ...this.pipelines.map((p) => p.registry)].map((r) => r.getMetricsAsJSON()));
    // Every series is in one registry only, so summing keeps each as it is; prom-client's own aggregators average or omit some.
    const asIs = all.map((metrics) => metrics.map((m) => ({ ...m, aggregator: 'sum' as const })));
    return AggregatorRegistry.aggregate(asIs).metrics();
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  close(): void {
    this.#offs.forEach((off) => off());
    this.#registry.clear();
  }
}
