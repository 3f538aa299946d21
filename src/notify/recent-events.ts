import type { Notification } from './notification-kinds.js';

/** GET /events keeps this many notifications; older ones fall off. */
export const RECENT_EVENTS_MAX = 1000;

/** The last notifications, oldest first, in a bounded ring: what GET /events answers. */
export class RecentEvents {
  readonly #items: Notification[] = [];
  readonly #max: number;

  constructor(max = RECENT_EVENTS_MAX) {
    this.#max = max;
  }

  add(n: Notification): void {
    this.#items.push(n);
    if (this.#items.length > this.#max) this.#items.shift();
  }

  /** The newest `limit`, newest last. */
  last(limit: number): Notification[] {
    return this.#items.slice(-limit);
  }
}
