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
    db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'no_infile', { mariadb: server.url(), postgres: inject('postgresUrl') });
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
