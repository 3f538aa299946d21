import { pino } from 'pino';
import { parseConfig } from '../../src/config.js';
import type { FerryEventBus } from '../../src/core/events.js';
import { runPipeline } from '../../src/pipeline/coordinator.js';
import type { Transform } from '../../src/transforms/transform.js';

/** `ferry run` in the test's own process: for tests that hook its events or give it what config cannot (a transform). */
export interface InProcessPipeline {
  /** `wait`, failed with the pipeline's own error if the pipeline stops first (a change the target rejected), not at a timeout. */
  running<T>(wait: Promise<T>): Promise<T>;
  /** Stops the pipeline and waits for it, whatever it ended with. */
  stop(): Promise<void>;
}

export function startInProcess(config: Record<string, unknown>, events: FerryEventBus, transform?: Transform): InProcessPipeline {
  const stop = new AbortController();
  const pipeline = runPipeline({
    config: parseConfig(config),
    log: pino({ level: 'silent' }),
    events,
    signal: stop.signal,
    until: 'stream',
    ...(transform ? { transform } : {}),
  });
  // Observed from the start: a pipeline that fails before anyone waits on it is no unhandled rejection.
  pipeline.catch(() => {});
  return {
    running: (wait) => Promise.race([wait, pipeline.then(() => Promise.reject(new Error('the pipeline stopped')))]),
    async stop() {
      stop.abort();
      await pipeline.catch(() => {});
    },
  };
}
