import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FerryEventBus } from '../core/events.js';
import { Backoff, type BackoffOptions } from '../core/retry.js';
import type { Secret } from '../core/secret.js';
import type { Notification, NotificationKind } from './notification-kinds.js';
import { SIGNATURE_HEADER, signature } from './signature.js';

export interface WebhookOptions {
  readonly url: string;
  readonly secret: Secret;
  /** The kinds this receiver gets; '*' for all. */
  readonly events: readonly (NotificationKind | '*')[];
  readonly timeoutSeconds: number;
  /** The longest wait between two tries of one notification. */
  readonly retryMaxSeconds: number;
  /** Notifications waiting at most; the oldest is dropped when one more comes. */
  readonly queueMax: number;
}

/** The receiver's name in metrics and logs: its URL without credentials, query or fragment (they may carry tokens). */
export function receiverName(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** The retry schedule of one notification: 0.5 s, 1 s, 2 s … up to `retryMaxSeconds`, with equal jitter. */
export function webhookBackoff(retryMaxSeconds: number, random?: () => number): BackoffOptions {
  return { baseMs: 500, maxMs: retryMaxSeconds * 1000, jitter: 'equal', ...(random ? { random } : {}) };
}

/** 408 and 429 say "later", as 5xx do; any other 4xx will not change on a retry. */
const retriable = (status: number) => status >= 500 || status === 408 || status === 429;

/**
 * One webhook receiver: notifications POSTed one at a time, in order, each retried with a capped
 * exponential back-off until the receiver takes it (2xx) or refuses it for good (4xx). The queue is
 * bounded and `offer` never waits, so a slow or dead receiver neither blocks the stream nor grows
 * memory: when full, the oldest notification is dropped and counted, with one WARN per burst.
 */
export class WebhookReceiver {
  readonly name: string;
  readonly #o: WebhookOptions;
  readonly #events: FerryEventBus;
  readonly #log: Logger;
  readonly #queue: Notification[] = [];
  readonly #stop = new AbortController();
  readonly #backoff: Backoff;
  #running: Promise<void> | null = null;
  #dropping = false;
  #failing = false;

  constructor(o: WebhookOptions, events: FerryEventBus, log: Logger, random?: () => number) {
    this.#o = o;
    this.name = receiverName(o.url);
    this.#events = events;
    this.#log = log;
    this.#backoff = new Backoff(webhookBackoff(o.retryMaxSeconds, random));
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Queues `n` when this receiver subscribed to its kind; returns at once. */
  offer(n: Notification): void {
    if (this.#stop.signal.aborted || !(this.#o.events.includes('*') || this.#o.events.includes(n.kind))) return;
    this.#queue.push(n);
    if (this.#queue.length > this.#o.queueMax) {
      const dropped = this.#queue.shift()!;
      this.#report('dropped');
      if (!this.#dropping) {
        this.#dropping = true;
        this.#log.warn(
          { receiver: this.name, queueMax: this.#o.queueMax, dropped: dropped.id },
          `webhook ${this.name} is behind by ${this.#o.queueMax} notifications: the oldest are dropped (ferry_notifications_dropped_total) until it catches up`,
        );
      }
    }
    this.#running ??= this.#deliverAll().finally(() => (this.#running = null));
  }

  /** Waits up to `ms` for the queue to empty, then stops: a request under way is abandoned. */
  async close(ms: number): Promise<void> {
    const running = this.#running;
    if (running) await Promise.race([running, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    this.#stop.abort();
    await this.#running;
  }

  async #deliverAll(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const n = this.#queue[0]!;
      const outcome = await this.#post(n);
      if (outcome === 'retry') {
        await sleep(this.#backoff.next(), undefined, { signal: this.#stop.signal }).catch(() => {});
        continue;
      }
      // While it was under way, a full queue may have dropped it already.
      if (this.#queue[0] === n) this.#queue.shift();
      // Told once off the queue: ferry_notifications_queued reads 0 when the receiver has taken everything.
      this.#report(outcome);
      this.#backoff.reset();
    }
    this.#dropping = false;
  }

  /** 'sent' (2xx) or 'failed' (refused for good: 4xx): done with, told by the caller; 'retry': told here. */
  async #post(n: Notification): Promise<'sent' | 'failed' | 'retry'> {
    const body = JSON.stringify(n);
    let problem: string;
    try {
      const res = await fetch(this.#o.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          [SIGNATURE_HEADER]: signature(this.#o.secret.reveal(), body),
          'X-Ferry-Event': n.kind,
          'X-Ferry-Delivery': n.id,
        },
        body,
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#o.timeoutSeconds * 1000)]),
      });
      await res.body?.cancel();
      if (res.ok) {
        if (this.#failing) this.#log.info({ receiver: this.name }, `webhook ${this.name} takes notifications again`);
        this.#failing = false;
        return 'sent';
      }
      problem = `HTTP ${res.status}`;
      if (!retriable(res.status)) {
        this.#log.warn(
          { receiver: this.name, status: res.status, id: n.id, kind: n.kind },
          `webhook ${this.name} refused a ${n.kind} notification (${problem}): not retried`,
        );
        return 'failed';
      }
    } catch (err) {
      if (this.#stop.signal.aborted) return 'retry';
      const e = err as Error;
      problem = e.name === 'TimeoutError' ? `no answer within ${this.#o.timeoutSeconds} s` : `${e.message}${e.cause ? ` (${(e.cause as Error).message})` : ''}`;
    }
    this.#report('failed');
    if (!this.#failing) {
      this.#failing = true;
      this.#log.warn({ receiver: this.name, problem }, `webhook ${this.name} did not take a notification (${problem}): retrying with back-off, in order`);
    }
    return 'retry';
  }

  #report(outcome: 'sent' | 'failed' | 'dropped'): void {
    this.#events.emit('notification-delivery', { receiver: this.name, outcome, queued: this.#queue.length });
  }
}
