import type { LetterKey } from '../core/dead-letter.js';
import type { Row } from '../core/change-event.js';
import type { TableSchema } from '../core/schema.js';
import type { TableHolds } from '../core/table-hold.js';
import { resyncRoute } from '../core/table-quarantine.js';
import { tableKey } from '../core/change-event.js';
import { runResync, type ResyncDeps, type ResyncRun } from './resync.js';

/** One table of a replay: its letters marked replayed, rows read again and upserted, keys the source no longer has deleted, rows the target rejected again. */
export interface ReplayedTable {
  letters: number;
  rows: number;
  deleted: number;
  rejected: number;
}

/** POST /dead-letters/replay as it goes (GET /dead-letters/replay): counted across a stream attempt that started it over. */
export interface ReplayTally {
  /** The source table asked for (`schema.table`), or null for every table. */
  readonly table: string | null;
  state: 'running' | 'done';
  readonly tables: Record<string, ReplayedTable>;
  /** Tables whose letters this replay cannot read again, with the letters and why. */
  readonly left: Record<string, { letters: number; reason: string }>;
}

/** A replay run: a resync run in the key-set mode, over the dead letters of one table or of all. */
export type ReplayRun = ResyncRun & { readonly replay: ReplayTally };

export interface ReplayDeps extends ResyncDeps {
  /** The letters not replayed yet, in id order (CheckpointStore.unreplayedLetters). */
  readonly letters: () => Promise<LetterKey[]>;
  readonly tables: readonly TableSchema[];
  readonly holds: TableHolds | undefined;
  /** A table's key as the source has it from the target's key its letters keep (TableTransforms.sourceKey); null where a rule masks a key column. */
  readonly sourceKey: (table: TableSchema) => ((key: Row) => Row) | null;
}

/** Why the letters of `name` cannot be read again, or null. */
function leftOut(name: string, table: TableSchema | undefined, holds: TableHolds | undefined, toSource: ((key: Row) => Row) | null): string | null {
  if (!table) return 'not a replicated table (excluded since): nothing reads it';
  if (table.primaryKey.length === 0) return 'no primary key: a replay reads rows by key';
  if (holds?.[name]?.state === 'quarantined') return `quarantined: ${resyncRoute(name)} copies it again, these rows with it`;
  if (!toSource)
    return `a transform rule masks its key: the source's rows cannot be found by the target's keys; ${resyncRoute(name)} copies it again, these rows with it`;
  return null;
}

/**
 * Replays dead letters (pipeline/resync-stage.ts, key-set mode): the letters not replayed yet, of
 * `run.replay.table` or of every table, each table in the order of its first letter and its keys in
 * letter order, are read again from the source between watermarks and injected into the stream;
 * the transactions that apply them mark them replayed. Started over (a lost connection), it reads
 * the letters not replayed yet again, so none is marked twice.
 */
export async function runReplay(run: ReplayRun, d: ReplayDeps, restarted: boolean): Promise<void> {
  const { replay } = run;
  const byTable = new Map<string, LetterKey[]>();
  for (const l of await d.letters()) {
    if (replay.table !== null && l.table !== replay.table) continue;
    const same = byTable.get(l.table);
    if (same) same.push(l);
    else byTable.set(l.table, [l]);
  }
  for (const [name, letters] of byTable) {
    const table = d.tables.find((t) => tableKey(t.source) === name);
    const toSource = table ? d.sourceKey(table) : null;
    const why = leftOut(name, table, d.holds, toSource);
    if (why) {
      replay.left[name] = { letters: letters.length, reason: why };
      continue;
    }
    const began = performance.now();
    // Read by the source's key; marked by id, and dropped from the sink's lettered keys by the key's values, which a rename keeps.
    const read = letters.map((l) => ({ ...l, key: toSource!(l.key) }));
    const walked = await runResync({ ...run, table: name }, d, restarted, read);
    const tally = (replay.tables[name] ??= { letters: 0, rows: 0, deleted: 0, rejected: 0 });
    tally.letters += letters.length;
    tally.rows += walked.rows;
    tally.deleted += walked.deleted;
    tally.rejected += walked.rejected;
    d.events.emit('replay-table-done', { id: run.id, table: name, letters: letters.length, ...walked, ms: performance.now() - began });
  }
  replay.state = 'done';
}
