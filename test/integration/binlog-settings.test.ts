import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { pipelineConfig, runCli, writeConfig } from '../helpers/ferry.js';

/** `ferry check` names every wrong binlog setting at once, with one fix: not one per server restart. */
describe('ferry check on a source with every binlog setting wrong', () => {
  let server: LocalServer;
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    // A private server: the shared one must keep its binlog for the tests running beside this one.
    server = await startMariaDb({ logBin: false, binlogFormat: 'MIXED', binlogRowImage: 'MINIMAL', binlogRowMetadata: 'NO_LOG' });
    db = await testDatabases('bad_binlog_settings', { mariadb: server.url(), postgres: inject('postgresUrl') });
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    config = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl));
  });
  afterAll(async () => {
    await db?.close();
    await server?.destroy();
  });

  it('exits 2 naming log_bin, binlog_format, binlog_row_image and binlog_row_metadata, with one my.cnf line for all', async () => {
    const r = await runCli(['check', '-c', config]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('[log_bin] log_bin is OFF; ferry needs ON');
    expect(r.stdout).toContain('[binlog_format] binlog_format is MIXED; ferry needs ROW');
    expect(r.stdout).toContain('[binlog_row_image] binlog_row_image is MINIMAL; ferry needs FULL');
    expect(r.stdout).toContain('[binlog_row_metadata] binlog_row_metadata is NO_LOG; ferry needs FULL');
    // One restart fixes them all; SET GLOBAL cannot switch log_bin on, so it is not offered.
    const fix =
      "fix: put log_bin=mysql-bin, binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL in the server's my.cnf [mysqld] section and restart it\n";
    expect(r.stdout.split(fix).length - 1, r.stdout).toBe(4);
    expect(r.stdout).toContain('check failed: 4 problem(s)');
  });
});
