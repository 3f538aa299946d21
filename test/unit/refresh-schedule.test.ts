import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import type { FerryError } from '../../src/core/errors.js';
import { cronProblem, everyTick, nextTick } from '../../src/core/refresh-schedule.js';

const minimal = {
  pipeline: 'staging',
  source: { type: 'mysql', url: 'mysql://ferry:secret@db.example:3306/shop' },
  target: { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop' },
};

function configMessage(snapshot: Record<string, unknown>): string {
  try {
    parseConfig({ ...minimal, snapshot });
  } catch (err) {
    expect((err as FerryError).kind).toBe('config');
    return (err as FerryError).message;
  }
  throw new Error('expected parseConfig to reject the document');
}

describe('snapshot.schedule', () => {
  it('reads five fields, or six with seconds first', () => {
    expect(cronProblem('0 2 * * *')).toBeNull();
    expect(cronProblem('*/5 * * * * *')).toBeNull();
    expect(parseConfig({ ...minimal, snapshot: { mode: 'always', tablePrep: 'truncate', schedule: '30 1 * * 1-5' } }).snapshot.schedule).toBe('30 1 * * 1-5');
  });

  it('is a config error naming the key, the problem and an example', () => {
    const message = configMessage({ mode: 'always', tablePrep: 'drop-and-create', schedule: 'nightly' });
    expect(message).toContain('snapshot.schedule: "nightly" is not a cron schedule');
    expect(message).toContain('e.g. "0 2 * * *"');
    expect(configMessage({ mode: 'always', tablePrep: 'truncate', schedule: '0 25 * * *' })).toContain('(Invalid value for hour: 25)');
  });

  it('needs mode always and a tablePrep that empties the tables the last refresh filled', () => {
    const message = configMessage({ schedule: '0 2 * * *' });
    expect(message).toContain('snapshot.mode: snapshot.schedule reloads every table at each tick: set snapshot.mode: always');
    expect(message).toContain('snapshot.tablePrep: snapshot.schedule reloads into tables');
    expect(message).toContain('(create keeps them)');
  });

  it('tells the next tick after a moment', () => {
    const at = new Date(2026, 0, 1, 3, 0, 0);
    expect(nextTick('0 2 * * *', at)).toEqual(new Date(2026, 0, 2, 2, 0, 0));
    expect(nextTick('0 2 * * *', new Date(2026, 0, 1, 1, 59, 59))).toEqual(new Date(2026, 0, 1, 2, 0, 0));
    expect(nextTick('*/10 * * * * *', new Date(2026, 0, 1, 3, 0, 1))).toEqual(new Date(2026, 0, 1, 3, 0, 10));
  });

  it('skips a tick that fires while the last run is still running, then runs again once it settled', async () => {
    let runs = 0;
    const skipped: Date[] = [];
    let release = () => {};
    let sawSkip = () => {};
    const skip = new Promise<void>((res) => (sawSkip = res));
    let secondRun = () => {};
    const second = new Promise<void>((res) => (secondRun = res));
    const ticks = everyTick(
      '* * * * * *',
      async () => {
        runs++;
        if (runs === 2) secondRun();
        if (runs === 1) await new Promise<void>((res) => (release = res));
      },
      (due) => {
        skipped.push(due);
        sawSkip();
      },
    );
    try {
      expect(ticks.next()).toBeInstanceOf(Date);
      await skip;
      expect(runs).toBe(1);
      release();
      await second;
      expect(runs).toBe(2);
      expect(skipped.length).toBeGreaterThanOrEqual(1);
    } finally {
      ticks.stop();
    }
    expect(ticks.next()).toBeNull();
  });
});
