import { describe, expect, it } from 'vitest';
import { FerryEventBus, type FerryEvents } from '../../src/core/events.js';
import { announceRetry, Backoff, STREAM_BACKOFF } from '../../src/core/retry.js';
import { FerryError } from '../../src/core/errors.js';

/** The delays of `n` failures in a row, with `random` fixed. */
const delays = (n: number, random: number, jitter: 'full' | 'equal' = 'equal') => {
  const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000, jitter, random: () => random });
  return Array.from({ length: n }, () => backoff.next());
};

describe('the retry back-off', () => {
  it('doubles its ceiling from the base at each failure, up to the cap', () => {
    // random just below 1: the delay is the ceiling itself (rounded).
    expect(delays(8, 0.999_999)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('never grows past the cap, however many failures', () => {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000, jitter: 'full', random: () => 0.999_999 });
    for (let i = 0; i < 5000; i++) expect(backoff.next()).toBeLessThanOrEqual(30_000);
    expect(backoff.attempt).toBe(5000);
  });

  it('with equal jitter waits between half the ceiling and the ceiling', () => {
    expect(delays(6, 0)).toEqual([500, 1000, 2000, 4000, 8000, 15_000]);
    expect(delays(6, 0.5)).toEqual([750, 1500, 3000, 6000, 12_000, 22_500]);
  });

  it('with full jitter waits anywhere from nothing to the ceiling', () => {
    expect(delays(6, 0, 'full')).toEqual([0, 0, 0, 0, 0, 0]);
    expect(delays(6, 0.25, 'full')).toEqual([250, 500, 1000, 2000, 4000, 7500]);
  });

  it('spreads the delays of processes that failed together (Math.random by default)', () => {
    const firsts = new Set(Array.from({ length: 50 }, () => new Backoff(STREAM_BACKOFF).next()));
    expect(firsts.size).toBeGreaterThan(1);
    for (const d of firsts) {
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });

  it('starts again from the base after reset (the loop made progress)', () => {
    const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000, jitter: 'equal', random: () => 0 });
    for (let i = 0; i < 4; i++) backoff.next();
    expect(backoff.attempt).toBe(4);
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(500);
    expect(backoff.attempt).toBe(1);
  });

  it('announces a retry as a failure and a stream-retry with its attempt, delay and resume position', () => {
    const events = new FerryEventBus();
    const seen: [string, unknown][] = [];
    events.on('failure', (f) => seen.push(['failure', f]));
    events.on('stream-retry', (r: FerryEvents['stream-retry']) =>
      seen.push(['stream-retry', { attempt: r.attempt, delayMs: r.delayMs, resumesFrom: r.resumesFrom }]),
    );
    const backoff = new Backoff({ baseMs: 1000, maxMs: 30_000, jitter: 'equal', random: () => 0 });
    const error = new FerryError('retriable', 'connection lost');
    expect(announceRetry(events, error, backoff, null)).toBe(500);
    expect(announceRetry(events, error, backoff, { kind: 'pg', lsn: 42n })).toBe(1000);
    expect(seen).toEqual([
      ['failure', { kind: 'retriable', message: 'connection lost' }],
      ['stream-retry', { attempt: 1, delayMs: 500, resumesFrom: null }],
      ['failure', { kind: 'retriable', message: 'connection lost' }],
      ['stream-retry', { attempt: 2, delayMs: 1000, resumesFrom: { kind: 'pg', lsn: 42n } }],
    ]);
  });
});
