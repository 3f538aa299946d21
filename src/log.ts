import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { configError } from './core/errors.js';
import { terminal } from './ui/terminal.js';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** FERRY_LOG_LEVEL, validated; undefined when unset or empty. When set, it overrides the config's log.level. */
export function envLogLevel(): LogLevel | undefined {
  const value = process.env.FERRY_LOG_LEVEL;
  if (value === undefined || value === '') return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw configError(
      `FERRY_LOG_LEVEL=${value}: not a log level; expected one of ${LOG_LEVELS.join(', ')}`,
      `set FERRY_LOG_LEVEL to one of ${LOG_LEVELS.join(', ')}, or unset it: when set, it overrides the config's log.level (default info)`,
    );
  }
  return value as LogLevel;
}

/**
 * JSON lines when stderr is not a terminal (containers, log shippers), `level` as its name; readable
 * lines on a terminal. Starts at `level`; FERRY_LOG_LEVEL is applied by the caller (configureLogger),
 * so a bad value is reported through this logger like any config error.
 */
export function makeLogger(level: LogLevel = 'info'): Logger {
  const base = { level, base: { app: 'ferry' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY) {
    // On a terminal the message says it all; the structured fields are for log shippers.
    const format = prettyFactory({ colorize: true, hideObject: true });
    return pino(base, { write: (line: string) => terminal.write(format(line)) });
  }
  const formatters = { level: (label: string) => ({ level: label }) };
  return pino({ ...base, formatters }, pino.destination({ dest: 2, sync: true }));
}

/**
 * Once the config is loaded: every later line names its pipeline (where the process runs one), and the
 * level is FERRY_LOG_LEVEL or else the config's log.level.
 */
export function configureLogger(log: Logger, config: { readonly pipeline?: string; readonly log: { readonly level: LogLevel } }): void {
  if (config.pipeline !== undefined) log.setBindings({ pipeline: config.pipeline });
  log.level = envLogLevel() ?? config.log.level;
}
