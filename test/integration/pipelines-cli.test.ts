import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/demo/local-databases.js';
import { runCli, writeConfig, type CliResult } from '../helpers/ferry.js';
import { freshDatabase, type Endpoint } from '../helpers/routes.js';

/** The question commands on a file of several pipelines (DESIGN §1.2): each pipeline in turn, or the one --pipeline names. */

const told = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

describe('check and status on a pipelines: file', () => {
  const names = ['cli_multi_a', 'cli_multi_b'] as const;
  const ends: Endpoint[] = [];
  let pipelines: Record<string, unknown>[];
  beforeAll(async () => {
    for (const name of names) {
      const source = await freshDatabase('mysql', name);
      const target = await freshDatabase('postgres', name);
      await source.query("CREATE TABLE items (id int PRIMARY KEY, val text); INSERT INTO items VALUES (1, 'a')");
      ends.push(source, target);
    }
    pipelines = names.map((name, i) => ({
      pipeline: name,
      ...(i > 0 ? { dependsOn: [names[0]] } : {}),
      source: { type: 'mysql', url: ends[2 * i]!.url },
      target: { type: 'postgres', url: ends[2 * i + 1]!.url },
    }));
  });
  afterAll(async () => {
    for (const end of ends) await end.close();
  });

  it('answer for every pipeline: check under a heading each, status --json keyed by pipeline, exit 0', async () => {
    const file = writeConfig({ log: { level: 'warn' }, pipelines });
    const check = await runCli(['check', '-c', file]);
    expect(check.code, told(check)).toBe(0);
    expect(check.stdout).toMatch(/^== pipeline cli_multi_a ==\n[\s\S]*check passed\n\n== pipeline cli_multi_b ==\n[\s\S]*check passed\n$/);

    const status = await runCli(['status', '-c', file, '--json']);
    expect(status.code, told(status)).toBe(0);
    const answers = JSON.parse(status.stdout).pipelines;
    expect(Object.keys(answers)).toEqual([...names]);
    expect(names.map((n) => [answers[n].pipeline, answers[n].phase])).toEqual(names.map((n) => [n, 'new']));

    const one = await runCli(['status', '-c', file, '--json', '--pipeline', 'cli_multi_b']);
    expect(one.code, told(one)).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ pipeline: 'cli_multi_b', phase: 'new' });
  });

  it('a pipeline that cannot answer: the others still do, exit 2 (the worst)', async () => {
    const unreachable = new URL(ends[1]!.url);
    unreachable.port = String(await freePort());
    const file = writeConfig({ pipelines: [{ ...pipelines[0], target: { type: 'postgres', url: unreachable.toString() } }, pipelines[1]] });
    const status = await runCli(['status', '-c', file, '--json']);
    expect(status.code, told(status)).toBe(2);
    const answers = JSON.parse(status.stdout).pipelines;
    expect(answers.cli_multi_a.error).toBeTruthy();
    expect(answers.cli_multi_b.phase).toBe('new');
    expect(status.stderr).toMatch(/"pipeline":"cli_multi_a"/);
  });
});
