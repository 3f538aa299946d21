import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { startCli, startStreaming, verifyWithCli, waitCaughtUp, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { ROUTES, routeDatabases, type RouteDatabases } from '../helpers/routes.js';

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

// A transaction a thousand times the smallest queue, in pieces of 100 events: the source fills the
// coordinator's queue and waits for room over and over, and the pieces still land as one target transaction.
describe.each(ROUTES.filter((r) => r.target === 'postgres'))('a 100,000-row transaction through the smallest queue: $label', (route) => {
  const PIECED_ROWS = 100_000;
  const name = `pieces_${route.source}`;
  let db: RouteDatabases;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.close();
  });

  it('applies atomically, in pieces of 100 events', async () => {
    await db.source.query('CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(100) NOT NULL)');
    const config = writeConfig(db.config({ apply: { queueMaxEvents: 100, batchMaxRows: 100, batchMaxMs: 0 } }));
    ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry!.output()));
    await db.source.query(
      route.source === 'postgres'
        ? `INSERT INTO big SELECT g, 'payload-' || g FROM generate_series(1, ${PIECED_ROWS}) g`
        : `INSERT INTO big SELECT seq, CONCAT('payload-', seq) FROM seq_1_to_${PIECED_ROWS}`,
    );
    const seen = new Set<number>();
    await waitFor('the whole transaction', async () => {
      const [row] = await db.target.query(`SELECT count(*)::int AS n FROM ${db.targetSchema}.big`);
      seen.add(Number(row!.n));
      return Number(row!.n) === PIECED_ROWS;
    });
    await db.waitCaughtUp();
    const verdict = await verifyWithCli(config);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    expect([...seen].every((n) => n === 0 || n === PIECED_ROWS)).toBe(true);
    expect(verdict.equal).toBe(true);
  });
});
