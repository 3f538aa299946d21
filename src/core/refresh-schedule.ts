import { Cron } from 'croner';

/** Five fields (minute first), or six with seconds first; croner reads both. */
const CRON_MODE = '5-or-6-parts';

/** Why `expr` is no cron schedule, with an example; null when it is one. */
export function cronProblem(expr: string): string | null {
  try {
    const next = new Cron(expr, { paused: true, mode: CRON_MODE }).nextRun();
    return next ? null : `"${expr}" never fires again`;
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    return `"${expr}" is not a cron schedule (${why}): write 5 fields, minute hour day month weekday, e.g. "0 2 * * *" (02:00 every night), or 6 with seconds first, e.g. "*/10 * * * * *"`;
  }
}

/** The first tick of `expr` after `from`; null when there is none. */
export function nextTick(expr: string, from: Date = new Date()): Date | null {
  return new Cron(expr, { paused: true, mode: CRON_MODE }).nextRun(from);
}

export interface Ticks {
  /** When the next tick fires; null once stopped. */
  next(): Date | null;
  stop(): void;
}

/**
 * Calls `run` at every tick of `expr`. A tick that fires while the last run has not settled is
 * skipped (croner's overrun protection; `skipped` is told when it was due): a refresh that outlasts
 * the interval never runs twice at once. `run` must not reject.
 */
export function everyTick(expr: string, run: () => Promise<void>, skipped: (due: Date) => void): Ticks {
  const job = new Cron(expr, { mode: CRON_MODE, protect: (j) => skipped(j.currentRun() ?? new Date()) }, run);
  return { next: () => job.nextRun(), stop: () => job.stop() };
}
