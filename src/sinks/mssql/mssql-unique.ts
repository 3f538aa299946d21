import type sql from 'mssql';
import type { Row, Value } from '../../core/change-event.js';
import type { FerryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { qualified } from '../../engines/mssql/quoting.js';
import { uniqueViolation } from '../target-divergence.js';

/** Duplicate key in a unique index (2601) or a UNIQUE/PRIMARY KEY constraint (2627). */
const DUPLICATE_KEY = new Set([2601, 2627]);

interface ServerError {
  readonly number?: number;
  readonly message?: string;
}

/** A duplicate-key error's index (or constraint) and the key value SQL Server prints, `(v1, v2)` without the parentheses. */
export interface DuplicateKey {
  readonly index: string;
  readonly values: string;
  readonly message: string;
}

/**
 * The duplicate-key error among the errors of a failed request: mssql rejects with the last one
 * ("The statement has been terminated.", 3621) and lists the ones before it in precedingErrors.
 */
export function duplicateKeyOf(err: unknown): DuplicateKey | null {
  const e = err as (ServerError & { precedingErrors?: readonly ServerError[] }) | undefined;
  for (const one of [e, ...(e?.precedingErrors ?? [])]) {
    if (!one?.number || !DUPLICATE_KEY.has(one.number)) continue;
    const message = one.message ?? '';
    const index = /(?:unique index|constraint) '((?:[^']|'')*)'/.exec(message)?.[1] ?? 'unknown';
    const values = /The duplicate key value is \((.*)\)\.?\s*$/s.exec(message)?.[1] ?? '';
    return { index, values, message };
  }
  return null;
}

/** The key columns of `index` on table `@p1`, in key order. */
export const INDEX_COLUMNS_SQL =
  'SELECT c.[name] FROM sys.indexes AS i INNER JOIN sys.index_columns AS ic ON ic.[object_id] = i.[object_id] AND ic.[index_id] = i.[index_id] INNER JOIN sys.columns AS c ON c.[object_id] = ic.[object_id] AND c.[column_id] = ic.[column_id] WHERE i.[object_id] = OBJECT_ID(@p1) AND i.[name] = @p2 AND ic.[key_ordinal] > 0 ORDER BY ic.[key_ordinal]';

/**
 * A duplicate-key error of a write to `t`, which upserts by primary key (UPDATE, then INSERT where
 * the key is missing), so on another unique key: the stop naming the index and, where the printed
 * value tells one of `written` apart, the change's row. Null for other errors. The index's columns
 * are read on `session`, whose transaction the error left open (a write under a savepoint runs with
 * XACT_ABORT OFF, mssql-savepoints.ts): another connection could wait on its locks, or for the pool.
 */
export async function uniqueViolationOf(
  session: { request(): sql.Request },
  t: TableSchema,
  err: unknown,
  written: readonly { key: Row; row: Row }[],
): Promise<FerryError | null> {
  const duplicate = duplicateKeyOf(err);
  if (!duplicate) return null;
  const columns = await session
    .request()
    .input('p1', qualified(t.target))
    .input('p2', duplicate.index)
    .query<{ name: string }>(INDEX_COLUMNS_SQL)
    .then(
      (r) => r.recordset.map((row) => row.name),
      () => [],
    );
  return uniqueViolation(t, collidingKey(columns, duplicate.values, written), duplicate.index, duplicate.message, err);
}

/** The key of the one row of `written` whose `columns` print as `values`, or null. */
export function collidingKey(columns: readonly string[], values: string, written: readonly { key: Row; row: Row }[]): Row | null {
  if (columns.length === 0) return null;
  const parts = columns.length === 1 ? [values] : values.split(', ');
  if (parts.length !== columns.length) return null;
  const hits = written.filter(({ row }) => columns.every((c, i) => c in row && printed(row[c]!) === parts[i]));
  return hits.length === 1 ? hits[0]!.key : null;
}

/** A value as SQL Server prints it in a duplicate-key message (the common types; others simply match nothing). */
function printed(v: Value): string {
  if (v === null) return '<NULL>';
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex').toUpperCase()}`;
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}
