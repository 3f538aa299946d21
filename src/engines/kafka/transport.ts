/**
 * ferry's own small Kafka port: what the producing sink and the applying processes need, and no
 * more, so the client library behind it (kafkajs today) can be swapped. kafkajs-transport.ts is
 * the only importer of kafkajs.
 */
export interface OutgoingMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
}

export interface IncomingMessage {
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface PartitionBatch extends TopicPartition {
  /** In offset order. */
  readonly messages: readonly IncomingMessage[];
  /** The offset the next message written to the partition will get. */
  readonly highWatermark: bigint;
}

export interface KafkaProducer {
  /**
   * Sends, and resolves once every in-sync replica has the messages (acks: all). Messages with the
   * same topic and key keep their order. Callers never send concurrently.
   */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface BatchContext {
  /** False once this member no longer owns the partition (a rebalance) or the consumer is stopping. */
  owned(): boolean;
  /** Tells the group this member is alive, during long work on one batch. */
  heartbeat(): Promise<void>;
}

export interface KafkaConsumer {
  /**
   * Consumes `topics` (from their start, for a new group) until close(): `onBatch` gets each
   * partition's messages in order and resolves to how many of them, from the first, it consumed;
   * their offsets are committed to the group, and the rest come again (here, or to the member the
   * partition went to). Settles when the consumer stops; rejects with what `onBatch` threw, which stops it.
   */
  run(topics: readonly string[], onBatch: (batch: PartitionBatch, context: BatchContext) => Promise<number>): Promise<void>;
  /** The partitions assigned to this member changed (rebalance): `partitions` is the new set. */
  onAssignment(listener: (partitions: readonly TopicPartition[]) => void): void;
  close(): Promise<void>;
}

export interface KafkaTransport {
  /** The partition count of each of `topics` that exists; missing topics are absent. */
  partitions(topics: readonly string[]): Promise<Map<string, number>>;
  /** Every topic in the cluster. */
  topicNames(): Promise<string[]>;
  /** Every message of a one-partition topic, from its start to its end now. */
  readAll(topic: string): Promise<IncomingMessage[]>;
  producer(options: { idempotent: boolean }): Promise<KafkaProducer>;
  /**
   * A member of `group`. `concurrency`: partitions whose batches are applied at once;
   * `fetchBytes`: what one fetch may bring per partition, when more than the client's default.
   */
  consumer(group: string, options: { concurrency: number; fetchBytes?: number }): KafkaConsumer;
  close(): Promise<void>;
}
