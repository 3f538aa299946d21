import { type CutoverSource, CutoverController } from '../../src/admin/cutover.js';
import { cutOverCheckpoint, type Checkpoint } from '../../src/core/checkpoint.js';
import { FerryEventBus } from '../../src/core/events.js';
import type { Position } from '../../src/core/position.js';
import type { Sink } from '../../src/core/sink.js';
import type { TableHold } from '../../src/core/table-hold.js';
import { makeLogger } from '../../src/log.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';
import { ResyncRequests } from '../../src/pipeline/resync-requests.js';

const log = makeLogger('error');
export const at = (lsn: bigint): Position => ({ kind: 'pg', lsn });
export const quarantined: TableHold = {
  state: 'quarantined',
  since: '2026-12-04T17:00:00.000Z',
  position: at(16n),
  key: { id: 4 },
  reason: 'check',
  message: 'violates check',
};
/** A replicated table with a primary key, as a stream attempt offers it. */
export const ORDERS = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'orders' },
  target: { schema: 'shop', name: 'orders' },
  columns: [],
  primaryKey: ['id'],
  indexes: [],
} as const;
export const CUTOVER_REQUEST = { timeoutSeconds: 300, maxLagSeconds: 5, fence: 'read-only', verify: 'none' } as const;

/**
 * A cutover over a streaming pipeline whose source and target answer in memory: the fence marker is
 * applied at once, the source head is the position applied, and the stream commits once more before
 * it stops. The target reads its checkpoint once and keeps it, as a Kafka target does, so a cutover
 * that reads it before the stream stopped cannot record where the stream stopped. `opened` keeps the
 * source from opening while unresolved; `targetRows` is what the target counts (the source counts
 * 10), once `counted` resolves; `constraints` is the target's creation of its deferred constraints;
 * `recorded` fails the recording of the cutover in the checkpoint; `server` is a read_only flag
 * the source shares with others (MariaDB's read_only is server-wide), which its fence sets and
 * unfence lifts.
 */
export function cutoverOf(
  o: {
    opened?: Promise<void>;
    targetRows?: number;
    counted?: Promise<void>;
    constraints?: () => Promise<void>;
    recorded?: () => Promise<void>;
    server?: { readOnly: boolean };
  } = {},
) {
  const events = new FerryEventBus();
  const status = new LiveStatus('p', events);
  status.phase = 'streaming';
  status.applied = { position: at(100n), commitTime: new Date() };
  const resyncs = new ResyncRequests(log);
  const calls: string[] = [];
  const source = {
    describeTables: async () => [ORDERS],
    fence: async (marker: string) => {
      calls.push('fence');
      if (o.server) o.server.readOnly = true;
      events.emit('marker-applied', { marker, position: at(100n), changesAfter: 0 });
    },
    unfence: async () => {
      calls.push('unfence');
      if (!o.server) return true;
      const up = o.server.readOnly;
      o.server.readOnly = false;
      return up;
    },
    fenced: async () => o.server?.readOnly ?? false,
    headPosition: async () => at(100n),
    beat: async (marker?: string) => {
      if (marker) events.emit('marker-applied', { marker, position: at(100n), changesAfter: 0 });
    },
    changesAfter: async () => 0,
    countRows: async () => 10,
    close: async () => {},
  } as unknown as CutoverSource;
  let kept: Checkpoint | undefined;
  const loadCheckpoint = async (): Promise<Checkpoint> => (kept ??= { phase: 'stream', position: status.applied!.position });
  const sink = {
    loadCheckpoint,
    reader: {
      countRows: async () => {
        await o.counted;
        return o.targetRows ?? 10;
      },
    },
    ...(o.constraints ? { finalizeSchema: o.constraints } : {}),
    recordCutover: async (final: Position) => {
      await o.recorded?.();
      cutOverCheckpoint(await loadCheckpoint(), final);
      calls.push('recorded');
    },
    close: async () => {},
  } as unknown as Sink;
  const cutover = new CutoverController({
    events,
    status,
    log,
    openSource: async () => {
      await o.opened;
      return source;
    },
    openSink: async () => sink,
    stopStream: async () => {
      status.applied = { position: at(101n), commitTime: new Date() };
      calls.push('stopped');
    },
    defaultVerify: 'none',
    resyncs,
  });
  return { events, status, resyncs, cutover, calls };
}

/** The cutover's end: its view once it is no longer running. */
export async function ended(cutover: CutoverController) {
  while (cutover.active) await new Promise((r) => setTimeout(r, 5));
  return cutover.view()!;
}
