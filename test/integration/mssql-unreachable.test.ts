import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { type CliResult, runCli, writeConfig } from '../helpers/ferry.js';

/**
 * `target.type: mssql` through the built CLI where no SQL Server runs: a closed port and a host that
 * does not resolve. The source is a real MariaDB, so every problem reported is the target's. What
 * runs here is ferry's side of the connection (config, URL, driver, error classification); no
 * SQL Server answered these tests.
 */

const URL_PASSWORD = 'Url-Secret-7f3a!';
const FILE_PASSWORD = 'File-Secret-9c2e!';

function output(r: CliResult): string {
  return r.stdout + r.stderr;
}

describe('ferry check and ferry plan with an unreachable SQL Server target', () => {
  let db: TestDatabases;
  let closedPortConfig: string;
  let unresolvableConfig: string;
  beforeAll(async () => {
    db = await testDatabases('mssql_unreachable');
    await db.my.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
    const base = { pipeline: db.name, source: { type: 'mysql', url: db.mysqlUrl }, tables: { include: [`${db.name}.*`] } };
    // Nothing listens on port 1 (a privileged port no test server takes).
    closedPortConfig = writeConfig({ ...base, target: { type: 'mssql', url: `mssql://ferry:${encodeURIComponent(URL_PASSWORD)}@127.0.0.1:1/mart` } });
    const secret = join(mkdtempSync(join(tmpdir(), 'ferry-secret-')), 'mssql-password');
    writeFileSync(secret, `${FILE_PASSWORD}\n`);
    // .invalid never resolves (RFC 2606).
    unresolvableConfig = writeConfig({ ...base, target: { type: 'mssql', url: 'sqlserver://ferry@nowhere.invalid:1433/mart', passwordFile: secret } });
  });
  afterAll(async () => db?.close());

  it('check, a closed port (password in the URL): exit 2, "unreachable (ECONNREFUSED)" naming host and port, the fix, no password anywhere', async () => {
    const r = await runCli(['check', '-c', closedPortConfig]);
    const out = output(r);
    expect(r.code, out).toBe(2);
    expect(out).toContain('[target] cannot connect to the target: target ferry@127.0.0.1:1 is unreachable (ECONNREFUSED)');
    expect(out).toContain('check the host and port in target.url');
    expect(out).not.toMatch(/\[source\]/);
    expect(out).not.toContain(URL_PASSWORD);
    expect(out).not.toContain(encodeURIComponent(URL_PASSWORD));
  });

  it('check, a host that does not resolve (password from passwordFile): exit 2, naming host and port, no password anywhere', async () => {
    const r = await runCli(['check', '-c', unresolvableConfig]);
    const out = output(r);
    expect(r.code, out).toBe(2);
    expect(out).toMatch(/\[target\] cannot connect to the target: target ferry@nowhere\.invalid:1433 is unreachable \((ENOTFOUND|EAI_AGAIN)\)/);
    expect(out).not.toMatch(/\[source\]/);
    expect(out).not.toContain(FILE_PASSWORD);
    expect(out).not.toContain(encodeURIComponent(FILE_PASSWORD));
  });

  it('plan: exit 2, the same connection error and fix, no password', async () => {
    for (const [config, where, secret] of [
      [closedPortConfig, /target ferry@127\.0\.0\.1:1 is unreachable \(ECONNREFUSED\)/, URL_PASSWORD],
      [unresolvableConfig, /target ferry@nowhere\.invalid:1433 is unreachable \((ENOTFOUND|EAI_AGAIN)\)/, FILE_PASSWORD],
    ] as const) {
      const r = await runCli(['plan', '-c', config]);
      const out = output(r);
      expect(r.code, out).toBe(2);
      expect(out).toMatch(where);
      expect(out).toContain('check the host and port in target.url');
      expect(out).not.toContain(secret);
    }
  });
});
