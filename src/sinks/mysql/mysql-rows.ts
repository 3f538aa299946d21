import type { Readable } from 'node:stream';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { groupByColumns, type Patch } from '../../core/coalesce.js';
import { pickKey, type Row } from '../../core/change-event.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { FerryError } from '../../core/errors.js';
import { missingRow, uniqueViolation } from '../target-divergence.js';
import { deleteSql, insertSql, patchSql, rowExistsSql, rowValues } from './mysql-dialect.js';
import { qualified } from '../../engines/mysql/quoting.js';

/**
 * Set-based writes by primary key on a MySQL/MariaDB target that touch only the row with the
 * change's key. `INSERT … ON DUPLICATE KEY UPDATE` is not one of them: it updates the row of
 * whichever unique key collides first, so a new row whose value of another unique key some other
 * row holds would overwrite that row. Here a collision on any other unique key fails the statement
 * (InnoDB rolls the failed statement back alone) and stops the stream naming the row and the key.
 */

/**
 * How an upsert (a full row image whose row the target may or may not have) is written:
 * - 'delete-insert': DELETE the keys, then one plain multi-row INSERT (two statements per chunk);
 * - 'update-insert': an UPDATE by key per row, sent together in one round trip (multi-statement:
 *   the pool must allow it), then a plain INSERT of the rows no UPDATE found.
 * `npm run bench -- --only upserts` measures the two on the same data.
 */
export type UpsertStrategy = 'delete-insert' | 'update-insert';

/** The strategy ferry uses, the faster of the two in the benchmark (docs/benchmarks.md). */
export const UPSERT_STRATEGY: UpsertStrategy = 'delete-insert';

/** Rows per multi-row statement, and a byte budget per statement well under the default max_allowed_packet. */
const ROWS_PER_STATEMENT = 1000;
const BYTES_PER_STATEMENT = 4 * 1024 * 1024;

const ER_DUP_ENTRY = 1062;

/**
 * Warnings about the statement, not the values: deprecated syntax (MySQL 8), and a LIMIT that
 * statement-based binlogging calls unsafe.
 */
const HARMLESS_WARNINGS = new Set([1287, 1592]);

/**
 * Runs a data statement and fails on any warning it raised: MySQL rounds or truncates some values
 * with only a warning or note, even in strict mode (and always under LOAD DATA LOCAL). Returns the
 * rows it affected: found rows, for an UPDATE, on connections with CLIENT_FOUND_ROWS (mysql-sink.ts).
 */
export async function runChecked(
  conn: Connection,
  table: TableSchema,
  sql: string | { sql: string; infileStreamFactory: () => Readable },
  values?: unknown[],
): Promise<number> {
  const [result] = await conn.query<ResultSetHeader>(sql as string, values);
  if (!result.warningStatus) return result.affectedRows;
  const [warnings] = await conn.query<RowDataPacket[]>('SHOW WARNINGS');
  const real = warnings.filter((w) => !HARMLESS_WARNINGS.has(Number(w.Code)));
  if (real.length === 0) return result.affectedRows;
  throw new FerryError(
    'fatal',
    `the target would change values of ${qualified(table.target)}: ${real
      .slice(0, 5)
      .map((w) => String(w.Message))
      .join('; ')}`,
    {
      hint: 'nothing was committed; widen the target column or fix the value at the source, then restart',
    },
  );
}

/** A rough byte size of a row, to keep multi-row statements under max_allowed_packet. */
function rowBytes(columns: readonly Column[], row: Row): number {
  let n = 0;
  for (const c of columns) {
    const v = row[c.name];
    n += v === null || v === undefined ? 4 : Buffer.isBuffer(v) ? v.length * 2 + 3 : String(v).length * 2 + 3;
  }
  return n;
}

