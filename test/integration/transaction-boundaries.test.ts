import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { startStreaming, verifyWithCli, waitCaughtUp } from '../helpers/ferry.js';

/** DESIGN §3.1: every checkpoint is the end of a committed source transaction, whatever the transaction contains. */
describe('checkpoints are transaction-aligned', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('txnalign');
  });
  afterAll(async () => db?.close());

  it('with savepoints, rollbacks to a savepoint, truncates and DDL between row changes', async () => {
    await db.my.query('CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(20))');
    // batchMaxMs 0 and batchMaxRows 1 close a batch after every transaction the source hands over.
    const { config, ferry } = await startStreaming(db, { apply: { batchMaxRows: 1, batchMaxMs: 0 }, log: { level: 'debug' } });
    const [[start]] = (await db.my.query('SHOW MASTER STATUS')) as unknown as [{ File: string; Position: number }[]];

    for (let i = 0; i < 20; i++) {
      await db.my.query(`
        BEGIN; INSERT INTO a (id, v) VALUES (${i * 10 + 1}, 'x'); SAVEPOINT s1; INSERT INTO b VALUES (${i * 10 + 1}, 'y');
        SAVEPOINT s2; INSERT INTO a (id, v) VALUES (${i * 10 + 2}, 'rolled back'); ROLLBACK TO SAVEPOINT s2;
        UPDATE a SET v = 'z' WHERE id = ${i * 10 + 1}; RELEASE SAVEPOINT s1; INSERT INTO b VALUES (${i * 10 + 3}, 'w'); COMMIT;`);
      if (i % 7 === 0) await db.my.query('TRUNCATE TABLE b');
      if (i === 10) await db.my.query('ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL');
    }
    await waitCaughtUp(db.my, db.pg, 'txnalign');
    ferry.child.kill('SIGTERM');
    const result = await ferry.done;
    expect(result.code, result.stderr).toBe(0);

    // Where transactions end in the binlog: commits (Xid), and standalone statements (TRUNCATE, ALTER).
    const [events] = await db.my.query(`SHOW BINLOG EVENTS IN '${start!.File}' FROM ${start!.Position}`);
    const ends = new Set(
      (events as { Event_type: string; Info: string; End_log_pos: number }[])
        .filter((e) => e.Event_type === 'Xid' || (e.Event_type === 'Query' && !/^(BEGIN|SAVEPOINT|ROLLBACK TO|RELEASE SAVEPOINT)/i.test(e.Info)))
        .map((e) => `${start!.File}:${e.End_log_pos}`),
    );
    const applied = result.stderr
      .split('\n')
      .flatMap((line) => (line.includes('"batch applied"') ? [JSON.parse(line).position as string] : []))
      .map((p) => p.replace(/ \(gtid .*\)$/, ''))
      .filter((p) => p.startsWith(`${start!.File}:`) && Number(p.split(':')[1]) > start!.Position);
    expect(applied.length).toBeGreaterThan(20);
    expect(
      applied.filter((p) => !ends.has(p)),
      'checkpoints inside a transaction',
    ).toEqual([]);
    expect((await verifyWithCli(config)).equal).toBe(true);
  });
});

describe('a transaction that also changes a non-transactional table', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('txnmixed');
  });
  afterAll(async () => db?.close());

  it('replicates only what survived a rollback to a savepoint (the server logs the rolled-back rows when MyISAM is involved)', async () => {
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE side (id INT PRIMARY KEY) ENGINE=MyISAM');
    const { config, ferry } = await startStreaming(db, { tables: { include: ['txnmixed.t'] } });
    await db.my.query(
      'BEGIN; INSERT INTO t VALUES (20); SAVEPOINT s; INSERT INTO side VALUES (1); INSERT INTO t VALUES (21); ROLLBACK TO SAVEPOINT s; INSERT INTO t VALUES (30); COMMIT',
    );
    await waitCaughtUp(db.my, db.pg, 'txnmixed');
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
    const { rows } = await db.pg.query('SELECT id FROM txnmixed.t ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([20, 30]);
    expect((await verifyWithCli(config)).equal).toBe(true);
  });
});
