import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, adminCall, waitReady } from '../helpers/admin.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { samples } from '../helpers/exposition.js';
import { pipelineConfig, runCli, startCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
import { checkMetrics } from '../helpers/promtool.js';

interface LogLine {
  pipeline?: string;
  msg: string;
  level: string;
}

const logLines = (ferry: RunningCli): LogLine[] =>
  ferry
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

/** Fresh source and target databases `${prefix}_a` and `${prefix}_b`, each source with `sql` run in it; a file of their pipelines, b depending on a. */
async function dependentPair(
  prefix: string,
  sql: { a: string; b: string },
  top: Record<string, unknown> = {},
): Promise<[TestDatabases, TestDatabases, string]> {
  const [a, b] = await Promise.all([testDatabases(`${prefix}_a`), testDatabases(`${prefix}_b`)]);
  await Promise.all([a.my.query(sql.a), b.my.query(sql.b)]);
  const file = writeConfig({
    ...top,
    pipelines: [pipelineConfig(a.name, a.mysqlUrl, a.pgUrl), { ...pipelineConfig(b.name, b.mysqlUrl, b.pgUrl), dependsOn: [a.name] }],
  });
  return [a, b, file];
}

/**
 * `ferry run` of a file with two pipelines in one process (MariaDB → Postgres each, `b` dependsOn
 * `a`): b waits until a streams, then snapshots; one admin API answers for both; a row written at
 * each source arrives at its target.
 */
describe('a file of two pipelines, b depending on a, in one process', () => {
  let a: TestDatabases;
  let b: TestDatabases;
  let ferry: RunningCli;
  let admin: string;

  beforeAll(async () => {
    let file: string;
    [a, b, file] = await dependentPair(
      'proc',
      {
        a: "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO items SELECT seq, CONCAT('a', seq) FROM seq_1_to_20000",
        b: "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO items SELECT seq, CONCAT('b', seq) FROM seq_1_to_300",
      },
      { admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN } },
    );
    ferry = startCli(['run', '-c', file]);
    admin = await waitFor('the admin API address in the log', async () => /admin API on (http:\/\/[\d.:]+)/.exec(ferry.output())?.[1]);
  });

  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await Promise.all([a?.close(), b?.close()]);
  });

  it('starts b once a streams; /status, /readyz and /metrics answer for both; a row written at each source arrives; ferry cutover --pipelines cuts both over together', async () => {
    await waitReady(admin);
    const lines = logLines(ferry);
    const at = (pipeline: string, msg: string) => lines.findIndex((l) => l.pipeline === pipeline && l.msg === msg);
    expect(at(b.name, 'phase: waiting'), 'b waits').toBeGreaterThanOrEqual(0);
    expect(at(a.name, 'phase: streaming'), 'a streams').toBeGreaterThan(at(a.name, 'phase: snapshot'));
    expect(at(b.name, 'phase: snapshot'), "b's snapshot starts after a streams").toBeGreaterThan(at(a.name, 'phase: streaming'));
    expect(lines.filter((l) => /^(phase|copied|snapshot complete)/.test(l.msg)).every((l) => l.pipeline === a.name || l.pipeline === b.name)).toBe(true);

    const { body: status } = await adminCall(admin, '/status');
    const pipelines = status.pipelines as Record<string, { phase: string; waitingFor?: string[] }>;
    expect(Object.keys(pipelines)).toEqual([a.name, b.name]);
    expect(pipelines[b.name]).toMatchObject({ phase: 'streaming', waitingFor: [] });
    expect((await adminCall(admin, `/pipelines/${b.name}/status`)).body.pipeline).toBe(b.name);
    expect((await adminCall(admin, '/pipelines/nope/status')).body.hint).toBe(`pipelines: ${a.name}, ${b.name}`);

    const text = await (await fetch(`${admin}/metrics`)).text();
    expect(await checkMetrics(text)).toBe('');
    const streaming = samples(text).filter((s) => s.name === 'ferry_phase' && s.labels.phase === 'streaming' && s.value === 1);
    expect(streaming.map((s) => s.labels.pipeline).sort()).toEqual([a.name, b.name].sort());
    expect(samples(text).find((s) => s.name === 'ferry_snapshot_rows_total' && s.labels.pipeline === a.name)?.value).toBe(20_000);

    await a.my.query("INSERT INTO items VALUES (20001, 'a new')");
    await b.my.query("INSERT INTO items VALUES (301, 'b new')");
    for (const [db, v] of [
      [a, 'a new'],
      [b, 'b new'],
    ] as const) {
      await waitFor(`the row at ${db.name}'s target`, async () => {
        const { rows } = await db.pg.query(`SELECT v FROM "${db.name}".items WHERE v = $1`, [v]);
        return rows.length === 1;
      });
    }

    // Both cut over together (no fence: the servers are shared with other tests); the process answers until SIGTERM.
    const cut = await runCli([
      'cutover',
      '--admin',
      admin,
      '--token',
      ADMIN_TOKEN,
      '--pipelines',
      `${a.name},${b.name}`,
      '--fence',
      'none',
      '--verify',
      'counts',
    ]);
    expect(cut.code, cut.stdout + cut.stderr).toBe(0);
    expect((await adminCall(admin, '/cutover')).body).toMatchObject({
      state: 'completed',
      pipelines: { [a.name]: { state: 'completed' }, [b.name]: { state: 'completed' } },
    });
    await waitFor('the process to say the cutover stopped both', async () => /the cutover stopped pipeline\(s\) proc_\w, proc_\w /.test(ferry.output()));
    expect((await adminCall(admin, `/pipelines/${b.name}/status`)).body.phase).toBe('stopped');
    ferry.child.kill('SIGTERM');
    const { code } = await ferry.done;
    expect(code).toBe(0);
  }, 180_000);
});

describe('a file whose first pipeline fails', () => {
  let a: TestDatabases;
  let b: TestDatabases;
  let file: string;
  beforeAll(async () => {
    // No primary key: the preflight refuses the table, and pipeline a fails.
    [a, b, file] = await dependentPair('proc_fail', { a: 'CREATE TABLE nokey (v INT)', b: 'CREATE TABLE items (id INT PRIMARY KEY)' });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('never starts the pipeline that depends on it, says why, and exits 1 once every pipeline stopped', async () => {
    const ferry = startCli(['run', '-c', file]);
    const { code } = await ferry.done;
    expect(code).toBe(1);
    const lines = logLines(ferry);
    const errors = lines.filter((l) => l.level === 'error').map((l) => `${l.pipeline ?? '-'}: ${l.msg}`);
    expect(errors).toEqual([
      expect.stringMatching(new RegExp(`^${a.name}: preflight failed:.*has no primary key`, 's')),
      `${b.name}: pipeline ${b.name} will not start: it depends on ${a.name}, which failed`,
      `-: pipeline(s) ${a.name} failed (their errors above)`,
    ]);
    expect(lines.some((l) => l.pipeline === b.name && l.msg === 'phase: preflight')).toBe(false);
  }, 120_000);
});
