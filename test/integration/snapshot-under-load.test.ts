import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { startStreaming, verifyWithCli, waitCaughtUp } from '../helpers/ferry.js';
import { startWriteLoad } from '../helpers/write-load.js';

describe('snapshot while a writer runs', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('snapload');
  });
  afterAll(async () => db?.close());

  it('the target equals the source (checksums) once the stream has caught up', async () => {
    await db.my.query('CREATE TABLE items (id INT PRIMARY KEY, grp INT NOT NULL, val VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL)');
    await db.my.query('CREATE TABLE other (id BIGINT PRIMARY KEY, note VARCHAR(20))');
    await db.my.query("INSERT INTO items SELECT seq, seq % 17, CONCAT('seed', seq), seq % 1000 FROM seq_1_to_150000");
    await db.my.query("INSERT INTO other SELECT seq, 'x' FROM seq_1_to_20000");
    // The writer touches rows the snapshot has already copied and rows it has not reached yet.
    const load = startWriteLoad(db.my, 'items', { firstId: 1_000_000, pauseMs: 1, seedRows: 150_000 });
    const { config, ferry } = await startStreaming(db, { snapshot: { chunkRows: 10_000, parallelism: 2 } });
    await sleep(1000);
    await load.stop();
    await waitCaughtUp(db.my, db.pg, 'snapload');
    const verdict = await verifyWithCli(config);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    expect(load.transactions).toBeGreaterThan(50);
    expect(verdict.tables).toHaveLength(2);
    expect(verdict.equal).toBe(true);
  });
});
