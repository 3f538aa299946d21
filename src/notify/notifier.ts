import { randomUUID } from 'node:crypto';
import type { FerryEventBus } from '../core/events.js';
import { kindTranslations, type KindMemory, type Notification } from './notification-kinds.js';
import type { RecentEvents } from './recent-events.js';
import type { WebhookReceiver } from './webhook.js';

/** How long a stopping ferry waits for its receivers to take what is queued. */
const DRAIN_ON_CLOSE_MS = 3000;

/**
 * Turns the pipeline's events into notifications (notification-kinds.ts): each is kept in `recent`
 * (GET /events) and offered to every receiver, which never waits. Returns a close that stops
 * listening and lets the receivers drain for a moment.
 */
export function notify(pipeline: string, events: FerryEventBus, recent: RecentEvents, receivers: readonly WebhookReceiver[]): () => Promise<void> {
  const off = notifications(pipeline, events, recent, receivers);
  return async () => {
    off();
    await closeReceivers(receivers);
  };
}

/** Lets the receivers drain for a moment, and stops them. */
export async function closeReceivers(receivers: readonly WebhookReceiver[]): Promise<void> {
  await Promise.all(receivers.map((r) => r.close(DRAIN_ON_CLOSE_MS)));
}

/** Notifies the pipeline's events as notify() does, to receivers the process shares between its pipelines; returns the unsubscribe. */
export function notifications(pipeline: string, events: FerryEventBus, recent: RecentEvents, receivers: readonly WebhookReceiver[]): () => void {
  const memory: KindMemory = { quarantined: new Set() };
  let sequence = 0;
  const offs = kindTranslations().map(([kind, { event, fields }]) =>
    events.on(event, (payload) => {
      const own = fields(payload, memory);
      if (!own) return;
      const n: Notification = { id: randomUUID(), kind, pipeline, time: new Date().toISOString(), sequence: ++sequence, ...own };
      recent.add(n);
      for (const r of receivers) r.offer(n);
    }),
  );
  return () => offs.forEach((off) => off());
}
