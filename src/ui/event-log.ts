import type { Logger } from 'pino';
import type { FerryEventBus } from '../core/events.js';
import { formatPosition } from '../core/position.js';
import { holdText, resyncHint } from '../core/table-quarantine.js';

/**
 * Writes what happens to the log: phases, tables copied, reconnects, and a streaming summary every
 * `everyMs` (at debug while nothing but heartbeats was applied: an idle pipeline would repeat
 * "applied 0 transactions" forever).
 */
export function logEvents(events: FerryEventBus, log: Logger, everyMs: number): () => void {
  let applied = { transactions: 0, events: 0 };
  let lagSeconds = 0;
  let last = Date.now();
  const offs = [
    events.on('phase', ({ phase }) => log.info({ phase }, `phase: ${phase}`)),
    events.on('snapshot-table-done', ({ table, rows, ms }) =>
      log.info({ table, rows, ms: Math.round(ms) }, `copied ${table}: ${rows} rows in ${(ms / 1000).toFixed(1)}s`),
    ),
    events.on('snapshot-restarted', ({ reason }) => log.warn({ reason }, `the interrupted snapshot starts over, every table emptied: ${reason}`)),
    events.on('snapshot-done', ({ rows, ms, position }) =>
      log.info(
        { rows, ms: Math.round(ms), position: formatPosition(position) },
        `snapshot complete: ${rows} rows; streaming starts at ${formatPosition(position)}`,
      ),
    ),
    events.on('refresh-scheduled', ({ next }) => log.info({ next: next?.toISOString() ?? null }, `next refresh: ${next?.toISOString() ?? 'none'}`)),
    events.on('refresh-started', () => log.info('refresh started: every selected table is copied again')),
    events.on('refresh-done', ({ startedAt, endedAt, rows, tables }) =>
      log.info(
        { rows, tables, ms: endedAt.getTime() - startedAt.getTime() },
        `refresh done: ${rows} rows in ${tables} tables, ${((endedAt.getTime() - startedAt.getTime()) / 1000).toFixed(1)}s`,
      ),
    ),
    events.on('refresh-failed', ({ kind, message }) => log.error({ kind, err: message }, `refresh failed (${message}); tried again at the next tick`)),
    events.on('stream-started', ({ from }) => log.info({ from: formatPosition(from) }, `streaming from ${formatPosition(from)}`)),
    events.on('rows-dead-lettered', ({ table, reason, rows }) =>
      log.warn({ table, reason, rows }, `${rows} row(s) of ${table} the target rejected (${reason}) kept in ferry.ferry_dead_letters`),
    ),
    events.on('replay-table-done', ({ table, id, letters, rows, deleted, rejected, ms }) =>
      log.info(
        { table, id, letters, rows, deleted, rejected },
        `replay of ${table}'s dead letters done: ${letters} letter(s) replayed, ${rows} row(s) read again from the source, ${deleted} deleted (gone there), ${rejected} rejected again (new letters), ${(ms / 1000).toFixed(1)}s`,
      ),
    ),
    events.on('resync-started', ({ table, id, restarted }) =>
      log.info(
        { table, id, restarted },
        `resync of ${table} ${restarted ? 'starts over' : 'started'}: its target table is emptied in stream order and copied again in chunks`,
      ),
    ),
    events.on('resync-chunk', ({ table, chunks, rows, readAhead }) =>
      log.debug({ table, chunks, rows, readAhead }, `resync of ${table}: chunk ${chunks}, ${rows} rows so far`),
    ),
    events.on('resync-done', ({ table, id, chunks, rows, ms }) =>
      log.info(
        { table, id, chunks, rows, ms: Math.round(ms) },
        `resync of ${table} done: ${rows} rows in ${chunks} chunks, ${(ms / 1000).toFixed(1)}s; it streams as usual`,
      ),
    ),
    events.on('table-hold', ({ table, hold }) => {
      if (hold?.state !== 'quarantined') return;
      const { key, reason, message, position } = hold;
      log.warn(
        { table, key, reason, message, position: formatPosition(position) },
        `${holdText(table, hold)}; the other tables stream on. fix: ${resyncHint(table)}`,
      );
    }),
    events.on('schema-changed', ({ table, addedColumns }) => log.info({ table, addedColumns }, `added columns to ${table}: ${addedColumns.join(', ')}`)),
    events.on('stream-retry', ({ error, attempt, delayMs, resumesFrom }) =>
      log.warn(
        { err: error.message, hint: error.hint, attempt, delayMs, resumesFrom: resumesFrom && formatPosition(resumesFrom) },
        `stream interrupted (${error.message})${error.hint ? `; fix: ${error.hint}` : ''}; reconnecting in ${(delayMs / 1000).toFixed(1)}s, resuming from the checkpoint${resumesFrom ? ` ${formatPosition(resumesFrom)}` : ''}`,
      ),
    ),
    events.on('batch-applied', (b) => {
      applied = { transactions: applied.transactions + b.transactions, events: applied.events + b.events };
      lagSeconds = Math.max(0, (Date.now() - b.commitTime.getTime()) / 1000);
      log.debug({ ...b, position: formatPosition(b.position) }, 'batch applied');
      if (Date.now() - last >= everyMs) {
        const level = applied.transactions > 0 ? 'info' : 'debug';
        log[level](
          { ...applied, lagSeconds, position: formatPosition(b.position) },
          `applied ${applied.transactions} transactions (${applied.events} changes), lag ${lagSeconds.toFixed(1)}s`,
        );
        applied = { transactions: 0, events: 0 };
        last = Date.now();
      }
    }),
  ];
  return () => offs.forEach((off) => off());
}
