import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/** The built CLI, run as the `ferry` command is: through its #! line. */
const CLI = resolve(import.meta.dirname, '../../dist/cli.js');

/** Every child the benchmark started; none outlives it. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Running {
  readonly child: ChildProcess;
  /** Resolves at a zero exit (or SIGTERM); rejects, naming the command and its output's tail, on any other. */
  readonly done: Promise<void>;
  /** The tail of what it printed. */
  output(): string;
}

/** Starts `command` with `args`; its output is kept for the error message. */
export function start(command: string, args: readonly string[], what = command): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const done = new Promise<void>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => {
      children.delete(child);
      if (code === 0 || signal === 'SIGTERM') res();
      else rej(new Error(`${what} exited with ${code ?? signal}:\n${output}`));
    });
  });
  done.catch(() => {});
  return { child, done, output: () => output };
}

/** Runs a bash pipeline to completion. */
export function sh(script: string, what = script.slice(0, 60)): Promise<void> {
  return start('bash', ['-o', 'pipefail', '-c', script], what).done;
}

/** A ferry pipeline run through the built CLI, as users run it. */
export class Ferry {
  readonly #config: string;

  constructor(
    readonly pipeline: string,
    config: Record<string, unknown>,
  ) {
    this.#config = join(mkdtempSync(join(tmpdir(), 'ferry-bench-')), 'ferry.yaml');
    writeFileSync(this.#config, stringify({ pipeline, log: { level: 'warn' }, ...config }));
  }

  snapshot(): Promise<void> {
    return start(CLI, ['snapshot', '-c', this.#config], `ferry snapshot (${this.pipeline})`).done;
  }

  /** `ferry run`; stop() sends SIGTERM and waits for the exit. */
  run(): FerryProcess {
    return new FerryProcess(start(CLI, ['run', '-c', this.#config], `ferry run (${this.pipeline})`));
  }
}

export class FerryProcess {
  constructor(readonly running: Running) {}

  /** Peak resident set size so far, in MiB (Linux VmHWM). */
  peakRssMb(): number {
    const status = readFileSync(`/proc/${this.running.child.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  async stop(): Promise<void> {
    this.running.child.kill('SIGTERM');
    await this.running.done;
  }
}

/** The first line a tool prints for `--version`, or null when it is not installed. */
export function versionOf(command: string, args = ['--version']): string | null {
  try {
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .split('\n')
      .find((l) => l.trim())!
      .trim();
  } catch {
    return null;
  }
}

/** Installs the peer tools the benchmark compares against, from the Debian packages, when missing. */
export function ensurePeers(): void {
  const missing = ['pgloader', 'pgcopydb', 'sysbench'].filter((tool) => versionOf(tool) === null && versionOf(tool, ['--help']) === null);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(`missing ${missing.join(', ')}: install them (sudo apt-get install -y ${missing.join(' ')}) and run the benchmark again`);
  console.log(`installing ${missing.join(', ')} …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}
