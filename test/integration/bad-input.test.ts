import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, type CliResult, pipelineConfig, runCli, startCli, waitCaughtUp, waitFor, writeConfig } from '../helpers/ferry.js';

/**
 * Bad input of every kind, through the built CLI as an operator meets it: one clear message naming
 * the cause and the fix, a non-zero exit code, and no checkpoint written to the target.
 */

/** What ferry told the operator: the `msg` of each JSON log line, other lines (stdout, progress) as they are. */
function told(r: CliResult | string): string {
  const text = typeof r === 'string' ? r : r.stdout + r.stderr;
  return text
    .split('\n')
    .map((line) => {
      try {
        const o = JSON.parse(line) as { msg?: unknown };
        return typeof o.msg === 'string' ? o.msg : line;
      } catch {
        return line;
      }
    })
    .join('\n');
}

function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

/** A config file with exactly this text (for YAML that `writeConfig` could never produce). */
function writeConfigText(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ferry-test-')), 'ferry.yaml');
  writeFileSync(file, text);
  return file;
}

async function expectNoCheckpoint(db: TestDatabases, pipeline: string): Promise<void> {
  expect(await checkpointOf(db.pg, pipeline)).toBeNull();
}

describe('ferry refuses a wrong source password', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('bad_password');
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
  });
  afterAll(async () => db?.close());

  it('ferry run exits 2 with "access denied" and the user/password fix, and writes no checkpoint', async () => {
    const url = withCredentials(db.mysqlUrl, 'root', 'wrong');
    const r = await runCli(['run', '-c', writeConfig(pipelineConfig(db.name, url, db.pgUrl))]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    expect(out).toMatch(/access denied/i);
    expect(out).toContain('check the user and password in source.url');
    await expectNoCheckpoint(db, db.name);
  });

  it('ferry check reports an unreachable source as a problem: exit 2, names host and port', async () => {
    const closed = new URL(db.mysqlUrl);
    closed.port = '1'; // nothing listens on port 1
    const r = await runCli(['check', '-c', writeConfig(pipelineConfig(db.name, closed.toString(), db.pgUrl))]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    expect(out).toMatch(/\[source\] source root@127\.0\.0\.1:1 is unreachable \(ECONNREFUSED\)/);
    expect(out).toContain('check the host and port in source.url');
    await expectNoCheckpoint(db, db.name);
  });
});

describe('ferry refuses a source user without replication grants', () => {
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    db = await testDatabases('bad_grants');
    await db.my.query(`
      CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
      DROP USER IF EXISTS 'limited'@'127.0.0.1';
      CREATE USER 'limited'@'127.0.0.1' IDENTIFIED BY 'limited-pw';
      GRANT SELECT ON \`bad_grants\`.* TO 'limited'@'127.0.0.1';
    `);
    config = writeConfig(pipelineConfig(db.name, withCredentials(db.mysqlUrl, 'limited', 'limited-pw'), db.pgUrl));
  });
  afterAll(async () => {
    await db?.my.query("DROP USER IF EXISTS 'limited'@'127.0.0.1'").catch(() => {});
    await db?.close();
  });

  it('ferry check exits 2 and names REPLICATION SLAVE; ferry run exits 2 with the same message and writes no checkpoint', async () => {
    const check = await runCli(['check', '-c', config]);
    const checkOut = told(check);
    expect(check.code, checkOut).toBe(2);
    const lacks = /the source user lacks [A-Z ,]+/.exec(checkOut)?.[0];
    expect(lacks, checkOut).toBeDefined();
    expect(lacks).toContain('REPLICATION SLAVE');
    expect(checkOut).toContain('GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.*');

    const run = await runCli(['run', '-c', config]);
    const runOut = told(run);
    expect(run.code, runOut).toBe(2);
    expect(runOut).toContain(lacks!);
    expect(runOut).toContain('GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.*');
    await expectNoCheckpoint(db, db.name);
  });
});

