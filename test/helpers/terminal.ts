import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { CLI } from './ferry.js';

export interface OnTerminal {
  /** What the screen has shown so far, ANSI codes removed. */
  screen(): string;
  /** Types text at the keyboard ("\x03" is Ctrl-C: SIGINT to the program, as the terminal sends it). */
  type(text: string): void;
  readonly done: Promise<{ code: number | null; screen: string }>;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * The built CLI on a pseudo-terminal (util-linux `script`), 120 columns wide: stdout and stderr are
 * a TTY, as when a person runs ferry, and the test reads what that person would see.
 */
export function startOnTerminal(args: string[], env: NodeJS.ProcessEnv = {}): OnTerminal {
  const command = `stty cols 120 rows 40; exec ${[process.execPath, CLI, ...args].map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  child.stdout.on('data', (d) => (raw += d));
  child.stderr.on('data', (d) => (raw += d));
  const screen = () => stripVTControlCharacters(raw).replaceAll('\r', '');
  process.on('exit', () => child.kill('SIGKILL'));
  return {
    screen,
    type: (text) => child.stdin.write(text),
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, screen: screen() }))),
  };
}
