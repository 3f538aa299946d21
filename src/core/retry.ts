import type { FerryError } from './errors.js';
import type { FerryEventBus } from './events.js';
import type { Position } from './position.js';

/**
 * How long a loop waits before retrying a retriable failure (STYLE §8): exponential growth from
 * `baseMs` up to `maxMs`, with jitter so that the processes a shared outage stopped together (an
 * applier group, several pipelines on one restarted server) do not all return at the same instant.
 */
export interface BackoffOptions {
  /** The first retry's ceiling; each further attempt doubles it. */
  readonly baseMs: number;
  /** No ceiling grows past this. */
  readonly maxMs: number;
  /**
   * full: anywhere in [0, ceiling]; equal: in [ceiling / 2, ceiling], so a retry never comes at once
   * after its failure (a restarting server is not hammered) while the herd still spreads.
   */
  readonly jitter: 'full' | 'equal';
  /** A number in [0, 1): Math.random unless a test fixes it. */
  readonly random?: () => number;
}

/** Every stream loop's back-off: 1 s, 2 s, 4 s … up to 30 s, each with equal jitter. */
export const STREAM_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 30_000, jitter: 'equal' };

/** The back-off of one retry loop: `next()` after each failure, `reset()` once it made progress again. */
export class Backoff {
  readonly #o: BackoffOptions;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    this.#o = options;
  }

  /** Failures since the loop last made progress; the latest one's number after `next()`. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Counts a failure and returns the delay before the next try, in whole milliseconds. */
  next(): number {
    this.#attempt++;
    // The exponent stops growing once the ceiling is reached for any sane base (2^30 > 1e9).
    const ceiling = Math.min(this.#o.maxMs, this.#o.baseMs * 2 ** Math.min(this.#attempt - 1, 30));
    const r = (this.#o.random ?? Math.random)();
    return Math.round(this.#o.jitter === 'full' ? r * ceiling : ceiling / 2 + (r * ceiling) / 2);
  }

  /** Progress was made: the next failure waits as long as the first. */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * A loop's retriable failure: counts it on `backoff`, tells the observers (a failure, and the retry
 * with its delay and where it resumes) and returns the delay the loop then waits.
 */
export function announceRetry(events: FerryEventBus, error: FerryError, backoff: Backoff, resumesFrom: Position | null): number {
  const delayMs = backoff.next();
  events.emit('failure', { kind: error.kind, message: error.message });
  events.emit('stream-retry', { error, attempt: backoff.attempt, delayMs, resumesFrom });
  return delayMs;
}
