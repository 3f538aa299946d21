import { configError } from '../core/errors.js';

/**
 * How often ferry writes its periodic lines (the streaming summary, a table copy's progress):
 * FERRY_PROGRESS_INTERVAL_MS, default 10 s. Shorter for a closer watch (and for tests that need a
 * copy to outlast it), longer for quieter logs.
 */
export function progressIntervalMs(): number {
  const value = process.env.FERRY_PROGRESS_INTERVAL_MS;
  if (value === undefined || value === '') return 10_000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) throw configError(`FERRY_PROGRESS_INTERVAL_MS=${value}: expected a whole number of milliseconds of at least 1`);
  return ms;
}
