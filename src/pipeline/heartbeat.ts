import type { Logger } from 'pino';
import type { FerryEventBus } from '../core/events.js';
import type { Source } from '../core/source.js';

/**
 * Writes ferry's heartbeat into the source log every `intervalMs` while streaming, so a quiet source
 * still carries a commit to apply: lag reads ~0 when idle and grows when ferry falls behind, and a
 * Postgres slot advances. Each beat also reads the source's clock (lag is measured on it, not on
 * ours) and where its log ends. Returns a function that stops it.
 */
export function startHeartbeat(source: Source, events: FerryEventBus, log: Logger, intervalMs: number): () => void {
  let stopped = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    try {
      await source.beat();
      const sent = Date.now();
      const sourceNow = await source.clock();
      const received = Date.now();
      const [head, retainedBytes] = await Promise.all([source.headPosition(), source.retainedBytes?.() ?? null]);
      if (stopped) return;
      events.emit('heartbeat', { clockOffsetMs: sourceNow.getTime() - (sent + received) / 2, head, retainedBytes });
      if (failing) log.info('heartbeats are written again');
      failing = false;
    } catch (err) {
      if (stopped) return;
      events.emit('failure', { kind: 'heartbeat', message: (err as Error).message });
      if (!failing) log.warn({ err: (err as Error).message, hint: (err as { hint?: string }).hint }, 'cannot write the heartbeat into the source log; lag on a quiet source reads high until it can');
      failing = true;
    } finally {
      if (!stopped) timer = setTimeout(() => void beat(), intervalMs);
    }
  };
  void beat();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
