import { createHash } from 'node:crypto';
import type { Row, Value } from './change-event.js';
import { decodeKey } from './checkpoint-codec.js';
import { positionToJson, type Position } from './position.js';
import type { RejectionReason } from './target-rejection.js';

/** What a coalesced write did to its row (coalesce.ts): the operation a dead letter records. */
export type DeadLetterOperation = 'insert' | 'upsert' | 'update' | 'delete';

/**
 * A row the target rejected under the `dead-letter` policy, kept in ferry.ferry_dead_letters in the
 * transaction its batch committed in. `row` is the batch's last image of the row (the coalesced
 * write): for an update that did not carry every column, the key and the columns it set; for a
 * delete, the key.
 */
export interface DeadLetter {
  /** The source table, `schema.table`. */
  readonly table: string;
  readonly key: Row;
  readonly operation: DeadLetterOperation;
  /** The end of the last source transaction of the batch that changed the row. */
  readonly position: Position;
  readonly reason: RejectionReason;
  /** The server's error code, and its message. */
  readonly code: string;
  readonly message: string;
  readonly row: Row;
}

/** A dead letter as ferry.ferry_dead_letters keeps it (GET /dead-letters): JSON columns parsed. */
export interface StoredDeadLetter {
  readonly id: number;
  readonly table: string;
  readonly key: unknown;
  readonly operation: string;
  readonly position: unknown;
  readonly reason: string;
  readonly code: string;
  readonly message: string;
  readonly row: unknown;
  /** ISO 8601, UTC. */
  readonly deadLetteredAt: string;
  readonly replayedAt: string | null;
}

/** A letter not yet replayed, as the sink and a replay need it: which row of which source table (`schema.table`). */
export interface LetterKey {
  readonly id: number;
  readonly table: string;
  readonly key: Row;
}

/** A row of `SELECT id, table_name, row_key` as a LetterKey: row_key as rowJson() wrote it, binary values tagged. */
export function letterKey(r: Record<string, unknown>): LetterKey {
  return { id: Number(r.id), table: String(r.table_name), key: decodeKey(r.row_key)! };
}

/** The columns of ferry.ferry_dead_letters that StoredDeadLetter reads, times as ISO text by `iso`. */
export function storedLetterColumns(iso: (column: string) => string): string {
  return `id, table_name, row_key, operation, position, error_class, error_code, error_message, row_image, ${iso('dead_lettered_at')} AS dead_lettered_at, ${iso('replayed_at')} AS replayed_at`;
}

/** A row of storedLetterColumns() as a StoredDeadLetter; JSON columns arrive as text or already parsed. */
export function storedLetter(r: Record<string, unknown>): StoredDeadLetter {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  return {
    id: Number(r.id),
    table: String(r.table_name),
    key: json(r.row_key),
    operation: String(r.operation),
    position: json(r.position),
    reason: String(r.error_class),
    code: String(r.error_code),
    message: String(r.error_message),
    row: json(r.row_image),
    deadLetteredAt: String(r.dead_lettered_at),
    replayedAt: r.replayed_at === null || r.replayed_at === undefined ? null : String(r.replayed_at),
  };
}

/** A row's values as JSON text: binary values as `{"$hex": …}`, as checkpoint keys are kept. */
export function rowJson(row: Row): string {
  return JSON.stringify(row, (_k, v: Value | { type: 'Buffer'; data: number[] }) =>
    v && typeof v === 'object' && !Buffer.isBuffer(v) && (v as { type?: string }).type === 'Buffer'
      ? { $hex: Buffer.from((v as { data: number[] }).data).toString('hex') }
      : v,
  );
}

/** The columns of ferry.ferry_dead_letters a letter fills, in the order of deadLetterValues(). */
export const DEAD_LETTER_COLUMNS = 'letter_id, pipeline, table_name, row_key, operation, position, error_class, error_code, error_message, row_image';

/** A letter's values for DEAD_LETTER_COLUMNS: JSON as text. */
export function deadLetterValues(pipeline: string, letter: DeadLetter): string[] {
  return [
    deadLetterId(pipeline, letter),
    pipeline,
    letter.table,
    rowJson(letter.key),
    letter.operation,
    JSON.stringify(positionToJson(letter.position)),
    letter.reason,
    letter.code,
    letter.message,
    rowJson(letter.row),
  ];
}

/**
 * The identity of a dead letter: one row, one operation, at one source position, of one pipeline.
 * The table keeps it unique, so a batch applied again (a Kafka partition's redelivery) stores the
 * letter once.
 */
export function deadLetterId(pipeline: string, letter: DeadLetter): string {
  return createHash('sha256')
    .update(JSON.stringify([pipeline, letter.table, rowJson(letter.key), letter.operation, positionToJson(letter.position)]))
    .digest('hex');
}
