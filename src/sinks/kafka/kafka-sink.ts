import type { Logger } from 'pino';
import { pickKey, tableKey, type ChangeEvent, type TableId, type Transaction, type Value } from '../../core/change-event.js';
import { cutOverCheckpoint, type Checkpoint, type SnapshotProgress } from '../../core/checkpoint.js';
import type { Position } from '../../core/position.js';
import type { FerryEventBus } from '../../core/events.js';
import { actsOnRows, type Column, type ForeignKey, type TableSchema } from '../../core/schema.js';
import type { Sink, SinkTransaction } from '../../core/sink.js';
import type { CheckProblem } from '../../core/check-problem.js';
import { FerryError } from '../../core/errors.js';
import { eventOrigin, TableCodec, type SchemaMessage } from '../../engines/kafka/envelope.js';
import { KafkajsTransport } from '../../engines/kafka/kafkajs-transport.js';
import { Topics } from '../../engines/kafka/topics.js';
import type { KafkaProducer, KafkaTransport, OutgoingMessage } from '../../engines/kafka/transport.js';
import { readProducerState, producerStateMessage, type ProducerState } from './producer-state.js';

export interface KafkaSinkOptions {
  readonly brokers: readonly string[];
  readonly topicPrefix: string;
  readonly idempotent: boolean;
  readonly singleTopic: boolean;
  readonly pipeline: string;
  readonly log: Logger;
  /** Produce latency goes to the metrics through it. */
  readonly events?: FerryEventBus;
}

/**
 * Bytes of one produce request at most: under a broker's default message.max.bytes (1 MiB), which
 * bounds each partition's batch in it, whatever partitions its keys hash to.
 */
const MAX_REQUEST_BYTES = 900_000;

/**
 * The producing end of the Kafka path: every change into the topic of its table, keyed by primary
 * key, and the pipeline's checkpoint into `<prefix>.ferry.checkpoint` only once Kafka has acknowledged
 * the changes before it (acks: all). Kafka holds no transactions: a crash between the two sends the
 * changes after the checkpoint again, so the topics are at-least-once, in order per key.
 */
