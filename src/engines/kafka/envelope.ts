import { createHash } from 'node:crypto';
import { pickKey, type ChangeEvent, type Op, type Row, type Value } from '../../core/change-event.js';
import { formatPosition, positionToJson, type Position } from '../../core/position.js';
import type { TableSchema } from '../../core/schema.js';
import { FerryError } from '../../core/errors.js';

/**
 * A change event as a Kafka message value, in Debezium's envelope shape. Column values are ferry's
 * canonical values (DESIGN: change-event.ts) as JSON; binary columns are base64 strings. `schema` is a
 * compact reference: the version under which the table's schema was published in `<prefix>.ferry.schema`.
 */
export interface Envelope {
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
  /** c, u, d, r (snapshot), or t (truncate: single-topic mode only, where total order carries it). */
  readonly op: Op;
  readonly source: {
    readonly connector: 'ferry';
    readonly pipeline: string;
    readonly engine: TableSchema['engine'];
    readonly schema: string;
    readonly table: string;
    /** The end of the source transaction in the source log (Position as JSON). */
    readonly position: unknown;
    /** The source transaction: its end position, formatted; unique per transaction. */
    readonly txId: string;
    /** Source commit time (snapshot rows: when their chunk was read), ms since the epoch. */
    readonly ts_ms: number;
    readonly snapshot: boolean;
  };
  /** When ferry produced the message, ms since the epoch. */
  readonly ts_ms: number;
  readonly schema: string;
  /** Columns the source did not send (Postgres unchanged TOAST): the target keeps its values. */
  readonly unchanged?: readonly string[];
  /** Single-topic mode: set on the last message of a group of whole source transactions. */
  readonly transaction?: { readonly last: true };
}

/** The schema message of one table version, keyed by `schema.table@version` in `<prefix>.ferry.schema`. */
/** A message value as the envelope it is, or null when it is not a ferry change event. */
export function parseEnvelope(value: Buffer): Envelope | null {
  try {
    const envelope = JSON.parse(value.toString()) as Envelope;
    if (typeof envelope.schema === 'string' && envelope.source && typeof envelope.op === 'string') return envelope;
  } catch {
    // not JSON: not an envelope
  }
  return null;
}

export interface SchemaMessage {
  readonly version: string;
  readonly table: TableSchema;
}

/**
 * Where events were read, as their envelopes' `source` carries it: the source transaction's end and
 * commit time, and whether a snapshot read them. Made once per transaction (or snapshot chunk), not per event.
 */
export type EventOrigin = Pick<Envelope['source'], 'pipeline' | 'position' | 'txId' | 'ts_ms' | 'snapshot'>;

export function eventOrigin(pipeline: string, position: Position, commitTime: Date, snapshot: boolean): EventOrigin {
  return { pipeline, position: positionToJson(position), txId: formatPosition(position), ts_ms: commitTime.getTime(), snapshot };
}

export interface EncodedMessage {
  readonly key: string;
  readonly value: string;
}

/** A stable short hash of what a table's rows mean: the same schema always gets the same version. */
export function schemaVersion(t: TableSchema): string {
  const { engine, source, columns, primaryKey, indexes } = t;
  return createHash('sha256').update(JSON.stringify({ engine, source, columns, primaryKey, indexes })).digest('hex').slice(0, 16);
}

/**
 * Encodes and decodes one table version's messages. Keys are the primary key as a JSON object in
 * key-column order (the same row, the same key bytes, so the same partition).
 */
export class TableCodec {
  readonly version: string;
  readonly #binary: readonly string[];

  constructor(readonly table: TableSchema) {
    this.version = schemaVersion(table);
    this.#binary = table.columns.filter((c) => c.type.kind === 'binary').map((c) => c.name);
  }

  key(row: Row): string {
    const key: Record<string, unknown> = {};
    for (const c of this.table.primaryKey) key[c] = this.#out(c, row[c] ?? null);
    return JSON.stringify(key);
  }

  /** `last`: the last message of a group of whole source transactions (single-topic mode). */
  encode(e: ChangeEvent, origin: EventOrigin, last = false): EncodedMessage {
    const value: Envelope = {
      before: e.before && this.#row(e.before),
      after: e.after && this.#row(e.after),
      op: e.op,
      source: {
        connector: 'ferry',
        pipeline: origin.pipeline,
        engine: this.table.engine,
        schema: this.table.source.schema,
        table: this.table.source.name,
        position: origin.position,
        txId: origin.txId,
        ts_ms: origin.ts_ms,
        snapshot: origin.snapshot,
      },
      ts_ms: Date.now(),
      schema: this.version,
      ...(e.unchanged?.length ? { unchanged: e.unchanged } : {}),
      ...(last ? { transaction: { last: true as const } } : {}),
    };
    return { key: this.key(e.key), value: JSON.stringify(value) };
  }

  /** A snapshot row (values in `table.columns` order) as an `op: r` event. */
  snapshotEvent(values: readonly Value[]): ChangeEvent {
    const row: Row = {};
    this.table.columns.forEach((c, i) => (row[c.name] = values[i] ?? null));
    return { op: 'r', table: this.table.source, key: pickKey(row, this.table.primaryKey), before: null, after: row };
  }

  decode(envelope: Envelope): ChangeEvent {
    if (envelope.op === 't') return { op: 't', table: this.table.source, key: {}, before: null, after: null };
    const before = envelope.before && this.#in(envelope.before);
    const after = envelope.after && this.#in(envelope.after);
    const image = after ?? before;
    if (!image) throw new FerryError('fatal', `a ${envelope.op} event of ${this.table.source.schema}.${this.table.source.name} without before or after`);
    return {
      op: envelope.op,
      table: this.table.source,
      key: pickKey(image, this.table.primaryKey),
      before,
      after,
      ...(envelope.unchanged ? { unchanged: envelope.unchanged } : {}),
    };
  }

  #row(row: Row): Record<string, unknown> {
    if (this.#binary.length === 0) return row;
    const out: Record<string, unknown> = { ...row };
    for (const c of this.#binary) if (c in row) out[c] = this.#out(c, row[c] ?? null);
    return out;
  }

  #out(_column: string, v: Value): unknown {
    return Buffer.isBuffer(v) ? v.toString('base64') : v;
  }

  #in(json: Record<string, unknown>): Row {
    const row = json as Row;
    for (const c of this.#binary) if (typeof row[c] === 'string') row[c] = Buffer.from(row[c], 'base64');
    return row;
  }
}
