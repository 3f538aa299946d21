import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, pipelineConfig, startCli, verifyWithCli, waitCaughtUp, waitFor, writeConfig } from '../helpers/ferry.js';
import { startWriteLoad } from '../helpers/write-load.js';

const KILLS = 12;

describe('kill -9 chaos', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('chaos');
  });
  afterAll(async () => db?.close());

  it(`kills ferry run ${KILLS} times under a write load (during the snapshot and mid-stream); the target ends equal to the source`, async () => {
    await db.my.query('CREATE TABLE items (id INT PRIMARY KEY, grp INT NOT NULL, val VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL, KEY ix_grp (grp))');
    await db.my.query("INSERT INTO items SELECT seq, seq % 17, CONCAT('seed', seq), seq % 1000 FROM seq_1_to_200000");
    const load = startWriteLoad(db.my, 'items', { firstId: 1_000_000, pauseMs: 2, seedRows: 200_000 });
    // Small chunks and batches: more commits, so more instants at which a kill lands between them.
    const config = writeConfig(pipelineConfig('chaos', db.mysqlUrl, db.pgUrl, { snapshot: { chunkRows: 2000, parallelism: 2 }, apply: { batchMaxRows: 500, batchMaxMs: 20 } }));
    const phases: string[] = [];
    const snapshotRows = async () => {
      const { rows } = await db.pg.query("SELECT coalesce(sum(rows), 0)::int AS n FROM ferry.ferry_snapshot_progress WHERE pipeline = 'chaos'").catch(() => ({ rows: [{ n: 0 }] }));
      return rows[0].n as number;
    };
    try {
      for (let i = 0; i < KILLS; i++) {
        const ferry = startCli(['run', '-c', config]);
        if (i < 3) {
          // The first kills land while the snapshot is copying: right after this run commits its next chunk.
          const before = await snapshotRows();
          await waitFor('a snapshot chunk', async () => (await snapshotRows()) > before || (await checkpointOf(db.pg, 'chaos'))?.phase === 'stream', 30_000);
          await sleep(Math.random() * 100);
        } else {
          await sleep(1000 + Math.random() * 2500);
        }
        phases.push((await checkpointOf(db.pg, 'chaos'))?.phase ?? 'none');
        ferry.child.kill('SIGKILL');
        const r = await ferry.done;
        expect(r.signal, r.stderr).toBe('SIGKILL');
      }
    } finally {
      await load.stop();
    }
    const ferry = startCli(['run', '-c', config]);
    await waitCaughtUp(db.my, db.pg, 'chaos', 120_000);
    const verdict = await verifyWithCli(config);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);

    console.log(`chaos: ${KILLS} kills (phases at kill: ${phases.join(', ')}), ${load.transactions} load transactions, verify: ${JSON.stringify(verdict.tables)}`);
    expect(phases.filter((p) => p === 'snapshot').length).toBeGreaterThan(0);
    expect(phases.filter((p) => p === 'stream').length).toBeGreaterThan(0);
    expect(verdict.equal).toBe(true);
  });
});