export class KafkaSink implements Sink {
  readonly #topics: Topics;
  readonly #codecs = new Map<string, TableCodec>();
  /** undefined until read from the checkpoint topic. */
  #state: ProducerState | null | undefined = undefined;
  /** Sends one at a time: kafkajs may reorder concurrent sends (its issue #598). */
  #sending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly o: KafkaSinkOptions,
    private readonly transport: KafkaTransport,
    private readonly producer: KafkaProducer,
  ) {
    this.#topics = new Topics(o.topicPrefix);
  }

  static async open(o: KafkaSinkOptions): Promise<KafkaSink> {
    const transport = new KafkajsTransport(o.brokers, o.log);
    try {
      return new KafkaSink(o, transport, await transport.producer({ idempotent: o.idempotent }));
    } catch (err) {
      await transport.close();
      throw err;
    }
  }

  /** `ferry check`: the brokers answer, and ferry's own topics exist with one partition. */
  static async check(target: { brokers: readonly string[]; topicPrefix: string; singleTopic: boolean }, log: Logger): Promise<CheckProblem[]> {
    const transport = new KafkajsTransport(target.brokers, log);
    try {
      const topics = new Topics(target.topicPrefix);
      const own = [topics.schema, topics.checkpoint, ...(target.singleTopic ? [topics.changes] : [])];
      return topicProblems(own, await transport.partitions(own), own);
    } catch (err) {
      return [
        {
          check: 'target',
          message: `cannot reach Kafka at ${target.brokers.join(', ')}: ${(err as Error).message}`,
          hint: 'check target.brokers and that the brokers are running',
        },
      ];
    } finally {
      await transport.close();
    }
  }

  /**
   * Checks that every topic exists (ferry does not create topics: their partitions and retention are
   * the operator's choice) and publishes each table's schema, which the change messages refer to.
   */
  async prepare(tables: readonly TableSchema[]): Promise<void> {
    const keyless = tables.filter((t) => t.primaryKey.length === 0).map((t) => tableKey(t.source));
    if (keyless.length > 0) {
      throw new FerryError('config', `table${keyless.length === 1 ? '' : 's'} without a primary key cannot go through Kafka: ${keyless.join(', ')}`, {
        hint: 'Kafka holds changes at least once (a restarted producer sends again what followed its checkpoint), and appliers can tell repeats apart only by key: add a primary key, or exclude the table (tables.exclude) and copy it directly',
      });
    }
    for (const t of tables) this.#codecs.set(tableKey(t.source), new TableCodec(t));
    const single = [this.#topics.schema, this.#topics.checkpoint, ...(this.o.singleTopic ? [this.#topics.changes] : [])];
    const wanted = [...single, ...(this.o.singleTopic ? [] : tables.map((t) => this.#topics.table(t.source)))];
    const problems = topicProblems(wanted, await this.transport.partitions(wanted), single);
    if (problems.length > 0) {
      throw new FerryError('config', `Kafka topics are missing or wrong:\n${problems.map((p) => `  ${p.message}`).join('\n')}`, { hint: problems[0]!.hint });
    }
    await this.#publishSchemas(tables);
  }

  async #publishSchemas(tables: readonly TableSchema[]): Promise<void> {
    await this.#send(
      tables.map((t) => {
        const message: SchemaMessage = { version: this.#codec(t.source).version, table: t };
        // One key per version: compaction must keep every version a message in the topics may refer to.
        return { topic: this.#topics.schema, key: `${tableKey(t.source)}@${message.version}`, value: JSON.stringify(message) };
      }),
    );
  }

  async loadCheckpoint(): Promise<Checkpoint | null> {
    const state = await this.#recorded();
    if (!state) return null;
    const { phase, position, tables, cutOverAt } = state;
    return { phase, position, ...(tables ? { tables } : {}), ...(cutOverAt ? { cutOverAt } : {}) };
  }

  async loadSnapshotProgress(): Promise<SnapshotProgress[]> {
    return [...((await this.#recorded())?.progress ?? [])];
  }

  /** The last state recorded: read from the topic once (a consumer group's join takes seconds), then kept, as this process is its only writer. */
  async #recorded(): Promise<ProducerState | null> {
    if (this.#state === undefined) this.#state = await readProducerState(this.transport, this.#topics.checkpoint, this.o.pipeline);
    return this.#state;
  }

  beginSnapshot(): Promise<void> {
    return this.#record(() => ({ phase: 'snapshot', position: null, tables: [], progress: [] }));
  }

  async loadChunk(table: TableSchema, rows: readonly (readonly Value[])[], progress: SnapshotProgress): Promise<void> {
    const codec = this.#codec(table.source);
    const origin = eventOrigin(this.o.pipeline, progress.position, new Date(), true);
    const topic = this.#topicOf(table.source);
    // In single-topic mode a chunk is a group of its own: appliers apply it whole.
    const closing = this.o.singleTopic ? rows.length - 1 : -1;
    await this.#send(rows.map((values, i) => ({ topic, ...codec.encode(codec.snapshotEvent(values), origin, i === closing) })));
    await this.#record((state) => ({ ...state, progress: [...state.progress.filter((p) => p.table !== progress.table), progress] }));
  }

  finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    return this.#record(() => ({ phase: checkpoint.phase, position: checkpoint.position, tables: tables.map((t) => tableKey(t.source)), progress: [] }));
  }

  async begin(): Promise<SinkTransaction> {
    return new KafkaSinkTransaction(this);
  }

  /** The transaction's changes, in order, each with the source transaction it came from. */
  async produce(transactions: readonly Transaction[], last: boolean): Promise<void> {
    const changes = transactions.flatMap((t) => {
      const origin = eventOrigin(this.o.pipeline, t.position, t.commitTime, false);
      return t.events.flatMap((e) => {
        if (e.op === 't' && !this.o.singleTopic) {
          throw new FerryError(
            'fatal',
            `TRUNCATE of ${tableKey(e.table)} cannot be carried in per-key order over Kafka: appliers of different partitions would each apply it at another point`,
            {
              hint: 'set target.singleTopic: true (one partition, total order), or exclude the table and copy it again',
            },
          );
        }
        const codec = this.#codec(e.table);
        return perKey(codec, e).map((change) => ({ change, codec, origin }));
      });
    });
    const closing = last && this.o.singleTopic ? changes.length - 1 : -1;
    await this.#send(changes.map(({ change, codec, origin }, i) => ({ topic: this.#topicOf(change.table), ...codec.encode(change, origin, i === closing) })));
  }

  /** The schema with `columns` added, published before any change that carries them. */
  async addColumns(table: TableId, columns: readonly Column[]): Promise<void> {
    const known = this.#codec(table).table;
    const updated = { ...known, columns: [...known.columns, ...columns.filter((c) => !known.columns.some((k) => k.name === c.name))] };
    this.#codecs.set(tableKey(table), new TableCodec(updated));
    await this.#publishSchemas([updated]);
  }

  /** The stream's position, recorded once everything before it is acknowledged. */
  commit(checkpoint: Checkpoint): Promise<void> {
    return this.#record((state) => ({ ...state, phase: checkpoint.phase, position: checkpoint.position }));
  }

  /**
   * Records the state `update` makes of the last one. Callers update only after Kafka acknowledged
   * what the update describes; updates apply at once, in call order (parallel snapshot chunks), and
   * each message carries every update before it, so the last one written is the newest.
   */
  async #record(update: (state: ProducerState) => ProducerState): Promise<void> {
    const state = update(this.#state ?? { phase: 'snapshot', position: null, progress: [] });
    this.#state = state;
    await this.#send([{ topic: this.#topics.checkpoint, ...producerStateMessage(this.o.pipeline, state) }]);
  }

  /** Sends in requests of at most MAX_REQUEST_BYTES, one request at a time. */
  #send(messages: readonly OutgoingMessage[]): Promise<void> {
    const sent = this.#sending.then(async () => {
      let start = 0;
      while (start < messages.length) {
        let end = start;
        for (let bytes = 0; end < messages.length && (end === start || bytes + messages[end]!.value.length < MAX_REQUEST_BYTES); end++) {
          bytes += messages[end]!.value.length + messages[end]!.key.length;
        }
        const began = performance.now();
        await this.producer.send(messages.slice(start, end));
        this.o.events?.emit('kafka-produced', { messages: end - start, ms: performance.now() - began });
        start = end;
      }
    });
    this.#sending = sent.catch(() => {});
    return sent;
  }

  #codec(table: TableId): TableCodec {
    const codec = this.#codecs.get(tableKey(table));
    if (!codec) throw new FerryError('fatal', `no schema for source table ${tableKey(table)}`);
    return codec;
  }

  #topicOf(table: TableId): string {
    return this.o.singleTopic ? this.#topics.changes : this.#topics.table(table);
  }

  /** The terminal state, into the checkpoint topic like every other (the stream, its other writer, has stopped). */
  async recordCutover(final: Position): Promise<void> {
    const cutOver = cutOverCheckpoint(await this.loadCheckpoint(), final);
    await this.#record((state) => ({ ...state, phase: cutOver.phase, position: cutOver.position, cutOverAt: new Date() }));
  }

  async close(): Promise<void> {
    await this.#sending;
    await this.producer.close().catch(() => {});
    await this.transport.close();
  }
}

