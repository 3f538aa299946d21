import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { startStreaming, verifyWithCli, waitCaughtUp, waitFor } from '../helpers/ferry.js';

const ROWS = 1_000_000;

/** Peak resident set size of a process, from /proc (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

describe('one 1,000,000-row source transaction', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('bigtxn');
  });
  afterAll(async () => db?.close());

  it('applies atomically with bounded memory', async () => {
    await db.my.query('CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(100) NOT NULL, n BIGINT NOT NULL)');
    const { config, ferry } = await startStreaming(db);
    const baseline = peakRssMiB(ferry.child.pid!);

    await db.my.query(`INSERT INTO big SELECT seq, CONCAT('payload-', seq, '-', REPEAT('x', 40)), seq * 3 FROM seq_1_to_${ROWS}`);
    // A reader of the target sees none of the transaction or all of it, never a part.
    const seen = new Set<number>();
    await waitFor(
      'the whole transaction',
      async () => {
        const { rows } = await db.pg.query('SELECT count(*)::int AS n FROM bigtxn.big');
        seen.add(rows[0].n);
        return rows[0].n === ROWS;
      },
      240_000,
    );
    await waitCaughtUp(db.my, db.pg, 'bigtxn');
    const peak = peakRssMiB(ferry.child.pid!);
    const verdict = await verifyWithCli(config);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);

    console.log(
      `1M-row transaction: peak RSS ${peak.toFixed(0)} MiB (after snapshot ${baseline.toFixed(0)} MiB); counts seen by a target reader: ${[...seen].join(', ')}`,
    );
    expect([...seen].every((n) => n === 0 || n === ROWS)).toBe(true);
    expect(verdict.equal).toBe(true);
    // Bounded by the queue and batch limits, not by the size of the transaction.
    expect(peak).toBeLessThan(512);
  });
});
