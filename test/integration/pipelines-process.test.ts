import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, adminCall, waitReady } from '../helpers/admin.js';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { samples } from '../helpers/exposition.js';
import { pipelineConfig, startCli, waitFor, writeConfig, type RunningCli } from '../helpers/ferry.js';
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
    [a, b] = await Promise.all([testDatabases('proc_a'), testDatabases('proc_b')]);
    await a.my.query("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO items SELECT seq, CONCAT('a', seq) FROM seq_1_to_20000");
    await b.my.query("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO items SELECT seq, CONCAT('b', seq) FROM seq_1_to_300");
    const file = writeConfig({
      admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
      pipelines: [pipelineConfig(a.name, a.mysqlUrl, a.pgUrl), { ...pipelineConfig(b.name, b.mysqlUrl, b.pgUrl), dependsOn: [a.name] }],
    });
    ferry = startCli(['run', '-c', file]);
    admin = await waitFor('the admin API address in the log', async () => /admin API on (http:\/\/[\d.:]+)/.exec(ferry.output())?.[1]);
  });

  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await Promise.all([a?.close(), b?.close()]);
  });

  it('starts b once a streams; /status, /readyz and /metrics answer for both; a row written at each source arrives', async () => {
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
    ferry.child.kill('SIGTERM');
    const { code } = await ferry.done;
    expect(code).toBe(0);
  }, 180_000);
});
