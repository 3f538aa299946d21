import type { Row } from '../core/change-event.js';
import { rowKey } from '../core/coalesce.js';
import type { LetterKey } from '../core/dead-letter.js';

/**
 * The keys of rows that have a dead letter not replayed yet, per source table (`schema.table`), as
 * the sink last read or committed them. The target may lack such a row (its insert was rejected), so
 * a later delete or column-only update of it may find none: that is no divergence, and a replay
 * reads the row again as the source then holds it. Counted per letter, so a key stays while any of
 * its letters is unreplayed.
 */
export class LetteredKeys {
  readonly #tables = new Map<string, Map<unknown, number>>();

  /** The letters the checkpoint store holds unreplayed, in place of what was known. */
  load(letters: readonly Pick<LetterKey, 'table' | 'key'>[]): void {
    this.#tables.clear();
    this.add(letters);
  }

  add(letters: readonly Pick<LetterKey, 'table' | 'key'>[]): void {
    for (const { table, key } of letters) {
      let keys = this.#tables.get(table);
      if (!keys) this.#tables.set(table, (keys = new Map()));
      const k = rowKey(key);
      keys.set(k, (keys.get(k) ?? 0) + 1);
    }
  }

  /** Letters replayed: their keys count one letter less. */
  drop(letters: readonly Pick<LetterKey, 'table' | 'key'>[]): void {
    for (const { table, key } of letters) {
      const keys = this.#tables.get(table);
      const k = rowKey(key);
      const n = keys?.get(k);
      if (n === undefined) continue;
      if (n > 1) keys!.set(k, n - 1);
      else keys!.delete(k);
      if (keys!.size === 0) this.#tables.delete(table);
    }
  }

  /** Whether `table` has a letter of any key: the common answer is no, and then nothing is looked up per row. */
  any(table: string): boolean {
    return this.#tables.has(table);
  }

  has(table: string, key: Row): boolean {
    return this.#tables.get(table)?.has(rowKey(key)) ?? false;
  }
}
