import type { Position } from './position.js';
import type { Column, ForeignKey } from './schema.js';
import type { LetterKey } from './dead-letter.js';
import type { TableHold } from './table-hold.js';

/** read (snapshot), create, update, delete, truncate */
export type Op = 'r' | 'c' | 'u' | 'd' | 't';

/**
 * Canonical column values, the same whichever path (snapshot or stream) read them:
 * integers are numbers when safe and decimal strings beyond 2^53, DECIMAL is an exact string,
 * temporals are ISO-like strings with their full fraction, binary data is a Buffer.
 */
export type Value = null | string | number | boolean | Buffer;
export type Row = Record<string, Value>;

export interface TableId {
  readonly schema: string;
  readonly name: string;
}

export function tableKey(t: TableId): string {
  return `${t.schema}.${t.name}`;
}

/** The inverse of tableKey (schema names with dots are not supported there either). */
export function parseTableKey(key: string): TableId {
  const dot = key.indexOf('.');
  return { schema: key.slice(0, dot), name: key.slice(dot + 1) };
}

export interface ChangeEvent {
  readonly op: Op;
  readonly table: TableId;
  /** Primary-key values of the row as it is after the change (before it, for deletes). */
  readonly key: Row;
  readonly before: Row | null;
  readonly after: Row | null;
  /** Columns the source did not send (Postgres unchanged TOAST): keep the target's value. */
  readonly unchanged?: readonly string[];
  /**
   * A delete of a row the target may not hold: a row filter could not see the whole old row (a
   * Postgres update or delete sends only its key), so it cannot tell whether the row was let in.
   */
  readonly mayBeMissing?: boolean;
}

/**
 * One committed source transaction, or a piece of one. A source cuts very large transactions
 * into pieces (`partial: true` on every piece but the last) so memory stays bounded; the
 * applier keeps all pieces of one transaction in one target transaction.
 */
export interface Transaction {
  readonly events: readonly ChangeEvent[];
  /** Position at the end of this transaction: where a resumed stream starts after it. */
  readonly position: Position;
  readonly commitTime: Date;
  readonly partial?: boolean;
  /** A DDL transaction that added columns: applied to the target in stream order. */
  readonly schemaChange?: SchemaChange;
  /** A marker ferry wrote into the source log (Heartbeat.beat): the cutover waits until it is applied. */
  readonly marker?: string;
  /**
   * This pipeline's heartbeat (Heartbeat.beat, with or without a marker) is in it. A whole transaction
   * with no change, no schema change and no heartbeat is applied without a target commit of its own:
   * on a target that shares the source's log, each checkpoint write would come back as one, forever.
   */
  readonly heartbeat?: boolean;
  /** Sets the hold of source table `table` (`schema.table`), or lifts it (null), committed with this transaction: a resync's start and end. */
  readonly hold?: { readonly table: string; readonly hold: TableHold | null };
  /**
   * Dead letters whose rows a replay read again from the source and injected into this transaction
   * (or left to their own changes, which came before it): marked replayed in the target transaction
   * that applies it, so a letter is never marked without its row.
   */
  readonly replayed?: readonly LetterKey[];
}

export interface SchemaChange {
  readonly table: TableId;
  readonly addColumns: readonly Column[];
  /** The table's foreign keys after the change, when it changed them (MySQL: their actions are ferry's to run). */
  readonly foreignKeys?: readonly ForeignKey[];
}

/** The primary-key part of a row. */
export function pickKey(row: Row, primaryKey: readonly string[]): Row {
  const key: Row = {};
  for (const c of primaryKey) key[c] = row[c] ?? null;
  return key;
}
