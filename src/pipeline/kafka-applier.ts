import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { targetSchemaOf, type Config, type KafkaSourceConfig } from '../config.js';
import { parseTableKey, tableKey, type ChangeEvent, type Transaction } from '../core/change-event.js';
import type { FerryEventBus } from '../core/events.js';
import { formatPosition, positionFromJson, type Position } from '../core/position.js';
import { announceRetry, Backoff, STREAM_BACKOFF } from '../core/retry.js';
import type { DatabaseSink } from '../core/sink.js';
import type { CheckProblem } from '../core/check-problem.js';
import { coerceError, FerryError } from '../core/errors.js';
import {
  type BatchContext,
  type Envelope,
  KAFKA_SOURCE,
  type KafkaTransport,
  type PartitionBatch,
  type SchemaCatalog,
  type TableCodec,
  type TopicPartition,
  type Topics,
} from '../engines/registry.js';
import { TableOpCounter } from './applier.js';
import { openDatabaseSink } from './endpoints.js';
import type { PauseGate } from '../core/pause-gate.js';
import { makeTableFilter } from '../core/table-mapping.js';

export interface KafkaApplierOptions {
  readonly config: Config & { readonly source: KafkaSourceConfig };
  readonly log: Logger;
  readonly events: FerryEventBus;
  readonly signal: AbortSignal;
  readonly gate?: PauseGate;
}

/**
 * An applying process of the Kafka path: one member of the consumer group `source.group`, applying
 * the partitions the group gives it to the database target. Each partition's batch commits in one
 * target transaction with the partition's next offset (DESIGN §3.2), after locking that offset, so a
 * redelivery, or two members around a rebalance, never apply a message twice. Only then is the
 * group's offset committed, which is for lag visibility: the target's offsets decide what is applied.
 */
export async function runKafkaApplier(o: KafkaApplierOptions): Promise<void> {
  const { config, events, log } = o;
  const transport = KAFKA_SOURCE.transport(config.source.brokers, log);
  let sink: DatabaseSink | null = null;
  try {
    events.emit('phase', { phase: 'preflight' });
    sink = await openDatabaseSink(config, log);
    const topics = KAFKA_SOURCE.topics(config.source.topicPrefix);
    const names = await changeTopics(transport, topics, config);
    const applier = new PartitionApplier(sink, KAFKA_SOURCE.schemaCatalog(transport, topics, targetSchemaOf(config)), topics.changes, o);
    events.emit('phase', { phase: 'streaming' });
    log.info(
      { group: config.source.group, topics: names },
      `applying ${names.length} topic${names.length === 1 ? '' : 's'} in consumer group ${config.source.group}`,
    );
    const backoff = new Backoff(STREAM_BACKOFF);
    while (!o.signal.aborted) {
      try {
        await consumeOnce(transport, names, applier, o);
      } catch (err) {
        const error = coerceError(err);
        if (error.kind !== 'retriable' || o.signal.aborted) throw error;
        const delayMs = announceRetry(events, error, backoff, null);
        await sleep(delayMs, undefined, { signal: o.signal }).catch(() => {});
      }
    }
    events.emit('phase', { phase: 'stopped' });
  } catch (err) {
    const error = coerceError(err);
    events.emit('failure', { kind: error.kind, message: error.message });
    events.emit('phase', { phase: 'failed' });
    throw error;
  } finally {
    await sink?.close();
    await transport.close();
  }
}

/** What one fetch may bring of the single topic: a group of whole source transactions must fit. */
const SINGLE_TOPIC_FETCH_BYTES = 64 * 2 ** 20;

/** `ferry check` of an applying process: the brokers answer, and the producer's schema topic is there. */
export async function checkKafkaSource(source: KafkaSourceConfig, log: Logger): Promise<CheckProblem[]> {
  const transport = KAFKA_SOURCE.transport(source.brokers, log);
  const topics = KAFKA_SOURCE.topics(source.topicPrefix);
  try {
    if ((await transport.partitions([topics.schema])).has(topics.schema)) return [];
    return [
      {
        check: 'kafka topics',
        message: `topic ${topics.schema} does not exist`,
        hint: 'start the producing ferry (target.type: kafka) with the same topicPrefix first; it checks every topic it needs',
      },
    ];
  } catch (err) {
    return [
      {
        check: 'source',
        message: `cannot reach Kafka at ${source.brokers.join(', ')}: ${(err as Error).message}`,
        hint: 'check source.brokers and that the brokers are running',
      },
    ];
  } finally {
    await transport.close();
  }
}

