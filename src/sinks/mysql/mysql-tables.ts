import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TableSchema } from '../../core/schema.js';
import type { Flavor } from '../../engines/mysql/binlog-position.js';
import { qualified, quoteIdent } from '../../engines/mysql/quoting.js';
import { columnDrift, settleDrift } from '../column-drift.js';
import type { TargetTables } from '../target-tables.js';
import { addColumnSql, columnTypeSql, createTableSql, tableCollation } from './mysql-dialect.js';
import { mysqlHolds } from './mysql-widening.js';

/** Target tables on MySQL or MariaDB (`flavor`): databases for schemas, and collations that compare as the source does. */
export class MysqlTables implements TargetTables<Connection> {
  readonly #flavor: Flavor;

  constructor(flavor: Flavor) {
    this.#flavor = flavor;
  }

  createSchemaSql(schema: string): string {
    return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(schema)}`;
  }

  /** MySQL's CREATE … IF NOT EXISTS holds metadata locks and is safe against itself: nothing to add. */
  async lockDdl(): Promise<void> {}

  async exists(conn: Connection, t: TableSchema): Promise<boolean> {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
      t.target.schema,
      t.target.name,
    ]);
    return rows.length > 0;
  }

  /**
   * With its primary key always: InnoDB clusters rows by it, and key-ordered chunks append to it.
   * Cross-engine tables compare text byte for byte, trailing spaces included, as Postgres does; MySQL tables keep the target's default.
   */
  async create(conn: Connection, t: TableSchema, replace: boolean): Promise<void> {
    if (replace) await conn.query(`DROP TABLE IF EXISTS ${qualified(t.target)}`);
    await conn.query(createTableSql(t, tableCollation(t, this.#flavor)));
  }

  truncateSql(t: TableSchema): string {
    return `TRUNCATE TABLE ${qualified(t.target)}`;
  }

  async reconcileColumns(conn: Connection, t: TableSchema, addMissing: boolean, keyLater: boolean): Promise<void> {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [t.target.schema, t.target.name],
    );
    const actual = new Map<string, string>(rows.map((r) => [String(r.name), String(r.type)]));
    const [key] = await conn.query<RowDataPacket[]>(
      "SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'",
      [t.target.schema, t.target.name],
    );
    const drift = columnDrift(
      t,
      actual,
      key.map((r) => String(r.name)),
      (c) => columnTypeSql(t, c),
      mysqlHolds,
      keyLater,
    );
    await settleDrift(t, drift, addMissing, async (c) => {
      for (const sql of addColumnSql(t, c)) await conn.query(sql);
    });
  }
}
