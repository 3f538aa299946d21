import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startMariaDb, type LocalServer } from '../../src/demo/local-databases.js';
import { VERSION } from '../../src/version.js';
import { ADMIN_TOKEN, startWithAdmin, waitReady } from '../helpers/admin.js';
import { GroupCutover } from '../../src/admin/group-cutover.js';
import { cutoverOf } from '../helpers/cutover.js';
import { runCli, writeConfig, type CliResult } from '../helpers/ferry.js';
import { freshDatabase, type Endpoint, type Engine } from '../helpers/routes.js';

/** The CLI's contracts (DESIGN §1.1): exit codes, read-only commands, option checks, --version. */

const told = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/** `url` with its port moved to one nothing listens on. */
async function closedPort(url: string): Promise<string> {
  const u = new URL(url);
  u.port = String(await freePort());
  return u.toString();
}

it('ferry --version prints the version, exit 0', async () => {
  const r = await runCli(['--version']);
  expect(r.code, told(r)).toBe(0);
  expect(r.stdout.trim()).toBe(VERSION);
});

describe('numeric options are checked before anything is sent', () => {
  // Nothing listens at the admin address: a request sent would fail with "cannot reach the admin API".
  it.each([
    [['--timeout', 'abc'], /--timeout <seconds>' argument 'abc' is invalid. expected a whole number of seconds/],
    [['--timeout', '1.5'], /--timeout <seconds>' argument '1.5' is invalid/],
    [['--max-lag', 'soon'], /--max-lag <seconds>' argument 'soon' is invalid. expected a number of seconds above 0/],
    [['--max-lag', ''], /--max-lag <seconds>' argument '' is invalid/],
    [['--pipelines', 'a,b,a'], /--pipelines <names>' argument 'a,b,a' is invalid. expected pipeline names separated by commas, each once/],
    [['--pipelines', 'a,,b'], /--pipelines <names>' argument 'a,,b' is invalid/],
  ])('ferry cutover %j: exit 2 naming the option', async (args, message) => {
    const r = await runCli(['cutover', '--admin', `http://127.0.0.1:${await freePort()}`, ...args]);
    expect(r.code, told(r)).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/cannot reach the admin API/);
  });

  it('ferry verify --chunk-rows 0: exit 2 before reading the config', async () => {
    const r = await runCli(['verify', '-c', '/nonexistent/ferry.yaml', '--chunk-rows', '0']);
    expect(r.code, told(r)).toBe(2);
    expect(r.stderr).toMatch(/--chunk-rows <n>' argument '0' is invalid. expected a whole number of at least 1/);
  });
});

describe('config errors', () => {
  const configFile = (text: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferry-test-')), 'ferry.yaml');
    writeFileSync(file, text);
    return file;
  };

  it('a YAML error next to a URL password and a token: exit 2, line and column named, neither secret printed', async () => {
    const password = 'Pw-4f1d9c-in-url';
    const token = 'tok-7d2e5b0a9c3f1e8d';
    const file = configFile(
      [
        'pipeline: orders',
        `source: { type: mysql, url: "mysql://repl:${password}@db1:3306/app" }`,
        '  target: { type: postgres }',
        'admin:',
        `  token: "${token}`,
      ].join('\n'),
    );
    const r = await runCli(['check', '-c', file]);
    expect(r.code, told(r)).toBe(2);
    expect(r.stderr).toMatch(/is not valid YAML/);
    expect(r.stderr).toMatch(/line 3, column \d+/);
    expect(r.stdout + r.stderr).not.toContain(password);
    expect(r.stdout + r.stderr).not.toContain(token);
  });

  it('unset variables and wrong keys are reported together, exit 2', async () => {
    const file = configFile(
      [
        'pipeline: orders',
        'source: { type: mysql, url: "mysql://repl:${FERRY_TEST_UNSET_A}@db1:3306/app" }',
        'target: { type: postgres, url: "${FERRY_TEST_UNSET_B}" }',
        'snapshot: { chunkrows: 5 }',
      ].join('\n'),
    );
    const r = await runCli(['check', '-c', file], { FERRY_TEST_UNSET_A: undefined, FERRY_TEST_UNSET_B: undefined });
    expect(r.code, told(r)).toBe(2);
    expect(r.stderr).toMatch(/source\.url: environment variable FERRY_TEST_UNSET_A is not set/);
    expect(r.stderr).toMatch(/target\.url: environment variable FERRY_TEST_UNSET_B is not set/);
    expect(r.stderr).toMatch(/snapshot: .*chunkrows/);
    expect(r.stderr).toMatch(/docs\/config\.md/);
  });
});

/**
 * status and verify against a target ferry never wrote to: they answer (no checkpoint yet; the table
 * is missing on the target) and leave it as it was, without ferry's schema (mysql: database).
 */
describe.each<{ source: Engine; target: Engine }>([
  { source: 'mysql', target: 'postgres' },
  { source: 'postgres', target: 'mysql' },
])('read-only commands on an empty $target target', ({ source: sourceEngine, target: targetEngine }) => {
  const name = `cli_ro_${targetEngine}`;
  let mariadb: LocalServer | undefined;
  let source: Endpoint;
  let target: Endpoint;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    // A MySQL target gets a server of its own: the shared one holds other tests' `ferry` database.
    mariadb = targetEngine === 'mysql' ? await startMariaDb() : undefined;
    const servers = { mariadb: inject('mariadbUrl'), postgres: inject('postgresUrl') };
    source = await freshDatabase(sourceEngine, name, servers);
    target = await freshDatabase(targetEngine, name, mariadb ? { ...servers, mariadb: mariadb.url() } : servers);
    await source.query("CREATE TABLE items (id int PRIMARY KEY, val text); INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    config = {
      pipeline: name,
      source: { type: sourceEngine, url: source.url },
      target: { type: targetEngine, url: target.url },
      ...(sourceEngine === 'mysql' ? {} : { tables: { include: ['public.items'] } }),
    };
  });
  afterAll(async () => {
    await source?.close();
    await target?.close();
    await mariadb?.destroy();
  });

  const ferrySchemas = async () => {
    const rows =
      targetEngine === 'postgres'
        ? await target.query("SELECT nspname AS name FROM pg_namespace WHERE nspname = 'ferry'")
        : await target.query("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'ferry'");
    return rows.map((r) => r.name);
  };

  it('status says there is no checkpoint yet, verify that the table is missing; neither creates anything', async () => {
    const file = writeConfig(config);
    const status = await runCli(['status', '-c', file]);
    expect(status.code, told(status)).toBe(0);
    expect(status.stdout).toMatch(/phase:\s+new/);
    expect(status.stdout).toMatch(/checkpoint:\s+none yet/);
    expect(status.stdout).toMatch(/source head:\s+\S+/);

    const verify = await runCli(['verify', '-c', file, '--recheck', '0']);
    expect(verify.code, told(verify)).toBe(1);
    expect(verify.stdout).toMatch(/DIFFER .*items[\s\S]*the target table does not exist/);
    expect(await ferrySchemas()).toEqual([]);
  });

  it.each(['source', 'target'] as const)('an unreachable %s: verify and status exit 2, naming it', async (end) => {
    const endpoint = config[end] as { url: string };
    const file = writeConfig({ ...config, [end]: { ...endpoint, url: await closedPort(endpoint.url) } });
    const verify = await runCli(['verify', '-c', file]);
    expect(verify.code, told(verify)).toBe(2);
    expect(verify.stderr).toMatch(/ECONNREFUSED|connect/i);
    if (end === 'target') {
      // Without the target there is no checkpoint to show; without the source, status shows the target side.
      const status = await runCli(['status', '-c', file]);
      expect(status.code, told(status)).toBe(2);
      expect(status.stderr).toMatch(/cannot prepare the target|ECONNREFUSED/);
    }
  });
});

describe('ferry cutover takes the admin token from FERRY_ADMIN_TOKEN', () => {
  let source: Endpoint;
  let target: Endpoint;
  beforeAll(async () => {
    source = await freshDatabase('mysql', 'cli_token');
    target = await freshDatabase('postgres', 'cli_token');
    await source.query("CREATE TABLE items (id int PRIMARY KEY, val text); INSERT INTO items VALUES (1, 'a')");
  });
  afterAll(async () => {
    await source?.close();
    await target?.close();
  });

  it('without --token: refused (exit 2) with neither, completed (exit 0) with the variable', async () => {
    const { ferry, admin } = await startWithAdmin({
      pipeline: 'cli_token',
      source: { type: 'mysql', url: source.url },
      target: { type: 'postgres', url: target.url },
      apply: { batchMaxMs: 50 },
    });
    try {
      await waitReady(admin);
      // fence none: the shared test server must not be made read-only under the other tests.
      const args = ['cutover', '--admin', admin, '--fence', 'none', '--verify', 'counts', '--max-lag', '30', '--timeout', '120'];
      const refused = await runCli(args, { FERRY_ADMIN_TOKEN: '' });
      expect(refused.code, told(refused)).toBe(2);
      expect(refused.stderr).toMatch(/401/);

      const done = await runCli(args, { FERRY_ADMIN_TOKEN: ADMIN_TOKEN });
      expect(done.code, told(done)).toBe(0);
      expect(done.stdout).toMatch(/cutover \S+ completed/);
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
    }
  });
});

describe('ferry cutover --pipelines a,b,c', () => {
  /** An admin API answering POST and GET /cutover with a grouped cutover of a, b, c over in-memory sources and targets (b as given). */
  async function groupAdmin(b: Parameters<typeof cutoverOf>[0] = {}) {
    const members = { a: cutoverOf(), b: cutoverOf(b), c: cutoverOf() };
    const group = new GroupCutover(new Map(Object.entries(members).map(([name, m]) => [name, m.cutover])));
    const bodies: unknown[] = [];
    const server = createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      if (req.method === 'POST') bodies.push(JSON.parse(text));
      const view = req.method === 'POST' ? group.start(JSON.parse(text)) : group.view();
      res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(view));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { admin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, members, close: () => server.close() };
  }

  it("posts {pipelines}, prints each member's states as they change, exit 0 when all completed", async () => {
    const { admin, bodies, close } = await groupAdmin();
    try {
      const r = await runCli(['cutover', '--admin', admin, '--pipelines', 'a, b,c', '--verify', 'counts', '--timeout', '60']);
      expect(r.code, told(r)).toBe(0);
      expect(bodies).toEqual([{ timeoutSeconds: 60, maxLagSeconds: 5, fence: 'read-only', verify: 'counts', pipelines: ['a', 'b', 'c'] }]);
      for (const name of ['a', 'b', 'c'])
        for (const state of ['preflight', 'fencing', 'draining', 'verifying', 'finalizing', 'completed'])
          expect(r.stdout).toMatch(new RegExp(`^ +\\d+\\.\\ds  ${name}: ${state}$`, 'm'));
      expect(r.stdout).toMatch(/^grouped cutover \S+ completed\n {2}a: final source position 0\/65; fence to completed \d+\.\d s$/m);
    } finally {
      close();
    }
  });

  it("exit 1 when a member's verify fails, printing each member's reason", async () => {
    const { admin, members, close } = await groupAdmin({ targetRows: 9 });
    try {
      const r = await runCli(['cutover', '--admin', admin, '--pipelines', 'a,b,c', '--verify', 'counts']);
      expect(r.code, told(r)).toBe(1);
      expect(r.stdout).toMatch(
        /^ +\d+\.\ds {2}a: failed: the grouped cutover failed: pipeline b: verify \(counts\) found differences in shop\.orders; the source is writable again$/m,
      );
      expect(r.stdout).toMatch(/^grouped cutover \S+ failed: the grouped cutover failed: pipeline b: /m);
      for (const m of Object.values(members)) expect(m.calls).not.toContain('stopped');
    } finally {
      close();
    }
  });
});
