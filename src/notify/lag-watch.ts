import type { FerryEventBus } from '../core/events.js';
import type { LiveStatus } from '../pipeline/live-status.js';

/**
 * Tells the bus when replication lag crosses `maxLagSeconds` (admin.readyMaxLagSeconds), up or back
 * down, checked every `everyMs`: a stalled stream applies nothing, so its growing lag is seen only by
 * looking. An unknown lag (nothing applied yet) counts as below.
 */
export function watchLag(events: FerryEventBus, status: LiveStatus, maxLagSeconds: number, everyMs = 1000): () => void {
  let above = false;
  const timer = setInterval(() => {
    const lagSeconds = status.lagSeconds();
    const now = lagSeconds !== null && lagSeconds > maxLagSeconds;
    if (now === above) return;
    above = now;
    events.emit('lag-threshold', { above, lagSeconds: lagSeconds === null ? null : Math.round(lagSeconds * 10) / 10, maxLagSeconds });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
