import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';

export const CLI = resolve(import.meta.dirname, '../../dist/cli.js');

/** Writes a config file for a pipeline from source and target URLs plus overrides; returns its path. */
export function writeConfig(doc: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-test-'));
  const file = join(dir, 'ferry.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

export function pipelineConfig(name: string, mysqlUrl: string, pgUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pipeline: name,
    source: { type: 'mysql', url: mysqlUrl },
    target: { type: 'postgres', url: pgUrl },
    tables: { include: [`${name}.*`] },
    apply: { batchMaxMs: 50 },
    ...extra,
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  output(): string;
}

/** Every CLI process a test started: none may outlive the test run, whatever happened to the test. */
const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/** How ferry is started: the checkout's build by default; another tree (the container's) with its own directory and environment. */
export interface CliEntry {
  readonly argv: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

const CHECKOUT_CLI: CliEntry = { argv: [process.execPath, CLI] };

/** Starts the built CLI as a user would; output is collected. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, entry: CliEntry = CHECKOUT_CLI): RunningCli {
  const [command, ...prefix] = entry.argv;
  const child = spawn(command!, [...prefix, ...args], { cwd: entry.cwd, env: { ...(entry.env ?? process.env), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.on('exit', () => started.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done, output: () => stdout + stderr };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, entry?: CliEntry): Promise<CliResult> {
  return startCli(args, env, entry).done;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Reads ferry's checkpoint row for `pipeline` from the target database. */
export async function checkpointOf(
  client: import('pg').Client,
  pipeline: string,
): Promise<{ phase: string; position: { file: string; pos: number } | null } | null> {
  const { rows } = await client
    .query('SELECT phase, position FROM ferry.ferry_checkpoint WHERE pipeline = $1', [pipeline])
    .catch(() => ({ rows: [] as never[] }));
  return rows[0] ?? null;
}

/** Waits until the pipeline's applied position has reached the source's binlog head as it is now. */
export async function waitCaughtUp(my: import('mysql2/promise').Connection, client: import('pg').Client, pipeline: string, ms = 90_000): Promise<void> {
  const [rows] = await my.query('SHOW MASTER STATUS');
  const head = (rows as { File: string; Position: number }[])[0]!;
  const seq = (f: string) => Number(f.split('.').pop());
  await waitFor(
    `${pipeline} to reach ${head.File}:${head.Position}`,
    async () => {
      const c = await checkpointOf(client, pipeline);
      const p = c?.phase === 'stream' ? c.position : null;
      return p !== null && (seq(p.file) > seq(head.File) || (p.file === head.File && p.pos >= Number(head.Position)));
    },
    ms,
  );
}

/** One table's verdict as `ferry verify --json` prints it. */
export interface VerifiedTable {
  readonly table: string;
  readonly source: string;
  readonly target: string;
  readonly equal: boolean;
  readonly method: 'sql' | 'rows' | 'transforms';
  readonly note?: string;
  readonly rows: number;
  readonly differingRanges: { from: string | null; to: string | null; sourceRows: number; targetRows: number; keys?: { key: string; difference: string }[] }[];
}

/** `ferry verify --json` through the CLI: the per-table verdicts and whether all are equal. */
export async function verifyWithCli(configFile: string, mode = 'checksums', extra: string[] = []): Promise<{ equal: boolean; tables: VerifiedTable[] }> {
  const r = await runCli(['verify', '-c', configFile, '--mode', mode, '--json', ...extra]);
  if (r.code !== 0 && r.code !== 1) throw new Error(`ferry verify failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Waits until the pipeline's snapshot is complete and it streams. */
export function waitStreaming(client: import('pg').Client, pipeline: string, ms?: number): Promise<true> {
  return waitFor(`${pipeline} to stream`, async () => (await checkpointOf(client, pipeline))?.phase === 'stream', ms);
}

/**
 * `ferry run` on the test's databases (pipeline named after them), once its snapshot is done and
 * its stream has started: what the source does from then on reaches ferry through the binlog.
 */
export async function startStreaming(
  db: { name: string; mysqlUrl: string; pgUrl: string; pg: import('pg').Client },
  extra: Record<string, unknown> = {},
  entry?: CliEntry,
): Promise<{ config: string; ferry: RunningCli }> {
  const config = writeConfig(pipelineConfig(db.name, db.mysqlUrl, db.pgUrl, extra));
  const ferry = startCli(['run', '-c', config], {}, entry);
  // A ferry that stopped will not stream: say why now rather than at the timeout.
  const running = () => {
    if (ferry.child.exitCode !== null || ferry.child.signalCode !== null)
      throw new Error(`ferry run exited (${ferry.child.exitCode ?? ferry.child.signalCode}) before streaming:\n${ferry.output()}`);
  };
  await waitFor(`${db.name} to stream`, async () => {
    running();
    return (await checkpointOf(db.pg, db.name))?.phase === 'stream';
  });
  await waitFor(`${db.name} to start its stream`, async () => {
    running();
    return /streaming from/.test(ferry.output());
  });
  return { config, ferry };
}