/** One batch of source transactions into Kafka; there is nothing to roll back once sent. */
class KafkaSinkTransaction implements SinkTransaction {
  #pending: readonly Transaction[] = [];

  constructor(private readonly sink: KafkaSink) {}

  /** Holds the last write back until the next one or the commit, which marks its end in single-topic mode. */
  async write(transactions: readonly Transaction[]): Promise<void> {
    if (this.#pending.length > 0) await this.sink.produce(this.#pending, false);
    this.#pending = transactions;
  }

  addColumns(table: TableId, columns: readonly Column[]): Promise<void> {
    return this.sink.addColumns(table, columns);
  }

  /** A foreign key with actions added mid-stream: the rows it changes never reach the binlog, nor Kafka (ferry check refuses them at the start). */
  async setForeignKeys(table: TableId, foreignKeys: readonly ForeignKey[]): Promise<void> {
    const acting = foreignKeys.filter(actsOnRows);
    if (acting.length === 0) return;
    throw new FerryError(
      'fatal',
      `${tableKey(table)} gained foreign key ${acting.map((fk) => fk.name).join(', ')} with referential actions, whose changes MySQL does not write to the binlog and the Kafka path cannot reproduce`,
      {
        hint: 'the checkpoint is before the ALTER TABLE; drop the foreign key or make it ON DELETE/UPDATE RESTRICT at the source, or replicate the table to a database target directly',
      },
    );
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    await this.sink.produce(this.#pending, true);
    this.#pending = [];
    await this.sink.commit(checkpoint);
  }

  async rollback(): Promise<void> {
    this.#pending = [];
  }
}

/**
 * An update that changes the primary key is a delete of the old key and a create of the new one,
 * each in its own key's partition (as Debezium does): as one message in the new key's partition, an
 * applier could delete the old row before another applier, behind in the old key's partition, wrote it.
 */
function perKey(codec: TableCodec, e: ChangeEvent): ChangeEvent[] {
  if (e.op !== 'u' || !e.before || codec.key(e.before) === codec.key(e.key)) return [e];
  if (e.unchanged?.length) {
    // The new row would lack those columns, and its key's applier has no old row to take them from.
    throw new FerryError(
      'fatal',
      `an update of ${tableKey(e.table)} changed the primary key without sending ${e.unchanged.join(', ')} (unchanged TOAST values), which the new key's row needs`,
      {
        hint: `ALTER TABLE ${tableKey(e.table)} REPLICA IDENTITY FULL at the source (every column is then sent), and restart`,
      },
    );
  }
  return [
    { op: 'd', table: e.table, key: pickKey(e.before, codec.table.primaryKey), before: e.before, after: null },
    { op: 'c', table: e.table, key: e.key, before: null, after: e.after, ...(e.unchanged ? { unchanged: e.unchanged } : {}) },
  ];
}

/** Topics that do not exist, and ferry's own (`single`) with more than one partition, with the commands that fix them. */
function topicProblems(wanted: readonly string[], partitions: ReadonlyMap<string, number>, single: readonly string[]): CheckProblem[] {
  const missing = wanted.filter((t) => !partitions.has(t));
  const wide = single.filter((t) => (partitions.get(t) ?? 1) > 1);
  const create = (t: string) =>
    `kafka-topics.sh --create --topic ${t} --partitions ${single.includes(t) ? 1 : 6}${single.includes(t) && !t.endsWith('.changes') ? ' --config cleanup.policy=compact' : ''}`;
  return [
    ...missing.map((t) => ({ check: 'kafka topics', message: `topic ${t} does not exist`, hint: `create it: ${create(t)} (ferry never creates topics)` })),
    ...wide.map((t) => ({
      check: 'kafka topics',
      message: `topic ${t} has ${partitions.get(t)} partitions; ferry needs 1 there to keep its order`,
      hint: `recreate it with one partition: ${create(t)}`,
    })),
  ];
}
