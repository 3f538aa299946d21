import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/ferry.js';

// `ferry demo`, the README's main command (npm run demo), end to end: its own servers, a write load, the cutover.
// Its figures must count the same thing: the source transactions the write load committed after
// the snapshot's position (by their GTIDs) are the ones ferry applied, heartbeats not counted.

describe('ferry demo', () => {
  it('completes; applies as many transactions as the load committed after the snapshot; prints each cutover state with its time', async () => {
    const r = await runCli(['demo', '--rows', '3000']);
    expect(r.code, r.stdout + r.stderr).toBe(0);

    const streaming = /streaming: +(\d+) source transactions committed after the snapshot's position, (\d+) applied/.exec(r.stdout);
    expect(streaming, r.stdout).not.toBeNull();
    const [committed, applied] = [Number(streaming![1]), Number(streaming![2])];
    expect(committed, 'the load committed while ferry streamed').toBeGreaterThan(0);
    expect(applied, "applied transactions are the load's").toBe(committed);

    const states = [...r.stdout.matchAll(/^ {2}cutover: (\w+) \+(\d+\.\d) s$/gm)].map((m) => ({ state: m[1], seconds: Number(m[2]) }));
    expect(states.map((s) => s.state)).toEqual(['preflight', 'fencing', 'draining', 'verifying', 'finalizing', 'completed']);
    expect(
      states.map((s) => s.seconds),
      'times since the cutover started',
    ).toEqual(states.map((s) => s.seconds).sort((a, b) => a - b));
    expect(r.stdout).toMatch(/cutover: +completed, all 4 tables equal \(checksums\); preflight \+0\.\d s, fencing \+[\d.]+ s, .*completed \+[\d.]+ s$/m);
  }, 600_000);
});