/** One consumer, a member of the group until ferry stops (resolves) or the consumer fails (rejects). */
async function consumeOnce(transport: KafkaTransport, topics: readonly string[], applier: PartitionApplier, o: KafkaApplierOptions): Promise<void> {
  const single = topics.includes(KAFKA_SOURCE.topics(o.config.source.topicPrefix).changes);
  // As many partitions at once as the target has connections for (snapshot.parallelism, as for a snapshot).
  const concurrency = o.config.snapshot.parallelism;
  const consumer = transport.consumer(o.config.source.group, single ? { concurrency, fetchBytes: SINGLE_TOPIC_FETCH_BYTES } : { concurrency });
  consumer.onAssignment((partitions) => applier.assigned(partitions));
  const stop = () => void consumer.close();
  o.signal.addEventListener('abort', stop, { once: true });
  try {
    if (!o.signal.aborted) await consumer.run(topics, (batch, context) => applier.apply(batch, context));
  } finally {
    o.signal.removeEventListener('abort', stop);
    await consumer.close();
  }
}

/** The change topics of the prefix that exist now, for the tables `tables.include`/`exclude` select. */
async function changeTopics(transport: KafkaTransport, topics: Topics, config: Config): Promise<string[]> {
  const selected = makeTableFilter(config.tables.include, config.tables.exclude);
  const names = (await transport.topicNames()).filter((name) => {
    if (!topics.carriesChanges(name)) return false;
    return name === topics.changes || selected(parseTableKey(name.slice(topics.prefix.length + 1)));
  });
  if (names.length === 0) {
    throw new FerryError('config', `no change topics with prefix ${topics.prefix}. exist for the selected tables`, {
      hint: 'start the producing ferry (target.type: kafka) first, or check source.topicPrefix and tables.include',
    });
  }
  return names.sort();
}

/** One decoded message: its offset, and its change (null for a tombstone, which changes nothing). */
interface Decoded {
  readonly offset: bigint;
  readonly envelope: Envelope | null;
}

/**
 * A partition's messages as the source transactions they came from: each run of one transaction's
 * messages (tombstones left out) with that transaction's own position. A dead letter records where
 * its row last changed (sql-transaction.ts), so it is the same however the partition's messages are
 * cut into batches, and a message delivered again (a producer that sent it twice, a partition read
 * anew) stores its letter once.
 */
export function sourceTransactions(messages: readonly { readonly envelope: Envelope | null }[], decode: (e: Envelope) => ChangeEvent): Transaction[] {
  const runs: { txId: string; events: ChangeEvent[]; position: Position; commitTime: Date }[] = [];
  for (const { envelope } of messages) {
    if (!envelope) continue;
    const run = runs[runs.length - 1];
    if (run?.txId === envelope.source.txId) run.events.push(decode(envelope));
    else
      runs.push({
        txId: envelope.source.txId,
        events: [decode(envelope)],
        position: positionFromJson(envelope.source.position),
        commitTime: new Date(envelope.source.ts_ms),
      });
  }
  return runs.map(({ events, position, commitTime }) => ({ events, position, commitTime }));
}

class PartitionApplier {
  /** Source table → the schema its target table was prepared for: the widest version seen (columns are only ever added). */
  readonly #prepared = new Map<string, TableCodec>();
  #owned: readonly TopicPartition[] = [];

  /** `singleTopic`: the topic whose messages come in groups of whole source transactions. */
  constructor(
    private readonly sink: DatabaseSink,
    private readonly schemas: SchemaCatalog,
    private readonly singleTopic: string,
    private readonly o: KafkaApplierOptions,
  ) {}

