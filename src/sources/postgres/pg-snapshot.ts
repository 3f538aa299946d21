import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Row, Value } from '../../core/change-event.js';
import type { Position } from '../../core/position.js';
import type { TableSchema } from '../../core/schema.js';
import type { RowReader } from '../../core/row-reader.js';
import type { ChunkText, TableReader } from '../../core/snapshot-reader.js';
import { filterSql } from '../../core/filter-sql.js';
import type { RowFilter } from '../../core/transform-rules.js';
import { qualified, quoteIdent } from '../../engines/postgres/quoting.js';
import { connectSource, RAW_TEXT } from '../../engines/postgres/connection.js';
import { fromPgText } from '../../engines/postgres/types.js';
import { filterParam } from '../../engines/postgres/verify-sql.js';
import { CopyTextTail } from './copy-text.js';

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

/**
 * Keyset page in primary-key order after the key `after` (SQL expressions, parameters or literals,
 * one per key column, cast to the key columns' own types), or from the start.
 */
export function readChunkSql(t: TableSchema, after: readonly string[] | null, limit: number, filter?: string): string {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = t.primaryKey.map(quoteIdent).join(', ');
  const values = after?.map((v, i) => `${v}::${t.columns.find((c) => c.name === t.primaryKey[i])!.sourceType}`).join(', ');
  const terms = [...(after ? [`(${key}) > (${values})`] : []), ...(filter ? [filter] : [])];
  const where = terms.length > 0 ? `WHERE ${terms.join(' AND ')}` : '';
  return `SELECT ${cols} FROM ${qualified(t.source)} ${where} ORDER BY ${key} LIMIT ${Number(limit)}`;
}

/** The rows whose primary key is one of the `keys` tuples (SQL expressions, one per key column each), cast as readChunkSql casts them. */
export function readKeysSql(t: TableSchema, keys: readonly (readonly string[])[]): string {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const types = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!.sourceType);
  const tuples = keys.map((k) => `(${k.map((v, i) => `${v}::${types[i]}`).join(', ')})`);
  return `SELECT ${cols} FROM ${qualified(t.source)} WHERE (${t.primaryKey.map(quoteIdent).join(', ')}) IN (${tuples.join(', ')})`;
}

/** One statement's rows, as text converted in place to `table.columns`' values: no object per row. */
async function queryRows(client: pg.ClientBase, table: TableSchema, text: string, values: Value[]): Promise<Value[][]> {
  const { rows } = await client.query<Value[]>({ text, values, rowMode: 'array', types: RAW_TEXT });
  const types = table.columns.map((c) => c.type);
  for (const row of rows) for (let i = 0; i < types.length; i++) row[i] = fromPgText(types[i]!, row[i] as string | null);
  return rows;
}

/** A resync's reads (core/row-reader.ts): statements outside any transaction, each seeing what was committed when it began. */
export async function openPgRowReader(url: string): Promise<RowReader> {
  const client = await connectSource(url);
  return {
    readChunk: (table, afterKey, limit) => {
      const values: Value[] = afterKey ? table.primaryKey.map((c) => afterKey[c] ?? null) : [];
      return queryRows(client, table, readChunkSql(table, afterKey && values.map((_, i) => `$${i + 1}`), limit), values);
    },
    readKeys: async (table, keys) => {
      if (keys.length === 0) return [];
      const values: Value[] = [];
      const params = keys.map((k) => table.primaryKey.map((c) => `$${values.push(k[c] ?? null)}`));
      return queryRows(client, table, readKeysSql(table, params), values);
    },
    close: () => client.end().catch(() => {}),
  };
}

/** `filters` as SQL, their values appended to `values` as parameters cast to the compared column's kind. */
export function filterParams(table: TableSchema, filters: readonly RowFilter[], values: Value[]): string | undefined {
  if (filters.length === 0) return undefined;
  return filterSql(filters, table.columns, quoteIdent, (v, column) => filterParam(`$${values.push(v)}`, column.type));
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

  async readChunk(table: TableSchema, afterKey: Row | null, limit: number, filters?: readonly RowFilter[]): Promise<Value[][]> {
    const values: Value[] = afterKey ? table.primaryKey.map((c) => afterKey[c] ?? null) : [];
    const after = afterKey && values.map((_, i) => `$${i + 1}`);
    // A table without a key is read through a cursor, unfiltered: ferry filters its rows.
    const text =
      table.primaryKey.length > 0 ? readChunkSql(table, after, limit, filters && filterParams(table, filters, values)) : await this.#fetchSql(table, limit);
    return queryRows(this.#client, table, text, values);
  }

  readChunkText(table: TableSchema, afterKey: Row | null, limit: number): ChunkText {
    const after = afterKey && table.primaryKey.map((c) => this.#client.escapeLiteral(keyText(afterKey[c] ?? null)));
    const copy = this.#client.query(copyTo(`COPY (${readChunkSql(table, after, limit)}) TO STDOUT`));
    const tail = new CopyTextTail();
    copy.on('error', (err) => tail.destroy(err));
    copy.pipe(tail);
    const read = finished(tail).then(() => {
      const fields = tail.lastFields();
      const lastKey =
        fields &&
        Object.fromEntries(
          table.primaryKey.map((name) => {
            const i = table.columns.findIndex((c) => c.name === name);
            return [name, fromPgText(table.columns[i]!.type, fields[i] ?? null)];
          }),
        );
      return { rows: tail.rows, lastKey };
    });
    read.catch(() => {});
    return { text: tail, read };
  }

  /** The next rows of a table without a key, from a cursor opened at its first chunk. */
  async #fetchSql(table: TableSchema, limit: number): Promise<string> {
    const key = `${table.source.schema}.${table.source.name}`;
    let cursor = this.#cursors.get(key);
    if (!cursor) {
      cursor = quoteIdent(`ferry_${this.#cursors.size}`);
      await this.#client.query(
        `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${qualified(table.source)}`,
      );
      this.#cursors.set(key, cursor);
    }
    return `FETCH ${limit > 2 ** 31 - 1 ? 'ALL' : `FORWARD ${Number(limit)}`} FROM ${cursor}`;
  }

  async close(): Promise<void> {
    await this.#client.query('COMMIT').catch(() => {});
    await this.#client.end().catch(() => {});
  }
}

/** A key value as the text Postgres reads it in (the key columns' input forms). */
function keyText(v: Value): string {
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  return String(v);
}
