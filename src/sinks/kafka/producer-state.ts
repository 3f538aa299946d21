import type { Checkpoint, SnapshotProgress } from '../../core/checkpoint.js';
import { positionFromJson, positionToJson } from '../../core/position.js';
import { decodeKey, encodeKey } from '../../core/checkpoint-codec.js';
import type { KafkaTransport } from '../../engines/kafka/transport.js';

/** The producing process's checkpoint with its snapshot progress: one message, keyed by pipeline, replaces the last. */
export interface ProducerState {
  readonly phase: Checkpoint['phase'];
  readonly position: Checkpoint['position'];
  readonly tables?: readonly string[];
  readonly progress: readonly SnapshotProgress[];
  readonly cutOverAt?: Date;
}

export function producerStateMessage(pipeline: string, s: ProducerState): { key: string; value: string } {
  return {
    key: pipeline,
    value: JSON.stringify({
      phase: s.phase,
      position: s.position && positionToJson(s.position),
      ...(s.tables ? { tables: s.tables } : {}),
      ...(s.cutOverAt ? { cutOverAt: s.cutOverAt.toISOString() } : {}),
      progress: s.progress.map((p) => ({ ...p, lastKey: encodeKey(p.lastKey), position: positionToJson(p.position) })),
    }),
  };
}

/** The pipeline's last state in `topic` (a compacted topic keeps the last message per key), or null. */
export async function readProducerState(transport: KafkaTransport, topic: string, pipeline: string): Promise<ProducerState | null> {
  const mine = (await transport.readAll(topic)).filter((m) => m.key?.toString() === pipeline && m.value !== null);
  const last = mine[mine.length - 1];
  if (!last) return null;
  const v = JSON.parse(last.value!.toString()) as Record<string, unknown>;
  return {
    phase: v.phase as ProducerState['phase'],
    position: v.position ? positionFromJson(v.position) : null,
    ...(v.tables ? { tables: v.tables as string[] } : {}),
    ...(v.cutOverAt ? { cutOverAt: new Date(v.cutOverAt as string) } : {}),
    progress: (v.progress as Record<string, unknown>[]).map((p) => ({
      table: p.table as string,
      lastKey: decodeKey(p.lastKey),
      rows: p.rows as number,
      done: p.done as boolean,
      position: positionFromJson(p.position),
    })),
  };
}
