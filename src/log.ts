import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** JSON lines when stderr is not a terminal (containers, log shippers); readable lines on a terminal. */
export function makeLogger(level: string = process.env.FERRY_LOG_LEVEL ?? 'info'): Logger {
  const base = { level, base: { app: 'ferry' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY) {
    return pino(base, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname,app' }));
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
