import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { terminal } from './ui/terminal.js';

export type { Logger };

/** JSON lines when stderr is not a terminal (containers, log shippers); readable lines on a terminal. */
export function makeLogger(level: string = process.env.FERRY_LOG_LEVEL ?? 'info'): Logger {
  const base = { level, base: { app: 'ferry' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY) {
    // On a terminal the message says it all; the structured fields are for log shippers.
    const format = prettyFactory({ colorize: true, hideObject: true });
    return pino(base, { write: (line: string) => terminal.write(format(line)) });
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
