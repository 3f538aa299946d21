import { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Row, Value } from '../../core/change-event.js';
import type { TableSchema } from '../../core/schema.js';
import { tabSeparated } from '../tab-separated.js';
import { copyEncoder } from './postgres-dialect.js';

/** Rows through `COPY … FROM STDIN` (`sql`), encoded as COPY text on the way; `value` reads column `j` of a row. */
export async function copyRows<R>(
  client: pg.ClientBase,
  sql: string,
  table: TableSchema,
  rows: readonly R[],
  value: (row: R, j: number) => Value,
): Promise<void> {
  await copyText(
    client,
    sql,
    Readable.from(
      tabSeparated(
        rows,
        value,
        table.columns.map((c) => copyEncoder(table, c)),
      ),
    ),
  );
}

/** COPY text as it comes, through `COPY … FROM STDIN` (`sql`). */
export async function copyText(client: pg.ClientBase, sql: string, text: NodeJS.ReadableStream): Promise<void> {
  await pipe(text, client.query(copyFrom(sql)));
}

/** Reads column `j` of `t` from a change's row image. */
export function columnOf(t: TableSchema): (row: Row, j: number) => Value {
  const names = t.columns.map((c) => c.name);
  return (row, j) => row[names[j]!] ?? null;
}
