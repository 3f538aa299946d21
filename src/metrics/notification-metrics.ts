import { Counter, Gauge, type Registry } from 'prom-client';
import type { FerryEventBus } from '../core/events.js';

/**
 * The webhook receivers' metrics, each receiver's series at 0 from the start (an alert on increase()
 * must see the first failure), following `events`; returns the unsubscribes. None without receivers.
 */
export function registerNotificationMetrics(registry: Registry, events: FerryEventBus, receivers: readonly string[]): (() => void)[] {
  if (receivers.length === 0) return [];
  const registers = [registry];
  const labelNames = ['receiver'];
  const counters = {
    sent: new Counter({ name: 'ferry_notifications_sent_total', help: 'notifications a webhook receiver took (2xx)', labelNames, registers }),
    failed: new Counter({
      name: 'ferry_notifications_failed_total',
      help: 'POSTs of a notification that failed: no answer in time, a lost connection or 5xx (retried), or another 4xx (not retried)',
      labelNames,
      registers,
    }),
    dropped: new Counter({
      name: 'ferry_notifications_dropped_total',
      help: "notifications dropped unsent because the receiver's queue was full (notify.webhooks[].queueMax)",
      labelNames,
      registers,
    }),
  };
  const queued = new Gauge({ name: 'ferry_notifications_queued', help: 'notifications waiting for the webhook receiver', labelNames, registers });
  for (const receiver of receivers) {
    for (const c of Object.values(counters)) c.inc({ receiver }, 0);
    queued.set({ receiver }, 0);
  }
  return [
    events.on('notification-delivery', ({ receiver, outcome, queued: n }) => {
      counters[outcome].inc({ receiver });
      queued.set({ receiver }, n);
    }),
  ];
}
