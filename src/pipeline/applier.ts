import { tableKey, type ChangeEvent, type Op, type TableId, type Transaction } from '../core/change-event.js';
import type { FerryEventBus, TableOps } from '../core/events.js';
import type { Position } from '../core/position.js';
import type { Sink, SinkTransaction } from '../core/sink.js';
import type { ChangeStream } from '../core/change-stream.js';
import { batches, type BatchLimits } from './batcher.js';
import type { PauseGate } from '../core/pause-gate.js';

export interface ApplierDeps {
  /** Told what it may release once the target has committed it. */
  readonly source: Pick<ChangeStream, 'acknowledge'>;
  readonly sink: Sink;
  readonly events: FerryEventBus;
  readonly limits: BatchLimits;
  /** Called after every commit, with the checkpoint's new position (before the source is told). */
  readonly onCommit?: (position: Position) => void;
  /** Paused, the applier starts no new target transaction (until resumed, or `signal` aborts). */
  readonly gate?: PauseGate;
  readonly signal?: AbortSignal;
}

/**
 * Events per table and operation, for the metrics. Keyed by the TableId objects themselves (the
 * events of one table share its schema's), so counting allocates nothing per event.
 */
export class TableOpCounter {
  readonly #counts = new Map<TableId, Map<Op, number>>();

  add(events: readonly ChangeEvent[]): void {
    for (const e of events) {
      let ops = this.#counts.get(e.table);
      if (!ops) this.#counts.set(e.table, (ops = new Map()));
      ops.set(e.op, (ops.get(e.op) ?? 0) + 1);
    }
  }

  list(): TableOps[] {
    return [...this.#counts].flatMap(([table, ops]) => [...ops].map(([op, events]) => ({ table: tableKey(table), op, events })));
  }
}

/**
 * Nothing for the target: a whole transaction of tables not replicated, ferry's own checkpoint write
 * on a target sharing the source's log among them. A commit for it would land in that log again.
 * One that sets or lifts a table's hold is not idle: the hold commits with it.
 */
function idle(t: Transaction): boolean {
  return t.events.length === 0 && !t.schemaChange && !t.heartbeat && !t.marker && !t.partial && !t.hold;
}

/**
 * Applies transactions in source order. Each target commit carries the checkpoint of the last whole
 * source transaction in it; only then is the source told it may release what came before (DESIGN §3.3).
 * Pieces of one large source transaction share one target transaction, so readers never see half of it.
 * Idle transactions alone make no commit: on a quiet source the checkpoint moves with the heartbeat.
 */
export async function applyStream(stream: AsyncIterable<Transaction>, deps: ApplierDeps): Promise<void> {
  const { sink, source, events } = deps;
  let tx: SinkTransaction | null = null;
  let started = 0;
  let counts = { transactions: 0, events: 0 };
  let perTable = new TableOpCounter();
  let markers: { marker: string; position: Position; changesAfter: number }[] = [];
  /** The holds set or lifted in the open target transaction, told once it commits. */
  let holds: NonNullable<Transaction['hold']>[] = [];
  /** The source transaction being applied (in pieces, perhaps) changed replicated tables. */
  let changed = false;
  try {
    for await (const batch of batches(stream, deps.limits)) {
      // Their positions ride along with the next commit, which ends a later whole transaction.
      if (!tx && batch.every(idle)) continue;
      if (!tx) {
        await deps.gate?.passed(deps.signal);
        tx = await sink.begin();
        started = performance.now();
        counts = { transactions: 0, events: 0 };
        perTable = new TableOpCounter();
        markers = [];
        holds = [];
      }
      for (const t of batch) {
        if (t.schemaChange) {
          if (t.schemaChange.addColumns.length > 0) await tx.addColumns(t.schemaChange.table, t.schemaChange.addColumns);
          if (t.schemaChange.foreignKeys) await tx.setForeignKeys(t.schemaChange.table, t.schemaChange.foreignKeys);
          events.emit('schema-changed', { table: tableKey(t.schemaChange.table), addedColumns: t.schemaChange.addColumns.map((c) => c.name) });
        }
        // A transaction counts once, with its last piece, when any of its pieces changed replicated tables.
        changed ||= t.events.length > 0 || t.schemaChange !== undefined;
        if (!t.partial) {
          if (changed) {
            counts.transactions++;
            for (const m of markers) m.changesAfter++;
          }
          changed = false;
        }
        if (t.marker) markers.push({ marker: t.marker, position: t.position, changesAfter: 0 });
        if (t.hold) holds.push(t.hold);
      }
      const changes = batch.flatMap((t) => t.events);
      if (changes.length > 0 || batch.some((t) => t.hold || t.replayed)) await tx.write(batch);
      counts.events += changes.length;
      perTable.add(changes);
      const last = batch[batch.length - 1]!;
      if (last.partial) continue;
      await tx.commit({ phase: 'stream', position: last.position });
      const deadLettered = tx.deadLettered?.() ?? [];
      const replayed = tx.replayed?.() ?? [];
      tx = null;
      for (const d of deadLettered) events.emit('rows-dead-lettered', d);
      for (const r of replayed) events.emit('letters-replayed', r);
      for (const h of holds) events.emit('table-hold', h);
      deps.onCommit?.(last.position);
      await source.acknowledge?.(last.position);
      events.emit('batch-applied', {
        ...counts,
        perTable: perTable.list(),
        position: last.position,
        commitTime: last.commitTime,
        ms: performance.now() - started,
      });
      for (const m of markers) events.emit('marker-applied', m);
    }
  } finally {
    await tx?.rollback();
  }
}
