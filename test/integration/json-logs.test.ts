import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { checkpointOf, pipelineConfig, startCli, waitFor, writeConfig } from '../helpers/ferry.js';

interface LogLine {
  level: unknown;
  pipeline?: unknown;
  msg: string;
  [field: string]: unknown;
}

/** Every stderr line as JSON; a line that is not JSON fails the test, named. */
function jsonLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`a stderr line that is not JSON: ${line}`);
      }
    });
}

/** The periodic lines' interval for this run: short, so the copy and the idle stream outlast several. */
const INTERVAL_MS = 100;

/**
 * Off a terminal (a container, a log shipper) stderr is JSON lines only: a string level, the
 * pipeline on every line, a progress line per table while it is copied, the snapshot summary as a
 * log line, and no "applied 0 transactions" while the source is idle.
 */
describe('logs off a terminal', () => {
  let db: TestDatabases;
  beforeAll(async () => {
    db = await testDatabases('json_logs');
    await db.my.query('CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))');
    await db.my.query("INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_30000");
  });
  afterAll(async () => db?.close());

  it('are JSON lines through a snapshot, an idle stream, a change and a stop', async () => {
    const config = writeConfig(
      pipelineConfig(db.name, db.mysqlUrl, db.pgUrl, {
        snapshot: { chunkRows: 100, parallelism: 1 },
        admin: { listen: '127.0.0.1:0' },
      }),
    );
    const ferry = startCli(['run', '-c', config], { FERRY_PROGRESS_INTERVAL_MS: String(INTERVAL_MS) });
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));

    // Idle: heartbeats only, each one applied (the checkpoint moves), over many intervals.
    const position = async () => JSON.stringify((await checkpointOf(db.pg, db.name))?.position);
    for (let beats = 0; beats < 3; beats++) {
      const before = await position();
      await waitFor('a heartbeat to be applied', async () => (await position()) !== before);
    }
    const idle = jsonLines(ferry.output());
    expect(idle.filter((l) => l.msg.startsWith('applied ')).map((l) => l.msg)).toEqual([]);

    await db.my.query("INSERT INTO items VALUES (30001, 'new')");
    await waitFor("the change's summary line", async () => /applied 1 transactions \(1 changes\)/.test(ferry.output()));
    ferry.child.kill('SIGTERM');
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');

    const lines = jsonLines(r.stderr);
    for (const line of lines) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], line.msg).toContain(line.level);
      expect(line.pipeline, line.msg).toBe(db.name);
    }
    const table = `${db.name}.items`;
    const copied = lines.find((l) => l.msg.startsWith(`copied ${table}`));
    // The copy outlasted several intervals, so it had progress lines to write.
    expect(copied?.ms).toBeGreaterThan(3 * INTERVAL_MS);
    const progress = lines.filter((l) => l.msg.startsWith(`copying ${table}: `));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]!.msg).toMatch(/^copying \S+: \d+ of about \d+ rows \(\d+%\), (\d+|-) rows\/s$/);
    expect(progress[0]).toMatchObject({ table, rows: expect.any(Number), estimatedRows: expect.any(Number) });
    const summary = lines.find((l) => l.msg.startsWith('snapshot summary: '));
    expect(summary).toMatchObject({ rows: 30000, tables: [{ table, rows: 30000 }] });
    expect(lines.filter((l) => /^applied 0 transactions/.test(l.msg))).toEqual([]);
  });

  it('refuses FERRY_LOG_LEVEL=verbose with exit 2, naming the variable, the value and the levels, as a JSON line', async () => {
    const config = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl));
    const r = await startCli(['status', '-c', config], { FERRY_LOG_LEVEL: 'verbose' }).done;
    expect(r.code).toBe(2);
    const [line, ...rest] = jsonLines(r.stderr);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'error', kind: 'config' });
    expect(line!.msg).toContain('FERRY_LOG_LEVEL=verbose: not a log level; expected one of trace, debug, info, warn, error');
    expect(line!.msg).toContain("overrides the config's log.level");
  });
});
