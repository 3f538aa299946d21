import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { ChangeEvent, Row } from '../../core/change-event.js';
import type { Column, TableSchema } from '../../core/schema.js';
import { qualified } from '../../engines/mysql/quoting.js';
import type { ReferencingRows } from '../referential-actions.js';
import { noEqualRow, type RowsWrite, type RowWrites } from '../row-writes.js';
import { addColumnSql, deleteRowSql, insertSql, rowValues, updateRowSql } from './mysql-dialect.js';
import { mysqlReferencingRows } from './mysql-referential.js';
import { deleteByKey, insertCreated, patchByKey, runChecked, upsertRows, type UpsertStrategy } from './mysql-rows.js';

/** The statements of an apply transaction on MySQL, upserting as `upserts` says (mysql-rows.ts). */
export class MysqlWrites implements RowWrites<Connection> {
  readonly #upserts: UpsertStrategy;

  constructor(upserts: UpsertStrategy) {
    this.#upserts = upserts;
  }

  /** TRUNCATE would commit the open transaction (MySQL DDL): DELETE keeps it atomic with the checkpoint. */
  async truncate(conn: Connection, t: TableSchema): Promise<void> {
    await conn.query(`DELETE FROM ${qualified(t.target)}`);
  }

  /** Every statement touches only rows with the changes' keys (mysql-rows.ts). */
  async applyRows(conn: Connection, t: TableSchema, w: RowsWrite, checked: boolean): Promise<void> {
    await deleteByKey(conn, t, w.deletes, checked);
    if (w.transients.length > 0) await deleteByKey(conn, t, w.transients, false);
    for (const p of w.patches) await patchByKey(conn, t, p, checked);
    await upsertRows(conn, t, w.upserts, this.#upserts);
    await insertCreated(conn, t, w.inserts, this.#upserts);
  }

  async applyExact(conn: Connection, t: TableSchema, e: ChangeEvent): Promise<void> {
    const values = (row: Row) => rowValues(t, t.columns, row);
    if (e.op === 'c' || e.op === 'r') {
      await runChecked(conn, t, insertSql(t, t.columns), [[values(e.after!)]]);
      return;
    }
    // Found rows (the pool's FOUND_ROWS): an update that changes nothing still counts its row.
    const matched =
      e.op === 'd'
        ? await runChecked(conn, t, deleteRowSql(t), values(e.before!))
        : await runChecked(conn, t, updateRowSql(t), [...values(e.after!), ...values(e.before!)]);
    if (matched !== 1) throw noEqualRow(t);
  }

  /**
   * MySQL DDL commits the open transaction: what it wrote so far commits ahead of the checkpoint, so
   * the checkpoint's overlap is extended over it first (a crash before this transaction's own commit
   * replays those changes, which then converge; a missing row there is no divergence).
   */
  async addColumns(conn: Connection, t: TableSchema, columns: readonly Column[], beforeImplicitCommit: () => Promise<void>): Promise<void> {
    const [existing] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [t.target.schema, t.target.name],
    );
    const present = new Set(existing.map((r) => String(r.name)));
    const missing = columns.filter((c) => !present.has(c.name));
    if (missing.length === 0) return;
    await beforeImplicitCommit();
    for (const c of missing) for (const sql of addColumnSql(t, c)) await conn.query(sql);
    await conn.query('BEGIN');
  }

  referencingRows(conn: Connection): ReferencingRows {
    return mysqlReferencingRows(conn);
  }
}
