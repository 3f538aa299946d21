import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { FerryEventBus } from '../../src/core/events.js';
import { FerryError } from '../../src/core/errors.js';
import { logEvents } from '../../src/ui/event-log.js';

/** A logger that keeps each line's fields and message. */
function capturingLog(): { log: Logger; lines: { level: string; fields: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, fields, msg });
  return { log: { info: at('info'), warn: at('warn'), debug: at('debug') } as unknown as Logger, lines };
}

describe('the stream-retry log line', () => {
  it('names the checkpoint the next attempt resumes from', () => {
    const events = new FerryEventBus();
    const { log, lines } = capturingLog();
    logEvents(events, log, 10_000);
    events.emit('stream-retry', {
      error: new FerryError('retriable', 'binlog stream: Connection lost'),
      attempt: 1,
      delayMs: 1000,
      resumesFrom: { kind: 'mysql', file: 'mysql-bin.000002', pos: 4711 },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('warn');
    expect(lines[0]!.msg).toBe('stream interrupted (binlog stream: Connection lost); reconnecting in 1.0s, resuming from the checkpoint mysql-bin.000002:4711');
    expect(lines[0]!.fields.resumesFrom).toBe('mysql-bin.000002:4711');
  });

  it("carries the error's fix, and leaves the position out where there is none", () => {
    const events = new FerryEventBus();
    const { log, lines } = capturingLog();
    logEvents(events, log, 10_000);
    events.emit('stream-retry', {
      error: new FerryError('retriable', 'the target is out of disk space', { hint: 'free disk space' }),
      attempt: 2,
      delayMs: 2500,
      resumesFrom: null,
    });
    expect(lines[0]!.msg).toBe(
      'stream interrupted (the target is out of disk space); fix: free disk space; reconnecting in 2.5s, resuming from the checkpoint',
    );
  });
});

describe('the periodic streaming summary', () => {
  const batch = (transactions: number) => ({
    transactions,
    events: transactions,
    perTable: [],
    position: { kind: 'mysql' as const, file: 'mysql-bin.000001', pos: 4 },
    commitTime: new Date(),
    ms: 1,
  });

  it('is at info when transactions were applied, and at debug while only heartbeats were', async () => {
    const events = new FerryEventBus();
    const { log, lines } = capturingLog();
    logEvents(events, log, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    events.emit('batch-applied', batch(0));
    await new Promise((resolve) => setTimeout(resolve, 5));
    events.emit('batch-applied', batch(3));
    const summaries = lines.filter((l) => l.msg.startsWith('applied'));
    expect(summaries.map((l) => [l.level, l.msg.replace(/, lag .*/, '')])).toEqual([
      ['debug', 'applied 0 transactions (0 changes)'],
      ['info', 'applied 3 transactions (3 changes)'],
    ]);
  });
});
