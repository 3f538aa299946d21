import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { pipelineConfig, waitFor, writeConfig } from '../helpers/ferry.js';
import { startOnTerminal } from '../helpers/terminal.js';

/**
 * `ferry run` on a terminal, read as the person at it sees it: log lines show as they happen, with
 * or without progress bars (they used to wait in the bars' buffer, drawn only with a bar: a resumed
 * run showed a blank screen, a failed preflight only its final error).
 */
describe('ferry on a terminal', () => {
  let db: TestDatabases;
  let config: string;
  beforeAll(async () => {
    db = await testDatabases('terminal_output');
    await db.my.query('CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))');
    await db.my.query("INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_20000");
    config = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl, { admin: { listen: '127.0.0.1:0' } }));
  });
  afterAll(async () => db?.close());

  it('during a snapshot: draws a progress bar, and the log lines too', async () => {
    const r = await startOnTerminal(['snapshot', '-c', config]).done;
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toMatch(new RegExp(`${db.name}\\.items\\s+\\|[█░]+\\| 20000/20000 rows \\| \\d+ rows/s`));
    expect(r.screen).toContain('phase: snapshot');
    expect(r.screen).toContain(`copied ${db.name}.items: 20000 rows`);
    expect(r.screen).toContain('snapshot complete: 20000 rows');
    // The summary table, on a terminal.
    expect(r.screen).toMatch(new RegExp(`^${db.name}\\.items\\s+20000\\s+`, 'm'));
    expect(r.screen).toContain('snapshot finished');
  });

  it('on resume (a checkpoint, no snapshot): shows its lines while it runs, before it is stopped', async () => {
    const ferry = startOnTerminal(['run', '-c', config]);
    await waitFor('"streaming from" on the screen', async () => /streaming from binlog\.\d+:\d+/.test(ferry.screen()));
    const running = ferry.screen();
    expect(running).toContain('no snapshot; the stream resumes at the checkpoint');
    expect(running).toContain('phase: streaming');
    expect(running).not.toMatch(/\|[█░]+\|/);
    ferry.type('\x03');
    const r = await ferry.done;
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toContain('SIGINT: draining and stopping');
    expect(r.screen).toContain('stopped cleanly; the next start resumes from the checkpoint');
  });

  it('on a failed preflight: shows every line, not only the final error', async () => {
    const name = `${db.name}_nokey`;
    const bad = await testDatabases(name);
    try {
      await bad.my.query('CREATE TABLE events (at INT, what VARCHAR(20))');
      const r = await startOnTerminal(['run', '-c', writeConfig(pipelineConfig(name, bad.mysqlUrl, bad.pgUrl, { admin: { listen: '127.0.0.1:0' } }))]).done;
      expect(r.code, r.screen).toBe(2);
      const errorAt = r.screen.indexOf('preflight failed');
      expect(errorAt, r.screen).toBeGreaterThan(0);
      const before = r.screen.slice(0, errorAt);
      expect(before).toContain('admin API on http://127.0.0.1:');
      expect(before).toContain('phase: preflight');
      expect(before).toContain('phase: failed');
      expect(r.screen).toContain(`${name}.events`);
    } finally {
      await bad.close();
    }
  });

  it('a file of two pipelines: no bars, each line names its pipeline, each copy summed up as a line', async () => {
    const [a, b] = await Promise.all([testDatabases(`${db.name}_a`), testDatabases(`${db.name}_b`)]);
    try {
      await a.my.query('CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items SELECT seq FROM seq_1_to_2000');
      await b.my.query('CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items SELECT seq FROM seq_1_to_100');
      const file = writeConfig({
        admin: { listen: '127.0.0.1:0' },
        pipelines: [pipelineConfig(a.name, a.mysqlUrl, a.pgUrl), { ...pipelineConfig(b.name, b.mysqlUrl, b.pgUrl), dependsOn: [a.name] }],
      });
      const r = await startOnTerminal(['snapshot', '-c', file]).done;
      expect(r.code, r.screen).toBe(0);
      expect(r.screen).not.toMatch(/\|[█░]+\|/);
      expect(r.screen).toContain(`[${a.name}] snapshot summary: 1 tables, 2000 rows`);
      expect(r.screen).toContain(`[${b.name}] phase: waiting`);
      expect(r.screen).toContain(`[${b.name}] snapshot summary: 1 tables, 100 rows`);
      expect(r.screen).toContain('snapshot finished');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