describe('ferry refuses a source with binlog_format=STATEMENT', () => {
  let server: LocalServer;
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    // A private server: the shared one must keep ROW for the tests running beside this one.
    server = await startMariaDb({ binlogFormat: 'STATEMENT' });
    db = await testDatabases('bad_binlog_format', { mariadb: server.url(), postgres: inject('postgresUrl') });
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    config = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl));
  });
  afterAll(async () => {
    await db?.close();
    await server?.destroy();
  });

  it('ferry check exits 2 naming binlog_format and ROW', async () => {
    const r = await runCli(['check', '-c', config]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    expect(out).toContain('binlog_format is STATEMENT; ferry needs ROW');
    expect(out).toContain('binlog_format=ROW');
  });

  it('ferry run exits 2 with the same message and writes no checkpoint', async () => {
    const r = await runCli(['run', '-c', config]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    expect(out).toContain('binlog_format is STATEMENT; ferry needs ROW');
    await expectNoCheckpoint(db, db.name);
  });
});

describe('ferry refuses a selected table without a primary key', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('bad_no_pk');
    await db.my.query(`
      CREATE TABLE has_key (id INT PRIMARY KEY, v VARCHAR(20));
      CREATE TABLE audit_trail (at DATETIME NOT NULL, what VARCHAR(50));
      INSERT INTO audit_trail VALUES (NOW(), 'x');
    `);
  });
  afterAll(async () => db?.close());

  it('ferry run exits 2 naming db.table and "primary key", and writes no checkpoint', async () => {
    const r = await runCli(['run', '-c', writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl))]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    expect(out).toContain('table bad_no_pk.audit_trail has no primary key');
    expect(out).not.toContain('bad_no_pk.has_key');
    await expectNoCheckpoint(db, db.name);
  });

  it('ferry check exits 2 naming a primary key it cannot page by (ENUM)', async () => {
    await db.my.query("CREATE TABLE by_state (state ENUM('b','a','c') PRIMARY KEY, n INT)");
    const r = await runCli([
      'check',
      '-c',
      writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl, { tables: { include: ['bad_no_pk.by_state', 'bad_no_pk.has_key'] } })),
    ]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    expect(out).toContain("table bad_no_pk.by_state: primary-key column state is enum('b','a','c')");
    expect(out).not.toContain('bad_no_pk.has_key');
  });
});

describe('ferry refuses a malformed config file', () => {
  let db: TestDatabases;
  let good: Record<string, unknown>;
  beforeAll(async () => {
    db = await testDatabases('bad_config');
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    good = pipelineConfig(db.name, db.mysqlUrl, db.pgUrl);
  });
  afterAll(async () => db?.close());

  async function runExpectingConfigError(file: string): Promise<string> {
    const r = await runCli(['run', '-c', file]);
    const out = told(r);
    expect(r.code, out).toBe(2);
    await expectNoCheckpoint(db, db.name);
    return out;
  }

  it('the config file as a control: ferry check passes on it', async () => {
    const r = await runCli(['check', '-c', writeConfig(good)]);
    expect(r.code, told(r)).toBe(0);
  });

  it('invalid YAML: exit 2, names the file and the YAML error', async () => {
    const file = writeConfigText(`${stringify(good)}snapshot: { chunkRows: 5\n`);
    const out = await runExpectingConfigError(file);
    expect(out).toContain(`config file ${file} is not valid YAML`);
    expect(out).toContain('fix the YAML syntax');
  });

  it('an unknown key: exit 2, names snapshot and chunkrows', async () => {
    const out = await runExpectingConfigError(writeConfig({ ...good, snapshot: { chunkrows: 5 } }));
    expect(out).toMatch(/snapshot: .*chunkrows/);
  });

  it('a wrong type: exit 2, names snapshot.parallelism', async () => {
    const out = await runExpectingConfigError(writeConfig({ ...good, snapshot: { parallelism: 'four' } }));
    expect(out).toMatch(/snapshot\.parallelism: .*number/);
  });

  it('an unset ${VARIABLE}: exit 2, names the variable and the key', async () => {
    expect(process.env.FERRY_TEST_NOT_SET_VAR).toBeUndefined();
    const out = await runExpectingConfigError(writeConfig({ ...good, target: { type: 'postgres', url: '${FERRY_TEST_NOT_SET_VAR}' } }));
    expect(out).toContain('target.url: environment variable FERRY_TEST_NOT_SET_VAR is not set');
    expect(out).toContain('export FERRY_TEST_NOT_SET_VAR=');
  });

  it('a missing file: exit 2, names the file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferry-test-')), 'missing.yaml');
    const out = await runExpectingConfigError(file);
    expect(out).toContain(`cannot read config file ${file}`);
    expect(out).toContain('pass an existing YAML file with -c FILE');
  });
});

