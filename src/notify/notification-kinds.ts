import type { FerryEvents } from '../core/events.js';
import { formatPosition } from '../core/position.js';

type Fields = Record<string, unknown>;

/** What a translation may remember between events: the tables it saw quarantined, to tell when one is lifted. */
export interface KindMemory {
  readonly quarantined: Set<string>;
}

interface Translation<E extends keyof FerryEvents> {
  readonly event: E;
  /** The notification's own fields, or null when this event is not one of this kind. */
  readonly fields: (payload: FerryEvents[E], memory: KindMemory) => Fields | null;
}

const from = <E extends keyof FerryEvents>(event: E, fields: Translation<E>['fields']) => ({ event, fields }) as Translation<keyof FerryEvents>;

/**
 * Every notification kind (docs/operations.md, "Notifications"), and the bus event it comes from:
 * adding a kind is one line here.
 */
const KINDS = {
  phase: from('phase', ({ phase }) => ({ phase })),
  'snapshot-started': from('phase', ({ phase }) => (phase === 'snapshot' ? {} : null)),
  'snapshot-table-done': from('snapshot-table-done', ({ table, rows, ms }) => ({ table, rows, ms: Math.round(ms) })),
  'snapshot-done': from('snapshot-done', ({ rows, ms, position }) => ({ rows, ms: Math.round(ms), position: formatPosition(position) })),
  error: from('failure', ({ kind, message }) => ({ errorKind: kind, message })),
  'table-quarantined': from('table-hold', ({ table, hold }, memory) => {
    if (hold?.state !== 'quarantined') return null;
    memory.quarantined.add(table);
    return { table, reason: hold.reason, message: hold.message, since: hold.since, position: formatPosition(hold.position) };
  }),
  'table-quarantine-lifted': from('table-hold', ({ table, hold }, memory) =>
    hold?.state !== 'quarantined' && memory.quarantined.delete(table) ? { table, ...(hold ? { now: hold.state } : {}) } : null,
  ),
  'rows-dead-lettered': from('rows-dead-lettered', ({ table, reason, rows }) => ({ table, reason, rows })),
  'lag-above': from('lag-threshold', ({ above, lagSeconds, maxLagSeconds }) => (above ? { lagSeconds, maxLagSeconds } : null)),
  'lag-below': from('lag-threshold', ({ above, lagSeconds, maxLagSeconds }) => (above ? null : { lagSeconds, maxLagSeconds })),
  'cutover-state': from('cutover-state', ({ id, state, reason, finalPosition }) => ({ cutover: id, state, reason, finalPosition })),
  'resync-started': from('resync-started', ({ id, table, restarted }) => ({ resync: id, table, restarted })),
  'resync-done': from('resync-done', ({ id, table, rows, chunks, ms }) => ({ resync: id, table, rows, chunks, ms: Math.round(ms) })),
  'refresh-started': from('refresh-started', ({ startedAt }) => ({ startedAt: startedAt.toISOString() })),
  'refresh-done': from('refresh-done', ({ startedAt, endedAt, rows, tables }) => ({
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    rows,
    tables,
  })),
  'refresh-failed': from('refresh-failed', ({ startedAt, endedAt, kind, message }) => ({
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    errorKind: kind,
    message,
  })),
} satisfies Record<string, Translation<keyof FerryEvents>>;

export type NotificationKind = keyof typeof KINDS;
export const NOTIFICATION_KINDS = Object.keys(KINDS) as NotificationKind[];

/** One notification as it is POSTed and listed by GET /events. */
export interface Notification {
  /** Unique: a receiver drops one it has seen (a retry after a lost answer sends it again). */
  readonly id: string;
  readonly kind: NotificationKind;
  readonly pipeline: string;
  /** ISO 8601, UTC. */
  readonly time: string;
  /** Increasing within one ferry process, in the order the events happened. */
  readonly sequence: number;
  readonly [field: string]: unknown;
}

/** The kinds with the event each comes from, in the order above (a phase change before the snapshot start it implies). */
export function kindTranslations(): [NotificationKind, Translation<keyof FerryEvents>][] {
  return Object.entries(KINDS) as [NotificationKind, Translation<keyof FerryEvents>][];
}
