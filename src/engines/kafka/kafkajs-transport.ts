import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import { FerryError } from '../../core/errors.js';
import { Backoff, type BackoffOptions } from '../../core/retry.js';
import type { IncomingMessage, KafkaConsumer, KafkaProducer, KafkaTransport, OutgoingMessage, TopicPartition } from './transport.js';

/** kafkajs errors that a later attempt may not meet: a broker down or moving, a timeout, a rebalance. */
const RETRIABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);

/** Any kafkajs failure as a FerryError: retriable when the cluster may come back, fatal otherwise. */
export function kafkaError(err: unknown, context: string): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as { name?: string; message?: string; retriable?: boolean; cause?: { name?: string; message?: string } };
  const retriable = e.retriable === true || RETRIABLE.has(e.name ?? '') || RETRIABLE.has(e.cause?.name ?? '');
  const detail = e.cause?.message && e.cause.message !== e.message ? `${e.message} (${e.cause.message})` : e.message;
  return new FerryError(retriable ? 'retriable' : 'fatal', `${context}: ${detail ?? String(err)}`, {
    cause: err,
    hint: retriable ? 'ferry retries; check that the brokers are reachable if this goes on' : "check the brokers, the topics and the client's permissions",
  });
}

/** Back-off of every request: about 30 s in all, enough to ride out a broker restarting. */
const RETRY = { initialRetryTime: 300, maxRetryTime: 5000, retries: 8 };

/** `readAll` tries a whole read this many times, waiting 0.5 s, 1 s, 2 s … (equal jitter) between tries. */
const READ_ALL_TRIES = 5;
const READ_ALL_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 4000, jitter: 'equal' };

/** kafkajs's log lines through ferry's logger, a level down: ferry reports the failures that matter itself. */
function logCreator(log: Logger) {
  const kafka = log.child({ component: 'kafka' });
  return () =>
    ({ level, log: { message, ...extra } }: LogEntry) => {
      if (level <= logLevel.WARN) kafka.warn(extra, message);
      else kafka.debug(extra, message);
    };
}

/** The Kafka port over kafkajs. */
export class KafkajsTransport implements KafkaTransport {
  readonly #kafka: Kafka;
  #admin: Promise<Admin> | null = null;

  constructor(
    brokers: readonly string[],
    private readonly log: Logger,
  ) {
    this.#kafka = new Kafka({
      clientId: 'ferry',
      brokers: [...brokers],
      logLevel: logLevel.INFO,
      logCreator: logCreator(log),
      connectionTimeout: 3000,
      retry: RETRY,
    });
  }

  #adminClient(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = this.#kafka.admin();
      await admin.connect();
      return admin;
    })();
    this.#admin.catch(() => (this.#admin = null));
    return this.#admin;
  }

  async partitions(topics: readonly string[]): Promise<Map<string, number>> {
    const admin = await this.#adminClient().catch((err) => {
      throw kafkaError(err, 'connecting to Kafka');
    });
    const existing = new Set(
      await admin.listTopics().catch((err) => {
        throw kafkaError(err, 'listing Kafka topics');
      }),
    );
    const wanted = topics.filter((t) => existing.has(t));
    if (wanted.length === 0) return new Map();
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: wanted }).catch((err) => {
      throw kafkaError(err, 'reading Kafka topic metadata');
    });
    return new Map(metadata.map((t) => [t.name, t.partitions.length]));
  }

  async topicNames(): Promise<string[]> {
    const admin = await this.#adminClient();
    return admin.listTopics().catch((err) => {
      throw kafkaError(err, 'listing Kafka topics');
    });
  }

  /** A throwaway consumer group reads the partition from its start to the end it had when asked; a broken connection is tried again. */
  async readAll(topic: string): Promise<IncomingMessage[]> {
    const backoff = new Backoff(READ_ALL_BACKOFF);
    for (;;) {
      try {
        return await this.#readAllOnce(topic);
      } catch (err) {
        const error = kafkaError(err, `reading ${topic}`);
        if (error.kind !== 'retriable' || backoff.attempt === READ_ALL_TRIES - 1) throw error;
        const delayMs = backoff.next();
        this.log.warn({ err: error.message, attempt: backoff.attempt, delayMs }, `reading ${topic} failed; trying again`);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  async #readAllOnce(topic: string): Promise<IncomingMessage[]> {
    const admin = await this.#adminClient();
    const [offsets] = await admin.fetchTopicOffsets(topic).catch((err) => {
      throw kafkaError(err, `reading the offsets of ${topic}`);
    });
    const end = BigInt(offsets?.high ?? '0');
    if (end <= BigInt(offsets?.low ?? '0')) return [];
    // A short fetch wait: disconnecting waits out the fetch in flight.
    const consumer = this.#kafka.consumer({ groupId: `ferry-reader-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
    const messages: IncomingMessage[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (!payload.restart) reject(payload.error);
        });
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) messages.push({ offset: BigInt(m.offset), key: m.key, value: m.value });
              if (BigInt(batch.lastOffset()) + 1n >= end) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => {});
    }
    return messages.filter((m) => m.offset < end);
  }

  async producer(options: { idempotent: boolean }): Promise<KafkaProducer> {
    const producer = this.#kafka.producer({
      idempotent: options.idempotent,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect().catch((err) => {
      throw kafkaError(err, 'connecting the Kafka producer');
    });
    return {
      async send(messages: readonly OutgoingMessage[]) {
        const byTopic = new Map<string, { key: string; value: string }[]>();
        for (const m of messages) {
          let list = byTopic.get(m.topic);
          if (!list) byTopic.set(m.topic, (list = []));
          list.push({ key: m.key, value: m.value });
        }
        await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) }).catch((err) => {
          throw kafkaError(err, 'producing to Kafka');
        });
      },
      close: () => producer.disconnect(),
    };
  }

  consumer(group: string, options: { concurrency: number; fetchBytes?: number }): KafkaConsumer {
    return new KafkajsConsumer(
      this.#kafka.consumer({
        // maxWaitTimeInMs: an idle fetch returns after 0.5 s (some brokers hold it that long even when data arrives).
        groupId: group,
        allowAutoTopicCreation: false,
        sessionTimeout: 10_000,
        rebalanceTimeout: 10_000,
        heartbeatInterval: 1000,
        maxWaitTimeInMs: 500,
        // ferry restarts a failed consumer itself, with a new one: kafkajs's own restart would revive one ferry closed.
        retry: { ...RETRY, restartOnFailure: async () => false },
        ...(options.fetchBytes ? { maxBytesPerPartition: options.fetchBytes, maxBytes: options.fetchBytes } : {}),
      }),
      options.concurrency,
      this.log,
    );
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = null;
    await (await admin?.catch(() => null))?.disconnect();
  }
}

