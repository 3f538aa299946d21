import { Gauge, Histogram, type Registry } from 'prom-client';
import type { FerryEventBus } from '../core/events.js';
import { LATENCY_BUCKETS } from './buckets.js';

/** Which ends of a pipeline are Kafka: only those export the Kafka metrics. */
export interface KafkaEnds {
  /** An applying process: it reads a consumer group. */
  readonly source: boolean;
  /** A producing process. */
  readonly target: boolean;
}

/** The Kafka path's metrics for the ends that are Kafka, following `events`; returns the unsubscribes. */
export function registerKafkaMetrics(registry: Registry, events: FerryEventBus, ends: KafkaEnds): (() => void)[] {
  const registers = [registry];
  const offs: (() => void)[] = [];
  if (ends.source) {
    const consumerLag = new Gauge({
      name: 'ferry_kafka_consumer_lag_messages',
      help: 'Kafka applier: messages in each partition it owns not yet applied, after its last batch',
      labelNames: ['topic', 'partition'],
      registers,
    });
    offs.push(
      events.on('kafka-consumer-lag', ({ topic, partition, lag }) => {
        if (lag === null) consumerLag.remove({ topic, partition });
        else consumerLag.set({ topic, partition }, lag);
      }),
    );
  }
  if (ends.target) {
    const produceSeconds = new Histogram({
      name: 'ferry_kafka_produce_seconds',
      help: 'Kafka producer: time from sending a request of change messages to every in-sync replica acknowledging it',
      registers,
      buckets: [...LATENCY_BUCKETS],
    });
    offs.push(events.on('kafka-produced', ({ ms }) => produceSeconds.observe(ms / 1000)));
  }
  return offs;
}
