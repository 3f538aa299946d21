/**
 * The producer's side of a bounded queue: all a source that fills it may do. Whoever creates the
 * queue consumes it; the producer only adds, waits, and says how the stream ended.
 */
export interface QueueProducer<T> {
  /** Adds an item; returns false once the queue is at or over capacity: stop reading until whenSpace(). */
  push(item: T): boolean;
  /** Resolves when the consumer has drained the queue to half its capacity (or it ended). */
  whenSpace(): Promise<void>;
  /** No more items: the consumer takes what is queued, then stops. */
  end(): void;
  /** The producer failed: the consumer gets the error instead of what is still queued. */
  fail(error: unknown): void;
}

/**
 * A bounded queue between a push-style producer (a source's change stream) and the applier.
 * Capacity is by weight (events), not items, so one huge transaction cannot hide behind a count.
 * The producer's failure travels through the queue and is thrown to the consumer.
 */
export class BoundedQueue<T> implements AsyncIterable<T>, QueueProducer<T> {
  readonly #capacity: number;
  readonly #weigh: (item: T) => number;
  readonly #items: T[] = [];
  #weight = 0;
  #ended = false;
  #error: unknown = undefined;
  #wakeConsumer: (() => void) | null = null;
  #spaceWaiters: (() => void)[] = [];

  constructor(capacity: number, weigh: (item: T) => number) {
    this.#capacity = capacity;
    this.#weigh = weigh;
  }

  get weight(): number {
    return this.#weight;
  }

  push(item: T): boolean {
    if (this.#ended) return false;
    this.#items.push(item);
    this.#weight += this.#weigh(item);
    this.#wake();
    return this.#weight < this.#capacity;
  }

  whenSpace(): Promise<void> {
    if (this.#weight <= this.#capacity / 2 || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  end(): void {
    this.#ended = true;
    this.#wake();
    this.#releaseSpace();
  }

  fail(error: unknown): void {
    if (this.#error === undefined) this.#error = error;
    this.end();
  }

  #wake(): void {
    const wake = this.#wakeConsumer;
    this.#wakeConsumer = null;
    wake?.();
  }

  #releaseSpace(): void {
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const w of waiters) w();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      // A producer error wins over items still queued: they belong to a stream that will be replayed.
      if (this.#error !== undefined) throw this.#error;
      const item = this.#items.shift();
      if (item !== undefined) {
        this.#weight -= this.#weigh(item);
        if (this.#weight <= this.#capacity / 2) this.#releaseSpace();
        yield item;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
    }
  }
}
