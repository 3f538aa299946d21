import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';

/** A MariaDB target whose server forbids LOAD DATA LOCAL (local_infile=OFF, as many managed servers are). */
describe('MySQL/MariaDB target without local_infile', () => {
  let server: LocalServer;
  let db: RouteDatabases;
  beforeAll(async () => {
    server = await startMariaDb({ localInfile: false });
    db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'no_infile', {
      mariadb: server.url(),
      postgres: inject('postgresUrl'),
    });
  });
  afterAll(async () => {
    await db?.close();
    await server?.destroy();
  });

  it('check warns; the snapshot loads with multi-row INSERT, says so once, and arrives exactly', async () => {
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 20_000)}; UPDATE items SET val = E'tab\\there\\nnewline \\\\ back' WHERE id = 7`);
    const config = writeConfig(db.config({ snapshot: { chunkRows: 5000 } }));
    const check = await runCli(['check', '-c', config]);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/\[warning: local_infile\] local_infile is OFF on the target/);

    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    expect(ferry.output().match(/multi-row INSERT/g)).toHaveLength(1);
    const verdict = await verifyWithCli(config);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    expect(verdict.tables[0]!.source).toMatch(/^20000:/);
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
});

/**
 * A MySQL/MariaDB target with a unique key the source lacks (an operator's index; targets also get the
 * source's unique keys at cutover): INSERT … ON DUPLICATE KEY UPDATE would update whichever row holds
 * the value. ferry writes only the row with the change's primary key, so the collision stops it.
 */
describe('MySQL/MariaDB target with a unique key the source does not have', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'mysql', target: 'mysql', label: 'MariaDB → MariaDB' }, 'extra_unique');
  });
  afterAll(async () => db?.close());

  it('a colliding insert stops naming the table, the key and the constraint; no other row changes, the checkpoint stays before it', async () => {
    const big = `${db.targetSchema}.big`;
    await db.source.query(`CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL, n INT NOT NULL);
      INSERT INTO big SELECT seq, CONCAT('v', seq), 0 FROM seq_1_to_2000`);
    const config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    await db.source.query("UPDATE big SET n = 2 WHERE id BETWEEN 10 AND 20; INSERT INTO big VALUES (2001, 'v2001', 0)");
    await db.waitCaughtUp();

    await db.target.query(`CREATE UNIQUE INDEX u ON ${big} (v)`);
    const table = () => db.target.query(`SELECT id, v, n FROM ${big} ORDER BY id`);
    const before = await table();
    expect(before).toHaveLength(2001);
    const [head] = await db.source.query('SHOW MASTER STATUS');
    await db.source.query("INSERT INTO big VALUES (400001, 'v5', 1)");

    const r = await ferry.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `target rejected a change to ${db.targetSchema}\\.big: the row with id = 400001 collides with another row of the target on unique key u \\(Duplicate entry 'v5' for key 'u'\\)`,
      ),
    );
    expect(r.stderr).toMatch(/ferry never overwrites another row/);
    // The whole table as it was: row 5 kept its n, and no row 400001 arrived.
    expect(await table()).toEqual(before);
    const stopped = (await db.checkpoint())!.position as { file: string; pos: number };
    expect(stopped.file === String(head!.File) ? stopped.pos <= Number(head!.Position) : stopped.file < String(head!.File)).toBe(true);

    // Started again, it stops at the same change; once the index goes, the row arrives and the tables are equal.
    const again = await runCli(['run', '-c', config]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/the row with id = 400001 collides/);
    await db.target.query(`DROP INDEX u ON ${big}`);
    const resumed = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(resumed.output()));
    await db.waitCaughtUp();
    expect((await table()).filter((row) => row.v === 'v5').map((row) => Number(row.id))).toEqual([5, 400001]);
    const verdict = await verifyWithCli(config);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    resumed.child.kill('SIGTERM');
    expect((await resumed.done).code).toBe(0);
  });
});