/** Rows cut into statements of at most ROWS_PER_STATEMENT rows and BYTES_PER_STATEMENT bytes (`perRow`: SQL text each row adds). */
export function statements<T extends Row>(columns: readonly Column[], rows: readonly T[], perRow = 0): T[][] {
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const r of rows) {
    const size = rowBytes(columns, r) + perRow;
    if (part.length > 0 && (part.length >= ROWS_PER_STATEMENT || bytes + size > BYTES_PER_STATEMENT)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(r);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

const keyColumns = (t: TableSchema): Column[] => t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);

/** The unique key a duplicate-entry error names (MySQL 8 puts the table's name before it), or null for any other error. */
function duplicateKey(err: unknown, t: TableSchema): string | null {
  const e = err as { errno?: number; sqlMessage?: string; message?: string };
  if (e.errno !== ER_DUP_ENTRY) return null;
  const key = /for key '(.*)'$/s.exec(e.sqlMessage ?? e.message ?? '')?.[1] ?? 'unknown';
  return key.startsWith(`${t.target.name}.`) ? key.slice(t.target.name.length + 1) : key;
}

/**
 * A duplicate-entry error of a multi-row statement, turned into the stop naming the row: each row is
 * written alone (`one`) until one collides. Rows written meanwhile do not matter: the stop rolls the
 * whole target transaction back.
 */
async function collision(t: TableSchema, rows: readonly Row[], err: unknown, one: (row: Row) => Promise<unknown>): Promise<FerryError> {
  for (const row of rows) {
    try {
      await one(row);
    } catch (e) {
      const key = duplicateKey(e, t);
      if (key === null) throw e;
      return uniqueViolation(t, pickKey(row, t.primaryKey), key, (e as Error).message, e);
    }
  }
  return uniqueViolation(t, null, duplicateKey(err, t)!, (err as Error).message, err);
}

/** Key values as mysql2 expands them in `IN (?)`: scalars for a one-column key, arrays for a composite one. */
function keyParams(t: TableSchema, keys: readonly Row[]): unknown[] {
  const keyCols = keyColumns(t);
  const values = keys.map((k) => rowValues(t, keyCols, k));
  return [keyCols.length === 1 ? values.map((v) => v[0]) : values];
}

/**
 * Deletes rows by key. `checked`: every key must find its row; the first that did not is named. A
 * savepoint before each statement lets the keys be looked up again as they were, on a miss.
 */
export async function deleteByKey(conn: Connection, t: TableSchema, keys: readonly Row[], checked: boolean): Promise<void> {
  for (const part of statements(keyColumns(t), keys)) {
    if (!checked) {
      await conn.query(deleteSql(t), keyParams(t, part));
      continue;
    }
    await conn.query('SAVEPOINT ferry_delete');
    const [result] = await conn.query<ResultSetHeader>(deleteSql(t), keyParams(t, part));
    if (result.affectedRows === part.length) continue;
    await conn.query('ROLLBACK TO SAVEPOINT ferry_delete');
    throw missingRow(t, 'delete', await firstAbsent(conn, t, part), part.length - result.affectedRows);
  }
}

/** The first of `keys` with no row in the target, or null. */
async function firstAbsent(conn: Connection, t: TableSchema, keys: readonly Row[]): Promise<Row | null> {
  for (const key of keys) {
    const [rows] = await conn.query<RowDataPacket[]>(rowExistsSql(t), rowValues(t, keyColumns(t), key));
    if (rows.length === 0) return key;
  }
  return null;
}

/**
 * Sets the columns of one patch on its row. `checked`: the row must be there (the connection counts
 * found rows, so a patch that sets the values the row already has counts it too).
 */
export async function patchByKey(conn: Connection, t: TableSchema, p: Patch, checked: boolean): Promise<void> {
  const set = t.columns.filter((c) => c.name in p.set);
  let found: number;
  try {
    found = await runChecked(conn, t, patchSql(t, set), [...rowValues(t, set, p.set, p.match), ...rowValues(t, keyColumns(t), p.match)]);
  } catch (err) {
    const key = duplicateKey(err, t);
    throw key === null ? err : uniqueViolation(t, p.match, key, (err as Error).message, err);
  }
  if (checked && found === 0) throw missingRow(t, 'update', p.match);
}

/** Plain multi-row INSERTs of whole rows (a column a row predates gets its backfill); a collision on any unique key is named. */
async function insertRows(conn: Connection, t: TableSchema, rows: readonly Row[]): Promise<void> {
  const insert = (part: readonly Row[]) => runChecked(conn, t, insertSql(t, t.columns), [part.map((r) => rowValues(t, t.columns, r))]);
  for (const part of statements(t.columns, rows)) {
    await insert(part).catch(async (err) => {
      throw duplicateKey(err, t) === null ? err : await collision(t, part, err, (r) => insert([r]));
    });
  }
}

/**
 * Rows the run created (coalesce.ts): inserted plainly. A statement that finds one of its keys taken
 * (a target out of step, replaying) is rolled back by InnoDB alone, and its rows are upserted instead.
 */
export async function insertCreated(conn: Connection, t: TableSchema, rows: readonly Row[], strategy: UpsertStrategy): Promise<void> {
  for (const part of statements(t.columns, rows)) {
    try {
      await runChecked(conn, t, insertSql(t, t.columns), [part.map((r) => rowValues(t, t.columns, r))]);
    } catch (err) {
      const key = duplicateKey(err, t);
      if (key === null) throw err;
      if (key !== 'PRIMARY') throw await collision(t, part, err, (r) => runChecked(conn, t, insertSql(t, t.columns), [[rowValues(t, t.columns, r)]]));
      await upsertRows(conn, t, part, strategy);
    }
  }
}

/** Full row images whose rows the target may or may not have: each ends as the row with its key, and no other row changes. */
export async function upsertRows(conn: Connection, t: TableSchema, rows: readonly Row[], strategy: UpsertStrategy): Promise<void> {
  if (strategy === 'delete-insert') {
    for (const part of statements(t.columns, rows)) {
      await deleteByKey(conn, t, part, false);
      await insertRows(conn, t, part);
    }
    return;
  }
  // A row image that predates a column leaves that column as the target has it.
  for (const [present, group] of groupByColumns(t.columns, rows, rows)) {
    const nonKey = present.filter((c) => !t.primaryKey.includes(c.name));
    const set = nonKey.length > 0 ? nonKey : keyColumns(t).slice(0, 1);
    const sql = `${patchSql(t, set)};`;
    for (const part of statements(t.columns, group, sql.length)) {
      const params = part.flatMap((r) => [...rowValues(t, set, r), ...rowValues(t, keyColumns(t), r)]);
      const one = (r: Row) => runChecked(conn, t, sql, [...rowValues(t, set, r), ...rowValues(t, keyColumns(t), r)]);
      let results: ResultSetHeader | ResultSetHeader[];
      try {
        [results] = await conn.query<ResultSetHeader | ResultSetHeader[]>(sql.repeat(part.length), params);
      } catch (err) {
        throw duplicateKey(err, t) === null ? err : await collision(t, part, err, one);
      }
      const found = Array.isArray(results) ? results : [results];
      // SHOW WARNINGS tells only the last statement's: the first that warned runs again alone to say what.
      const warned = found.findIndex((r) => r.warningStatus > 0);
      if (warned >= 0) await one(part[warned]!);
      await insertRows(
        conn,
        t,
        part.filter((_, i) => found[i]!.affectedRows === 0),
      );
    }
  }
}
