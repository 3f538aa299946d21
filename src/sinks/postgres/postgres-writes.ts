import type pg from 'pg';
import { groupByColumns, isFullRow } from '../../core/coalesce.js';
import type { Row } from '../../core/change-event.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { qualified } from '../../engines/postgres/quoting.js';
import { noEqualRow, type RowsWrite, type RowWrites } from '../row-writes.js';
import { missingRow, writtenRows } from '../target-divergence.js';
import { columnOf, copyRows } from './postgres-copy.js';
import {
  addColumnSql,
  columnArrays,
  copySql,
  copyStageSql,
  createStageSql,
  deleteMissesSql,
  deleteRowSql,
  deleteSql,
  insertRowSql,
  patchMissesSql,
  patchSql,
  rowParams,
  updateRowSql,
  upsertFromStageSql,
  upsertSql,
} from './postgres-dialect.js';
import { postgresReferencingRows } from './postgres-referential.js';
import { uniqueViolationOf } from './postgres-unique.js';

/** Upserts of at least this many full rows go through a COPY-filled stage, and inserts through COPY; fewer, through array parameters. */
const STAGE_MIN_ROWS = 500;

const UNIQUE_VIOLATION = '23505';

/** The statements of an apply transaction on Postgres. */
export const postgresWrites: RowWrites<pg.ClientBase> = {
  async truncate(client, t) {
    await client.query(`TRUNCATE ${qualified(t.target)}`);
  },

  /**
   * Deletes and patches by key (`checked`: each must find its row; the statement answers which did
   * not), then upserts and inserts, which update on a primary-key conflict only: a collision on any
   * other unique key stops the stream naming the constraint and, where Postgres's detail tells, the row.
   */
  async applyRows(client, t, w, checked) {
    const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
    const deletes = checked ? w.deletes : [...w.deletes, ...w.transients];
    if (deletes.length > 0) {
      const params = columnArrays(t, keyCols, deletes);
      if (!checked) await client.query(deleteSql(t), params);
      else expectFound(t, 'delete', deletes, await client.query(deleteMissesSql(t), params));
    }
    if (checked && w.transients.length > 0) await client.query(deleteSql(t), columnArrays(t, keyCols, w.transients));
    try {
      await writeRows(client, t, w, keyCols, checked);
    } catch (err) {
      throw uniqueViolationOf(t, err, writtenRows(t, [...w.inserts, ...w.upserts], w.patches)) ?? err;
    }
  },

  async applyExact(client, t, e) {
    if (e.op === 'c' || e.op === 'r') {
      await client.query(insertRowSql(t), rowParams(t, e.after!));
      return;
    }
    const { rowCount } =
      e.op === 'd'
        ? await client.query(deleteRowSql(t), rowParams(t, e.before!))
        : await client.query(updateRowSql(t), [...rowParams(t, e.after!), ...rowParams(t, e.before!)]);
    if (rowCount !== 1) throw noEqualRow(t);
  },

  /** In the open transaction: Postgres DDL is transactional. */
  async addColumns(client, t, columns) {
    for (const c of columns) for (const sql of addColumnSql(t, c)) await client.query(sql);
  },

  referencingRows: postgresReferencingRows,
};

/** A statement of deleteMissesSql/patchMissesSql found no row for some of `keys`: the first of them is named. */
function expectFound(t: TableSchema, change: 'delete' | 'update', keys: readonly Row[], result: pg.QueryResult): void {
  const { missing, first } = result.rows[0] as { missing: number; first: number | null };
  if (missing > 0) throw missingRow(t, change, first === null ? null : (keys[first - 1] ?? null), missing);
}

async function writeRows(client: pg.ClientBase, t: TableSchema, w: RowsWrite, keyCols: readonly Column[], checked: boolean): Promise<void> {
  for (const [set, patches] of groupByColumns(
    t.columns,
    w.patches.map((p) => p.set),
    w.patches,
  )) {
    const params = [
      ...columnArrays(
        t,
        keyCols,
        patches.map((p) => p.match),
      ),
      ...columnArrays(
        t,
        set,
        patches.map((p) => p.set),
      ),
    ];
    if (!checked) await client.query(patchSql(t, set), params);
    else
      expectFound(
        t,
        'update',
        patches.map((p) => p.match),
        await client.query(patchMissesSql(t, set), params),
      );
  }
  // Upserts before the rows the batch created: a row that gave up a unique value for a new one goes first.
  const copied = w.inserts.length >= STAGE_MIN_ROWS && w.inserts.every((r) => isFullRow(t.columns, r));
  await upsert(client, t, copied ? w.upserts : [...w.upserts, ...w.inserts]);
  if (copied && !(await insertPlainly(client, t, w.inserts))) await upsert(client, t, w.inserts);
}

async function upsert(client: pg.ClientBase, t: TableSchema, upserts: readonly Row[]): Promise<void> {
  for (const [updated, rows] of groupByColumns(t.columns, upserts, upserts)) {
    if (rows.length >= STAGE_MIN_ROWS && updated.length === t.columns.length) {
      await client.query(createStageSql(t));
      await copyRows(client, copyStageSql(t), t, rows, columnOf(t));
      await client.query(upsertFromStageSql(t));
    } else {
      await client.query(upsertSql(t, updated), columnArrays(t, t.columns, rows));
    }
  }
}

/**
 * Rows the batch created, COPYed straight into the table as a native replica inserts them (when many
 * and complete: fewer, or older than an ADD COLUMN, are upserted). A key conflict (a target out of
 * step with the source, as in a snapshot's overlap) undoes the COPY, and false tells the caller to upsert them.
 */
async function insertPlainly(client: pg.ClientBase, t: TableSchema, rows: readonly Row[]): Promise<boolean> {
  await client.query('SAVEPOINT ferry_insert');
  try {
    await copyRows(client, copySql(t), t, rows, columnOf(t));
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    await client.query('ROLLBACK TO SAVEPOINT ferry_insert');
    return false;
  }
  await client.query('RELEASE SAVEPOINT ferry_insert');
  return true;
}
