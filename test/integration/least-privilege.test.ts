import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady } from '../helpers/admin.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { pipelineConfig, runCli, startCli, verifyWithCli, waitCaughtUp, waitFor, waitStreaming, writeConfig } from '../helpers/ferry.js';

/** The grants docs/operations.md lists are enough: a source user with exactly them, a target user that is not a superuser. */
describe('least privilege', () => {
  let db: TestDatabases;
  let config: string;
  let settings: Record<string, unknown>;
  beforeAll(async () => {
    db = await testDatabases('leastpriv');
    await db.my.query(`
      DROP USER IF EXISTS 'ferry_repl'@'127.0.0.1';
      CREATE USER 'ferry_repl'@'127.0.0.1' IDENTIFIED BY 'repl-secret';
      GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'ferry_repl'@'127.0.0.1';
      CREATE TABLE accounts (id INT PRIMARY KEY, balance DECIMAL(12,2) NOT NULL, opened DATETIME(6));
      INSERT INTO accounts SELECT seq, seq * 10, '2024-01-01 00:00:00.5' FROM seq_1_to_1000;`);
    await db.pg.query(
      `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferry_apply') THEN DROP OWNED BY ferry_apply; DROP ROLE ferry_apply; END IF; END $$`,
    );
    await db.pg.query("CREATE ROLE ferry_apply LOGIN PASSWORD 'apply-secret'");
    await db.pg.query('GRANT CREATE ON DATABASE leastpriv TO ferry_apply');
    const source = new URL(db.mysqlUrl);
    source.username = 'ferry_repl';
    source.password = '${FERRY_TEST_SRC_PASSWORD}';
    const target = new URL(db.pgUrl);
    target.username = 'ferry_apply';
    target.password = 'apply-secret';
    process.env.FERRY_TEST_SRC_PASSWORD = 'repl-secret'; // the config reads it through ${…}, as users would
    settings = pipelineConfig('leastpriv', decodeURI(source.toString()), target.toString());
    config = writeConfig(settings);
  });
  afterAll(async () => db?.close());

  it('ferry check passes, warning that target triggers stay active', async () => {
    const r = await runCli(['check', '-c', config]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warning: session_replication_role/);
    expect(r.stdout).toMatch(/check passed/);
  });

  it("ferry check warns that the user may not put up the cutover's default fence, naming the GRANT and fence none", async () => {
    const r = await runCli(['check', '-c', config]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[warning: fence\] the source user may not set read_only \(it lacks READ_ONLY ADMIN\)/);
    expect(r.stdout).toContain("GRANT READ_ONLY ADMIN ON *.* TO 'ferry_repl'@'127.0.0.1'");
    expect(r.stdout).toContain('{"fence": "none"}');
  });

  it('snapshots and streams with those grants', async () => {
    const ferry = startCli(['run', '-c', config]);
    await waitStreaming(db.pg, 'leastpriv');
    await db.my.query('UPDATE accounts SET balance = balance - 1 WHERE id <= 10; DELETE FROM accounts WHERE id = 500');
    await waitCaughtUp(db.my, db.pg, 'leastpriv');
    expect((await verifyWithCli(config)).equal).toBe(true);
    ferry.child.kill('SIGTERM');
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(0);
    const { rows } = await db.pg.query('SELECT count(*)::int AS n, sum(balance)::text AS total FROM leastpriv.accounts');
    expect(rows[0]).toEqual({ n: 999, total: `${String(((1000 * 1001) / 2) * 10 - 10 - 5000)}.00` });
  });

  it('a cutover whose fence the user may not put up fails saying so, and the source stays writable', async () => {
    // The README's heartbeat grant (the fence marker needs it), but not the fence's own privilege.
    await db.my.query("GRANT CREATE, INSERT, UPDATE ON ferry.* TO 'ferry_repl'@'127.0.0.1'");
    // No token: ferry cutover reaches the loopback-only admin API as an operator on the host would.
    const ferry = startCli(['run', '-c', writeConfig({ ...settings, admin: { listen: '127.0.0.1:0' } })]);
    try {
      const admin = await waitFor('the admin API address in the log', async () => /admin API on (http:\/\/[\d.:]+)/.exec(ferry.output())?.[1]);
      await waitReady(admin);
      const r = await runCli(['cutover', '--admin', admin, '--verify', 'none', '--max-lag', '30', '--timeout', '60']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout, r.stdout).toMatch(
        /failed: the fence failed, read_only was not set: the source user may not set it \(Access denied; you need .*READ_ONLY ADMIN/,
      );
      expect(r.stdout).toContain("GRANT READ_ONLY ADMIN ON *.* TO 'ferry_repl'@'127.0.0.1'");
      expect(r.stdout).toContain('no fence was up: the source stayed writable');
      expect(r.stdout).not.toMatch(/UNFENCING FAILED|read-only \(/);
      const [ro] = await db.my.query<RowDataPacket[]>('SELECT @@global.read_only AS ro');
      expect(Number(ro[0]!.ro)).toBe(0);
      await db.my.query('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
      await waitCaughtUp(db.my, db.pg, 'leastpriv');
      expect((await verifyWithCli(config)).equal, 'ferry streams on after the failed cutover').toBe(true);
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
    }
  });
});
