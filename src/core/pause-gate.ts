import type { FerryEventBus } from './events.js';

/**
 * POST /pause and /resume: the applier waits here between target commits. Nothing is read from the
 * source meanwhile beyond the bounded queue, so the source connection is held back, not dropped.
 */
export class PauseGate {
  #opened: (() => void) | null = null;
  #wait: Promise<void> | null = null;

  constructor(private readonly events: FerryEventBus) {}

  get paused(): boolean {
    return this.#wait !== null;
  }

  pause(): void {
    if (this.#wait) return;
    this.#wait = new Promise((resolve) => (this.#opened = resolve));
    this.events.emit('paused', { paused: true });
  }

  resume(): void {
    if (!this.#wait) return;
    this.#opened?.();
    this.#wait = this.#opened = null;
    this.events.emit('paused', { paused: false });
  }

  /** Resolves at once when not paused, else when resumed or `signal` aborts. */
  async passed(signal: AbortSignal = new AbortController().signal): Promise<void> {
    if (!this.#wait || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      void this.#wait?.then(done);
    });
  }
}