describe('a row the target rejects stops ferry without moving the checkpoint', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('bad_nul_row');
    await db.my.query(`
      CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL);
      INSERT INTO notes VALUES (1, 'one'), (2, 'two'), (3, 'three');
    `);
  });
  afterAll(async () => db?.close());

  /** Where the binlog transaction that last wrote to `db.table` at or after `from` ends. */
  async function transactionEnd(from: { file: string; pos: number }, table: string): Promise<{ file: string; pos: number } | undefined> {
    const [events] = await db.my.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN '${from.file}' FROM ${from.pos}`);
    let end: number | undefined;
    let inOurs = false;
    for (const e of events) {
      if (e.Event_type === 'Table_map' && String(e.Info).includes(`(${db.name}.${table})`)) inOurs = true;
      if (inOurs && (e.Event_type === 'Xid' || (e.Event_type === 'Query' && /^COMMIT/i.test(String(e.Info))))) {
        end = Number(e.End_log_pos);
        inOurs = false;
      }
    }
    return end === undefined ? undefined : { file: from.file, pos: end };
  }

  async function head(): Promise<{ file: string; pos: number }> {
    const [rows] = await db.my.query<RowDataPacket[]>('SHOW MASTER STATUS');
    return { file: String(rows[0]!.File), pos: Number(rows[0]!.Position) };
  }

  const seq = (f: string) => Number(f.split('.').pop());
  const before = (a: { file: string; pos: number }, b: { file: string; pos: number }) => seq(a.file) < seq(b.file) || (a.file === b.file && a.pos < b.pos);

  it('ferry run exits 1 naming the table and the NUL character; the checkpoint stays before that transaction', async () => {
    const ferry = startCli(['run', '-c', writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl))]);
    try {
      await waitFor('snapshot to finish', async () => (await checkpointOf(db.pg, db.name))?.phase === 'stream');

      // Control: a good row streams through.
      await db.my.query("INSERT INTO notes VALUES (4, 'four')");
      await waitCaughtUp(db.my, db.pg, db.name);
      const good = await db.pg.query('SELECT body FROM bad_nul_row.notes WHERE id = 4');
      expect(good.rows).toEqual([{ body: 'four' }]);

      const remembered = (await checkpointOf(db.pg, db.name))!.position!;
      const headBefore = await head();
      await db.my.query("INSERT INTO notes VALUES (5, CONCAT('a', CHAR(0), 'b'))");
      const badEnd = await transactionEnd(headBefore, 'notes');
      const headAfter = await head();
      expect(badEnd, 'the bad transaction in the source binlog').toBeDefined();
      expect(before(headAfter, badEnd!)).toBe(false);

      const timeout = new AbortController();
      const result = await Promise.race([ferry.done, sleep(60_000, null, { signal: timeout.signal }).catch(() => null)]);
      timeout.abort();
      expect(result, `ferry is still running:\n${ferry.output()}`).not.toBeNull();
      const out = told(result!);
      expect(result!.code, out).toBe(1);
      expect(out).toMatch(/"?bad_nul_row"?\."?notes"?/);
      expect(out).toContain('NUL character');
      expect(out).toContain('clean the value at the source');

      const after = await checkpointOf(db.pg, db.name);
      expect(after?.phase).toBe('stream');
      expect(before(after!.position!, remembered)).toBe(false);
      expect(before(after!.position!, headAfter)).toBe(true);
      expect(before(after!.position!, badEnd!), `checkpoint ${JSON.stringify(after!.position)} vs the bad transaction's end ${JSON.stringify(badEnd)}`).toBe(
        true,
      );
      const bad = await db.pg.query('SELECT count(*)::int AS n FROM bad_nul_row.notes WHERE id = 5');
      expect(bad.rows[0].n).toBe(0);
    } finally {
      if (ferry.child.exitCode === null && ferry.child.signalCode === null) ferry.child.kill('SIGKILL');
    }
  });
});
