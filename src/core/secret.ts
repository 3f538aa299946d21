import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret from the config (a webhook's signing key): its value is read with `reveal()` where it is
 * used, and every other way out (JSON, a log line, a string, util.inspect) shows only `[redacted]`,
 * so a config or an error that carries it into a log, /status or a report leaks nothing.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}
