import type { Results } from './results.js';

/** One tool in an arm: prepared untimed, timed while it runs, checked untimed. */
export interface Contender {
  readonly tool: string;
  /** Recorded under this arm instead (a contender sharing another arm's set-up, with no peer of its own). */
  readonly arm?: string;
  prepare?(): Promise<void>;
  run(): Promise<void>;
  /** Throws when the result is wrong: a fast wrong answer is not a result. */
  check(): Promise<void>;
}

export interface Arm {
  readonly name: string;
  /** Rows each run moves, for the rate column. */
  readonly work: number;
  /** Untimed set-up shared by the contenders of one run (a backlog they all drain, say). */
  setupRun?(run: number): Promise<void>;
  readonly contenders: readonly Contender[];
}

/** Runs every contender `runs` times, alternating their order from run to run, and records the seconds of each. */
export async function race(arm: Arm, runs: number, results: Results): Promise<void> {
  for (let run = 1; run <= runs; run++) {
    await arm.setupRun?.(run);
    const order = run % 2 ? arm.contenders : [...arm.contenders].reverse();
    for (const c of order) {
      await c.prepare?.();
      const started = performance.now();
      await c.run();
      const seconds = (performance.now() - started) / 1000;
      await c.check();
      console.log(`  ${c.arm ?? arm.name} · ${c.tool} · run ${run}: ${seconds.toFixed(2)} s`);
      results.add({ arm: c.arm ?? arm.name, tool: c.tool, values: [seconds], unit: 's', work: arm.work });
    }
  }
}
