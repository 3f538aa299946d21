import { afterEach, describe, expect, it, vi } from 'vitest';
import { configureLogger, envLogLevel, makeLogger } from '../../src/log.js';
import { FerryError } from '../../src/core/errors.js';

afterEach(() => vi.unstubAllEnvs());

describe('FERRY_LOG_LEVEL', () => {
  it('refuses a value that is not a level, naming the variable, the value and the levels', () => {
    vi.stubEnv('FERRY_LOG_LEVEL', 'verbose');
    let error: unknown;
    try {
      envLogLevel();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).kind).toBe('config');
    expect((error as FerryError).describe()).toContain('FERRY_LOG_LEVEL=verbose: not a log level; expected one of trace, debug, info, warn, error');
  });

  it("overrides the config's log.level, which applies when it is unset", () => {
    const log = makeLogger('info');
    vi.stubEnv('FERRY_LOG_LEVEL', 'warn');
    configureLogger(log, { pipeline: 'p', log: { level: 'debug' } });
    expect(log.level).toBe('warn');
    vi.stubEnv('FERRY_LOG_LEVEL', '');
    configureLogger(log, { pipeline: 'p', log: { level: 'debug' } });
    expect(log.level).toBe('debug');
  });
});