  /** A rebalance: the lag of partitions now elsewhere is no longer this process's to report. */
  assigned(partitions: readonly TopicPartition[]): void {
    const key = (p: TopicPartition) => `${p.topic}/${p.partition}`;
    const now = new Set(partitions.map(key));
    for (const p of this.#owned) if (!now.has(key(p))) this.o.events.emit('kafka-consumer-lag', { ...p, lag: null });
    this.#owned = partitions;
    this.o.log.info({ partitions: partitions.map(key) }, `assigned ${partitions.length} partition${partitions.length === 1 ? '' : 's'}`);
  }

  /**
   * Applies one partition's batch, or in single-topic mode its messages up to the last that closes
   * a group of whole source transactions, and returns how many it consumed: 0 leaves the batch to
   * come again (the partition went to another member, ferry is stopping, or a group is still being
   * written). A retriable failure is tried again here, with back-off, while the partition stays this member's.
   */
  async apply(batch: PartitionBatch, context: BatchContext): Promise<number> {
    const decoded = batch.messages.map((m) => ({ offset: m.offset, envelope: m.value && parseEnvelope(m.value, batch, m.offset) }));
    const count = this.singleTopic === batch.topic ? wholeGroups(batch, decoded) : decoded.length;
    if (count === 0) {
      await sleep(100);
      return 0;
    }
    const backoff = new Backoff(STREAM_BACKOFF);
    for (;;) {
      if (!(await this.#waitWhilePaused(context)) || !context.owned()) return 0;
      try {
        await this.#applyOnce(batch, decoded.slice(0, count), context);
        return count;
      } catch (err) {
        const error = coerceError(err);
        if (error.kind !== 'retriable') throw error;
        const delayMs = announceRetry(this.o.events, error, backoff, null);
        for (let waited = 0; waited < delayMs && !this.o.signal.aborted; waited += 1000) {
          await sleep(Math.min(1000, delayMs - waited));
          await context.heartbeat().catch(() => {});
        }
      }
    }
  }

  /** Paused through the admin API: waits, telling the group this member is alive. False when ferry is stopping. */
  async #waitWhilePaused(context: BatchContext): Promise<boolean> {
    while (this.o.gate?.paused && !this.o.signal.aborted) {
      await Promise.race([this.o.gate.passed(this.o.signal), sleep(1000)]);
      await context.heartbeat().catch(() => {});
    }
    return !this.o.signal.aborted;
  }

  async #applyOnce(batch: PartitionBatch, decoded: readonly Decoded[], context: BatchContext): Promise<void> {
    const started = performance.now();
    const codecs = await this.#codecs(decoded);
    // A long apply must not cost the partition: the group would hand it on after its session timeout.
    const beating = setInterval(() => void context.heartbeat().catch(() => {}), 2000);
    const tx = await this.sink.begin();
    try {
      const next = await tx.claimPartition(batch.topic, batch.partition);
      if (next > batch.highWatermark) throw topicMadeAnew(batch, next);
      if (decoded[0]!.offset > next) throw deletedBeforeApplied(batch, next, decoded[0]!.offset);
      const fresh = decoded.filter((d) => d.offset >= next);
      const runs = sourceTransactions(fresh, (e) => codecs.get(e.schema)!.decode(e));
      const changes = runs.flatMap((r) => r.events);
      const last = [...fresh].reverse().find((d) => d.envelope)?.envelope;
      const lastOffset = decoded[decoded.length - 1]!.offset;
      if (fresh.length > 0) {
        if (runs.length > 0) await tx.write(runs);
        // Tombstones too move the partition on: the offset always covers what was consumed.
        await tx.commitPartition(batch.topic, batch.partition, lastOffset + 1n);
        for (const d of tx.deadLettered?.() ?? []) this.o.events.emit('rows-dead-lettered', d);
      }
      if (last && changes.length > 0) {
        const perTable = new TableOpCounter();
        perTable.add(changes);
        this.o.events.emit('batch-applied', {
          transactions: new Set(runs.map((r) => formatPosition(r.position))).size,
          events: changes.length,
          perTable: perTable.list(),
          position: positionFromJson(last.source.position),
          commitTime: new Date(last.source.ts_ms),
          ms: performance.now() - started,
        });
      }
      this.o.events.emit('kafka-consumer-lag', { topic: batch.topic, partition: batch.partition, lag: Number(batch.highWatermark - lastOffset - 1n) });
    } finally {
      clearInterval(beating);
      await tx.rollback();
    }
  }

  /** The codec of every schema version in the batch, each table's target prepared for it first. */
  async #codecs(decoded: readonly Decoded[]): Promise<Map<string, TableCodec>> {
    const codecs = new Map<string, TableCodec>();
    for (const d of decoded) {
      if (!d.envelope || codecs.has(d.envelope.schema)) continue;
      const codec = await this.schemas.codec(d.envelope.schema);
      codecs.set(d.envelope.schema, codec);
      // A partition still behind on an older version writes its rows into the wider table as they are.
      const name = tableKey(codec.table.source);
      const prepared = this.#prepared.get(name);
      if (prepared && codec.table.columns.every((c) => prepared.table.columns.some((p) => p.name === c.name))) continue;
      const widest = this.schemas.widest(codec.table);
      await this.#prepare(widest);
      this.#prepared.set(name, widest);
    }
    return codecs;
  }

