import { setTimeout as sleep } from 'node:timers/promises';
import type { FerryEventBus } from '../core/events.js';
import { FerryError } from '../core/errors.js';
import { comparePositions, type Position } from '../core/position.js';
import type { LiveStatus } from '../pipeline/live-status.js';

/** The cutover's waits (cutover.ts): each ends at a deadline, on abort, or when what it waits for is done. */

export const LATE_HINT =
  'some session bypasses the fence (MySQL/MariaDB: accounts with SUPER or READ ONLY ADMIN; Postgres: a session that starts READ WRITE transactions, or calls itself application_name=ferry); stop those writers, or stop the application and use fence: none';

/**
 * Source transactions with changes applied after the fence marker (counted from the marker's own
 * target commit on): writes that got past the fence.
 */
export function lateChanges(events: FerryEventBus): { watch(marker: { changesAfter: number }): void; check(): void; stop(): void } {
  let count = 0;
  let off = () => {};
  return {
    watch(marker) {
      count = marker.changesAfter;
      off = events.on('batch-applied', (b) => (count += b.transactions));
    },
    check() {
      if (count > 0) throw new FerryError('fatal', `${count} source transaction(s) with changes were written after the fence`, { hint: LATE_HINT });
    },
    stop: () => off(),
  };
}

/** True once the applied position has reached `head`; false at `until`, or when the pipeline has stopped. */
export async function waitApplied(status: LiveStatus, head: Position, until: number, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted && Date.now() < until) {
    if (status.applied && comparePositions(status.applied.position, head) >= 0) return true;
    if (status.phase !== 'streaming') throw new FerryError('fatal', `the pipeline is ${status.phase}: nothing more is applied`);
    await sleep(50);
  }
  return false;
}

/** Resolves when the target commit that carried `marker` is done, with what followed it in that commit. */
export function waitForMarker(events: FerryEventBus, marker: string): { promise: Promise<{ changesAfter: number }>; cancel: () => void } {
  let off = () => {};
  const promise = new Promise<{ changesAfter: number }>((resolve) => {
    off = events.on('marker-applied', (m) => {
      if (m.marker === marker) resolve(m);
    });
  });
  return { promise: promise.finally(() => off()), cancel: () => off() };
}

/** `work`, or a rejection at the deadline or on abort, whichever comes first. */
export function bounded<T>(work: Promise<T>, deadline: number, timeoutMessage: string, signal: AbortSignal = new AbortController().signal): Promise<T> {
  work.catch(() => {}); // settled later, after the race is lost
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(() => reject(new FerryError('fatal', timeoutMessage, { hint: 'raise timeoutSeconds, or find what holds the step up in the log' }))),
      Math.max(0, deadline - Date.now()),
    );
    const onAbort = () => finish(() => reject(signal.reason as Error));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      settle();
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e as Error)),
    );
  });
}
