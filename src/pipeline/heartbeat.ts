import type { Logger } from 'pino';
import type { FerryEventBus } from '../core/events.js';
import type { Heartbeat } from '../core/heartbeat.js';
import type { SourceLog } from '../core/source-log.js';
import { coerceError } from '../core/errors.js';
import { isReadOnlyRefusal } from '../engines/registry.js';

/**
 * Writes ferry's heartbeat into the source log every `intervalMs` while streaming, so a quiet source
 * still carries a commit to apply: lag reads ~0 when idle and grows when ferry falls behind, and a
 * Postgres slot advances. Each beat also reads the source's clock (lag is measured on it, not on
 * ours) and where its log ends. Returns a function that stops it.
 */
export function startHeartbeat(source: Heartbeat & SourceLog, events: FerryEventBus, log: Logger, intervalMs: number): () => void {
  let stopped = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    try {
      // The head as it was before the beat: once the beat is applied the stream has passed it, so a
      // quiet source reads 0 bytes behind (the transactions between, that the applier commits nothing
      // for, move the checkpoint only with the beat).
      const [head, retainedBytes] = await Promise.all([source.headPosition(), source.retainedBytes?.() ?? null]);
      await source.beat();
      const sent = Date.now();
      const sourceNow = await source.clock();
      const received = Date.now();
      if (stopped) return;
      events.emit('heartbeat', { clockOffsetMs: sourceNow.getTime() - (sent + received) / 2, head, retainedBytes });
      if (failing) log.info('heartbeats are written again');
      failing = false;
    } catch (err) {
      if (stopped) return;
      const e = coerceError(err, 'heartbeat');
      if (isReadOnlyRefusal(err)) {
        // A fenced source (MySQL's super_read_only after a cutover) refuses even ferry: expected, not an error.
        if (!failing) log.info('the source is read-only: no heartbeats until it is writable again');
      } else {
        events.emit('failure', { kind: 'heartbeat', message: e.message });
        if (!failing)
          log.warn({ err: e.message, hint: e.hint }, 'cannot write the heartbeat into the source log; lag on a quiet source reads high until it can');
      }
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