  /**
   * Creates the target table (or adds the columns a new version has) with its indexes. Members of
   * the group may do so at the same moment: the sink serializes the tables, and the loser of a race
   * to build an index finds it made and tries once more.
   */
  async #prepare(codec: TableCodec): Promise<void> {
    await this.sink.prepare([codec.table], this.o.config.snapshot.tablePrep === 'none' ? 'none' : 'create', 'stream');
    await this.sink.createIndexes([codec.table]).catch(async () => {
      await sleep(200);
      await this.sink.createIndexes([codec.table]);
    });
  }
}

/**
 * Single-topic mode: the messages up to the last one that closes a group of whole source
 * transactions (0 while the producer is still writing the first group). A group that one fetch
 * does not bring whole (larger than it, or split by the end of a log segment, where a broker ends
 * a fetch) is said rather than waited on forever.
 */
function wholeGroups(batch: PartitionBatch, decoded: readonly Decoded[]): number {
  for (let i = decoded.length - 1; i >= 0; i--) if (decoded[i]!.envelope?.transaction?.last) return i + 1;
  if (batch.highWatermark > decoded[decoded.length - 1]!.offset + 1n) {
    throw new FerryError(
      'fatal',
      `a group of source transactions in ${batch.topic} from offset ${decoded[0]!.offset} did not come whole in one fetch (at most ${SINGLE_TOPIC_FETCH_BYTES / 2 ** 20} MiB, and no further than the end of a log segment)`,
      {
        hint: "single-topic mode applies whole groups only: raise the topic's segment.bytes and the brokers' fetch.max.bytes past the largest source transaction, or use per-table topics",
      },
    );
  }
  return 0;
}

/** The target has applied past the partition's end: the topic was deleted and made again under its name. */
function topicMadeAnew(batch: PartitionBatch, next: bigint): FerryError {
  return new FerryError(
    'fatal',
    `this target has applied ${batch.topic} partition ${batch.partition} up to offset ${next}, past its end (${batch.highWatermark}): the topic was made anew under the same name`,
    {
      hint: 'offsets of a new topic mean nothing to this target: give the new topics a new topicPrefix (producer and appliers) and copy afresh',
    },
  );
}

/** Messages the partition no longer has (retention, or a topic made anew) were never applied: the target has lost those changes. */
function deletedBeforeApplied(batch: PartitionBatch, next: bigint, first: bigint): FerryError {
  return new FerryError(
    'fatal',
    `${batch.topic} partition ${batch.partition} starts at offset ${first}, but this target has applied it only up to offset ${next}: messages ${next}..${first - 1n} were deleted before they were applied`,
    {
      hint: "the topics' retention must outlast any applier outage (change topics: cleanup.policy=delete, retention.ms well beyond it); the target has lost those changes: copy it again through topics of a new topicPrefix, with a fresh snapshot",
    },
  );
}

function parseEnvelope(value: Buffer, batch: PartitionBatch, offset: bigint): Envelope {
  const envelope = KAFKA_SOURCE.parseEnvelope(value);
  if (envelope) return envelope;
  throw new FerryError('fatal', `message ${offset} of ${batch.topic} partition ${batch.partition} is not a ferry change event`, {
    hint: 'only the producing ferry may write to its topics; remove the message (or move the group and the target offsets past it) and restart',
  });
}
