import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { terminal } from './ui/terminal.js';

export type { Logger };

/** JSON lines when stderr is not a terminal (containers, log shippers); readable lines on a terminal. */
export function makeLogger(level: string = process.env.FERRY_LOG_LEVEL ?? 'info'): Logger {
  const base = { level, base: { app: 'ferry' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY) {
    // On a terminal the message says it all; the structured fields are for log shippers.
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        terminal.write(chunk.toString());
        done();
      },
    });
    return pino(base, pretty({ destination, sync: true, colorize: true, hideObject: true }));
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
