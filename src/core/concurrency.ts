import { FerryError } from './errors.js';

/** Runs `work` over items with at most `limit` in flight; the first failure stops new work and is thrown. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let index = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && index < items.length) {
      const item = items[index++]!;
      try {
        await work(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure instanceof Error ? failure : new FerryError('fatal', String(failure));
}
