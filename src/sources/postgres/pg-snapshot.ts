import type pg from 'pg';
import type { Row, Value } from '../../core/change-event.js';
import type { Position } from '../../core/position.js';
import type { TableSchema } from '../../core/schema.js';
import type { TableReader } from '../../core/source.js';
import { qualified, quoteIdent } from '../../sinks/postgres/postgres-dialect.js';
import { connectSource, RAW_TEXT } from './pg-connection.js';
import { fromPgText } from './pg-types.js';

/**
 * A REPEATABLE READ transaction on its own connection. With `snapshotName` it imports the slot's
 * exported snapshot and sees exactly the state at `position`; without it (a resumed snapshot, or
 * verify) it sees the present, which streaming from the slot's `position` then replays over.
 */
export async function openPgReader(url: string, position: Position, snapshotName: string | null): Promise<TableReader> {
  const client = await connectSource(url);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    if (snapshotName) await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "''")}'`);
    return new PgTableReader(client, position);
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/** Keyset page in primary-key order; the key parameters are cast to the key columns' own types. */
export function readChunkSql(t: TableSchema, after: boolean, limit: number): string {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = t.primaryKey.map(quoteIdent).join(', ');
  const params = t.primaryKey.map((name, i) => `$${i + 1}::${t.columns.find((c) => c.name === name)!.sourceType}`).join(', ');
  const where = after ? `WHERE (${key}) > (${params})` : '';
  return `SELECT ${cols} FROM ${qualified(t.source)} ${where} ORDER BY ${key} LIMIT ${Number(limit)}`;
}

class PgTableReader implements TableReader {
  readonly #client: pg.Client;
  /** Cursors of tables without a primary key, which are read front to back rather than paged by key. */
  readonly #cursors = new Map<string, string>();
  readonly position: Position;

  constructor(client: pg.Client, position: Position) {
    this.#client = client;
    this.position = position;
  }

  async readChunk(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const values: Value[] = afterKey ? table.primaryKey.map((c) => afterKey[c] ?? null) : [];
    const text = table.primaryKey.length > 0 ? readChunkSql(table, afterKey !== null, limit) : await this.#fetchSql(table, limit);
    const { rows } = await this.#client.query<string[]>({ text, values, rowMode: 'array', types: RAW_TEXT });
    const columns = table.columns;
    return rows.map((values) => {
      const row: Row = {};
      for (let i = 0; i < columns.length; i++) row[columns[i]!.name] = fromPgText(columns[i]!.type, values[i] ?? null);
      return row;
    });
  }

  /** The next rows of a table without a key, from a cursor opened at its first chunk. */
  async #fetchSql(table: TableSchema, limit: number): Promise<string> {
    const key = `${table.source.schema}.${table.source.name}`;
    let cursor = this.#cursors.get(key);
    if (!cursor) {
      cursor = quoteIdent(`ferry_${this.#cursors.size}`);
      await this.#client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${qualified(table.source)}`);
      this.#cursors.set(key, cursor);
    }
    return `FETCH ${limit > 2 ** 31 - 1 ? "ALL" : `FORWARD ${Number(limit)}`} FROM ${cursor}`;
  }

  async close(): Promise<void> {
    await this.#client.query('COMMIT').catch(() => {});
    await this.#client.end().catch(() => {});
  }
}
