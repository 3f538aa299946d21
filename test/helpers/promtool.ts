import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The repository's root, for the ops files promtool checks. */
export const ROOT = resolve(import.meta.dirname, '../..');

export interface PromtoolResult {
  readonly code: number | null;
  /** stdout and stderr together, as promtool splits its findings between them. */
  readonly output: string;
}

/**
 * Runs promtool (Debian package `prometheus`) in the repository's root, `input` on its stdin. A
 * missing promtool fails the test rather than skipping it: .ci/run installs the package.
 */
export function promtool(args: readonly string[], input?: string): Promise<PromtoolResult> {
  return new Promise((res, reject) => {
    const child = spawn('promtool', args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error('promtool is not installed: install the Debian package prometheus (apt-get install prometheus; .ci/run does it)')
          : err,
      ),
    );
    child.on('close', (code) => res({ code, output }));
    // promtool may exit before reading all of stdin (a usage error): its verdict is in `output`.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** `promtool check metrics` on a Prometheus text exposition; resolves to its complaints ('' when none). */
export async function checkMetrics(exposition: string): Promise<string> {
  const { code, output } = await promtool(['check', 'metrics'], exposition);
  return code === 0 ? '' : output.trim() || `promtool exited ${code}`;
}
