import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CutoverState, FerryEventBus, Phase } from '../core/events.js';
import { LiveStatus } from '../pipeline/live-status.js';

const PHASES: readonly Phase[] = ['starting', 'preflight', 'snapshot', 'streaming', 'stopping', 'stopped', 'failed'];
const CUTOVER_STATES: readonly CutoverState[] = ['preflight', 'fencing', 'draining', 'verifying', 'finalizing', 'completed', 'failed', 'aborted'];

/**
 * ferry's Prometheus metrics (DESIGN §1.4), every series labelled with the pipeline; the only place
 * that knows prom-client. Counters follow the pipeline's events; gauges are read from the live status
 * when scraped, so lag keeps growing between events when nothing is applied.
 */
export class FerryMetrics {
  readonly registry = new Registry();
  readonly #offs: (() => void)[];

  /** Counters follow `events`; gauges read `status` (the one the admin API answers from). */
  constructor(pipeline: string, events: FerryEventBus, status: LiveStatus) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pipeline });
    collectDefaultMetrics({ register: this.registry });
    const live = status;

    new Gauge({
      name: 'ferry_phase', help: '1 for the phase the pipeline is in, 0 for the others', labelNames: ['phase'], registers,
      collect() {
        for (const p of PHASES) this.set({ phase: p }, live.phase === p ? 1 : 0);
      },
    });
    /** A gauge read from the live status at each scrape; unknown (null) is no series at all, never a reassuring 0. */
    const readGauge = (name: string, help: string, read: () => number | null) => new Gauge({
      name, help, registers,
      collect() {
        const value = read();
        if (value === null) this.remove();
        else this.set(value);
      },
    });
    readGauge('ferry_replication_lag_seconds', "source's now minus the source commit time of the last applied transaction (heartbeats included)", () => live.lagSeconds());
    readGauge('ferry_source_lag_bytes', 'source log bytes between the head and the applied position', () => live.lagBytes());
    readGauge('ferry_last_applied_timestamp_seconds', 'source commit time of the last applied transaction, unix seconds', () => (live.applied ? live.applied.commitTime.getTime() / 1000 : null));
    readGauge('ferry_slot_retained_bytes', 'Postgres source: WAL the replication slot keeps', () => live.retainedBytes);
    readGauge('ferry_source_clock_offset_seconds', "the source's clock minus ferry's, measured at each heartbeat", () => (live.clockOffsetMs === null ? null : live.clockOffsetMs / 1000));
    readGauge('ferry_paused', '1 while paused through the admin API', () => (live.paused ? 1 : 0));
    new Gauge({
      name: 'ferry_cutover_state', help: '1 for the state the cutover is in, 0 for the others (no series before a cutover)', labelNames: ['state'], registers,
      collect() {
        const cutover = live.cutover;
        if (cutover) for (const s of CUTOVER_STATES) this.set({ state: s }, cutover.state === s ? 1 : 0);
      },
    });
    const snapshotRows = new Gauge({ name: 'ferry_snapshot_rows_total', help: 'rows copied by the snapshot, per table', labelNames: ['table'], registers });
    const snapshotEstimated = new Gauge({ name: 'ferry_snapshot_rows_estimated', help: "the source's estimate of each table's rows at snapshot start", labelNames: ['table'], registers });
    const applied = new Counter({ name: 'ferry_events_applied_total', help: 'row changes applied to the target', labelNames: ['table', 'op'], registers });
    const transactions = new Counter({ name: 'ferry_transactions_applied_total', help: 'source transactions with changes applied to the target', registers });
    const batchSeconds = new Histogram({
      name: 'ferry_apply_batch_seconds', help: 'time to apply one target transaction (a batch of source transactions)', registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    const consumerLag = new Gauge({
      name: 'ferry_kafka_consumer_lag_messages', help: 'Kafka applier: messages in each partition it owns not yet applied, after its last batch', labelNames: ['topic', 'partition'], registers,
    });
    const produceSeconds = new Histogram({
      name: 'ferry_kafka_produce_seconds', help: 'Kafka producer: time from sending a request of change messages to every in-sync replica acknowledging it', registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    const errors = new Counter({ name: 'ferry_errors_total', help: 'errors by kind: retriable (the stream restarts), fatal, config, heartbeat, cutover', labelNames: ['kind'], registers });

    this.#offs = [
      events.on('snapshot-table-started', ({ table, estimatedRows, resumedRows }) => {
        snapshotEstimated.set({ table }, estimatedRows);
        snapshotRows.set({ table }, resumedRows);
      }),
      events.on('snapshot-chunk-loaded', ({ table, totalRows }) => snapshotRows.set({ table }, totalRows)),
      events.on('snapshot-table-done', ({ table, rows }) => snapshotRows.set({ table }, rows)),
      events.on('batch-applied', (b) => {
        for (const t of b.perTable) applied.inc({ table: t.table, op: t.op }, t.events);
        transactions.inc(b.transactions);
        batchSeconds.observe(b.ms / 1000);
      }),
      events.on('failure', ({ kind }) => errors.inc({ kind })),
      events.on('kafka-consumer-lag', ({ topic, partition, lag }) => {
        if (lag === null) consumerLag.remove({ topic, partition });
        else consumerLag.set({ topic, partition }, lag);
      }),
      events.on('kafka-produced', ({ ms }) => produceSeconds.observe(ms / 1000)),
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
