import { once } from 'node:events';
import { coerceError } from '../core/errors.js';
import { everyTick } from '../core/refresh-schedule.js';
import { prepareAndSnapshot, type RunOptions } from './coordinator.js';

/**
 * A refresh pipeline (snapshot.schedule): at every tick a fresh snapshot of every selected table
 * (tablePrep and transforms as configured), idle between ticks. Idle, not streaming: a nightly copy
 * (DMS "reload") is the source as of the tick, and the next tick replaces it anyway. Nothing is kept
 * on the source between ticks: a Postgres source's slot is TEMPORARY on a refresh pipeline
 * (endpoints.ts), gone once the snapshot ends, so no WAL is pinned for the interval. A tick during a
 * refresh is skipped; a failed refresh is counted and tried again at the next tick, and ferry goes
 * on until `signal`.
 */
export async function runRefreshes(o: RunOptions, schedule: string): Promise<void> {
  const { events, log } = o;
  let running: Promise<void> = Promise.resolve();
  const refresh = async () => {
    const startedAt = new Date();
    let rows = 0;
    let tables = 0;
    const offs = [events.on('snapshot-done', (d) => (rows = d.rows)), events.on('snapshot-table-done', () => tables++)];
    events.emit('refresh-started', { startedAt });
    try {
      const sink = await prepareAndSnapshot({ ...o, refresh: true });
      await sink?.close();
      // null: SIGTERM stopped it; the next start's refresh is fresh anyway.
      if (sink) events.emit('refresh-done', { startedAt, endedAt: new Date(), rows, tables });
    } catch (err) {
      const error = coerceError(err);
      events.emit('failure', { kind: error.kind, message: error.message });
      events.emit('refresh-failed', { startedAt, endedAt: new Date(), kind: error.kind, message: error.message });
    } finally {
      offs.forEach((off) => off());
      if (!o.signal.aborted) {
        events.emit('phase', { phase: 'idle' });
        events.emit('refresh-scheduled', { next: ticks.next() });
      }
    }
  };
  const ticks = everyTick(
    schedule,
    () => (running = refresh()),
    (due) => log.warn({ due: due.toISOString() }, `refresh tick of ${due.toISOString()} skipped: the last refresh is still running`),
  );
  events.emit('phase', { phase: 'idle' });
  events.emit('refresh-scheduled', { next: ticks.next() });
  if (!o.signal.aborted) await once(o.signal, 'abort');
  ticks.stop();
  await running;
  events.emit('phase', { phase: 'stopped' });
}