/** A group member: batches per partition, manual offsets, committed after each batch is applied. */
class KafkajsConsumer implements KafkaConsumer {
  #fatal: FerryError | null = null;
  #closing = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly concurrency: number,
    private readonly log: Logger,
  ) {}

  onAssignment(listener: (partitions: readonly TopicPartition[]) => void): void {
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      listener(Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition }))));
    });
  }

  async run(topics: readonly string[], onBatch: Parameters<KafkaConsumer['run']>[1]): Promise<void> {
    const c = this.consumer;
    try {
      await c.connect();
      await c.subscribe({ topics: [...topics], fromBeginning: true });
    } catch (err) {
      throw kafkaError(err, 'joining the consumer group');
    }
    await new Promise<void>((resolve, reject) => {
      // Stopped by close(), by a failed apply, or by a crash (the cluster's doing: a broker gone, a
      // protocol error while joining), after which a new consumer may do better.
      c.on(c.events.CRASH, ({ payload }) =>
        reject(new FerryError('retriable', `the Kafka consumer crashed: ${payload.error.message}`, { cause: payload.error })),
      );
      c.on(c.events.STOP, () => {
        if (this.#fatal) reject(this.#fatal);
        else if (this.#closing) resolve();
        else reject(new FerryError('retriable', 'the Kafka consumer stopped by itself'));
      });
      c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.concurrency,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (batch.isEmpty() || this.#fatal) return;
          const messages = batch.messages.map((m) => ({ offset: BigInt(m.offset), key: m.key, value: m.value }));
          let consumed: number;
          try {
            consumed = await onBatch(
              { topic: batch.topic, partition: batch.partition, messages, highWatermark: BigInt(batch.highWatermark) },
              { owned: () => isRunning() && !isStale(), heartbeat },
            );
          } catch (err) {
            // Applying failed for good: stop consuming, and run() rejects with the cause.
            this.#fatal = err instanceof FerryError ? err : kafkaError(err, 'applying');
            void c.stop();
            return;
          }
          if (consumed === 0) return;
          const last = messages[consumed - 1]!.offset;
          resolveOffset(last.toString());
          const next = (last + 1n).toString();
          // The group's offsets are for lag visibility; the target's own offsets decide what is applied.
          await c.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]).catch((err: Error) => {
            this.log.debug(
              { err: err.message, topic: batch.topic, partition: batch.partition },
              'committing the group offset failed; the next commit covers it',
            );
          });
        },
      }).catch((err) => reject(kafkaError(err, 'the Kafka consumer')));
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.consumer.disconnect().catch(() => {});
  }
}
