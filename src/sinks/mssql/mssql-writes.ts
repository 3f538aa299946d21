import type { ChangeEvent, Row } from '../../core/change-event.js';
import { groupByColumns, type Patch } from '../../core/coalesce.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { ReferencingRows } from '../referential-actions.js';
import { noEqualRow, type RowsWrite, type RowWrites } from '../row-writes.js';
import { missingRow, writtenRows } from '../target-divergence.js';
import { qualified } from '../../engines/mssql/quoting.js';
import type { TargetColumn } from './mssql-columns.js';
import { addColumnSql } from './mssql-dialect.js';
import type { MssqlDriver } from './mssql-driver.js';
import { mssqlReferencingRows } from './mssql-referential.js';
import type { MssqlSession } from './mssql-session.js';
import { matchNames, sameNames } from './mssql-stage.js';
import { deleteRowSql, deleteSql, insertRowSql, missesSql, moveSql, truncateSql, updateRowSql, updateSql, upsertSql } from './mssql-statements.js';
import { uniqueViolationOf } from './mssql-unique.js';
import { wireRow } from './mssql-values.js';

/** The columns a table has now, read on the session (it sees its own transaction's ADD COLUMN). */
export const COLUMN_NAMES_SQL = 'SELECT [name] FROM sys.columns WHERE [object_id] = OBJECT_ID(@p1)';

/** What a statement with misses answers (mssql-statements.ts missesSql). */
interface Misses {
  readonly missing: number;
  readonly first: number | null;
}

/**
 * The statements of an apply transaction on SQL Server, set-based through the stage (mssql-stage.ts):
 * each kind of change of a table is one request that fills the stage and joins it to the table.
 */
export class MssqlWrites implements RowWrites<MssqlSession> {
  readonly #driver: MssqlDriver;

  constructor(driver: MssqlDriver) {
    this.#driver = driver;
  }

  async truncate(c: MssqlSession, t: TableSchema): Promise<void> {
    await c.run(truncateSql(t.target));
  }

  /**
   * Deletes and patches by key (`checked`: each must find its row; the request answers which did
   * not), then upserts, inserts among them (an insert of a row a replay finds is an upsert too).
   * A duplicate key on another unique index stops the stream naming the index and, where the value
   * SQL Server prints tells, the row.
   */
  async applyRows(c: MssqlSession, t: TableSchema, w: RowsWrite, checked: boolean): Promise<void> {
    const targets = await this.#driver.columns(c, t);
    const targetOf = (name: string) => targets[t.columns.findIndex((col) => col.name === name)]!;
    const keyColumns = t.primaryKey.map((name) => t.columns.find((col) => col.name === name)!);
    const keys = { columns: keyColumns, targets: keyColumns.map((col) => targetOf(col.name)) };
    const deletes = checked ? w.deletes : [...w.deletes, ...w.transients];
    if (deletes.length > 0) await this.#delete(c, t, keys, deletes, checked);
    if (checked && w.transients.length > 0) await this.#delete(c, t, keys, w.transients, false);
    try {
      for (const [set, patches] of groupByColumns(
        t.columns,
        w.patches.map((p) => p.set),
        w.patches,
      ))
        await this.#patch(
          c,
          t,
          keys,
          set,
          set.map((col) => targetOf(col.name)),
          patches,
          checked,
        );
      // Upserts before the rows the batch created: a row that gave up a unique value for a new one goes first.
      const rows = [...w.upserts, ...w.inserts];
      for (const [present, group] of groupByColumns(t.columns, rows, rows)) {
        const stage = sameNames(targets);
        const statement = upsertSql(
          t.target,
          stage.filter((s) => t.primaryKey.includes(s.name)),
          stage,
          present.map((col) => col.name),
        );
        await this.#driver.staged(
          c,
          stage,
          group.map((row) => wireRow(t, t.columns, targets, row)),
          statement,
        );
      }
    } catch (err) {
      throw (await uniqueViolationOf(c, t, err, writtenRows(t, [...w.inserts, ...w.upserts], w.patches))) ?? err;
    }
  }

  async #delete(c: MssqlSession, t: TableSchema, keys: Keys, rows: readonly Row[], checked: boolean): Promise<void> {
    const stage = sameNames(keys.targets);
    const wire = rows.map((k) => wireRow(t, keys.columns, keys.targets, k));
    const statement = deleteSql(t.target, stage);
    if (!checked) {
      await this.#driver.staged(c, stage, wire, statement);
      return;
    }
    const result = await this.#driver.staged(c, stage, wire, `${missesSql(t.target, stage)}; ${statement}`);
    expectFound(t, 'delete', rows, result.recordset?.[0] as Misses | undefined);
  }

  /**
   * Sets `set` columns of rows matched by key; columns not sent (unchanged TOAST values) keep their
   * target values. An identity column cannot be updated: a patch that changes it moves its row (moveSql).
   */
  async #patch(
    c: MssqlSession,
    t: TableSchema,
    keys: Keys,
    set: readonly Column[],
    setTargets: readonly TargetColumn[],
    patches: readonly Patch[],
    checked: boolean,
  ): Promise<void> {
    const identity = setTargets.find((s) => s.identity);
    const moves = identity ? patches.filter((p) => String(p.set[identity.name]) !== String(p.match[identity.name])) : [];
    if (moves.length > 0) await this.#move(c, t, keys, set, setTargets, moves, checked);
    const updates = moves.length > 0 ? patches.filter((p) => !moves.includes(p)) : patches;
    if (updates.length === 0) return;
    const match = matchNames(keys.targets);
    const assigned = sameNames(setTargets).filter((s) => !s.target.identity);
    const wire = updates.map((p) => [
      ...wireRow(t, keys.columns, keys.targets, p.match),
      ...wireRow(t, set, setTargets, p.set).filter((_, j) => !setTargets[j]!.identity),
    ]);
    const statements = [...(checked ? [missesSql(t.target, match)] : []), ...(assigned.length > 0 ? [updateSql(t.target, match, assigned)] : [])];
    if (statements.length === 0) return;
    const result = await this.#driver.staged(c, [...match, ...assigned], wire, statements.join('; '));
    if (checked)
      expectFound(
        t,
        'update',
        updates.map((p) => p.match),
        result.recordset?.[0] as Misses | undefined,
      );
  }

  async #move(
    c: MssqlSession,
    t: TableSchema,
    keys: Keys,
    set: readonly Column[],
    setTargets: readonly TargetColumn[],
    moves: readonly Patch[],
    checked: boolean,
  ): Promise<void> {
    const match = matchNames(keys.targets);
    const wire = moves.map((p) => [...wireRow(t, keys.columns, keys.targets, p.match), ...wireRow(t, set, setTargets, p.set)]);
    const move = moveSql(t.target, match, sameNames(setTargets), await this.#driver.columns(c, t));
    const result = await this.#driver.staged(c, [...match, ...sameNames(setTargets)], wire, checked ? `${missesSql(t.target, match)}; ${move}` : move);
    if (checked)
      expectFound(
        t,
        'update',
        moves.map((p) => p.match),
        result.recordset?.[0] as Misses | undefined,
      );
  }

  async applyExact(c: MssqlSession, t: TableSchema, e: ChangeEvent): Promise<void> {
    const targets = await this.#driver.columns(c, t);
    const values = (row: Row) => wireRow(t, t.columns, targets, row);
    if (e.op === 'c' || e.op === 'r') {
      await this.#driver.execute(c, insertRowSql(t.target, targets, values(e.after!)));
      return;
    }
    const result =
      e.op === 'd'
        ? await this.#driver.execute(c, deleteRowSql(t.target, targets, values(e.before!)))
        : await this.#driver.execute(c, updateRowSql(t.target, targets, values(e.after!), values(e.before!)));
    if (result.rowsAffected.reduce((a, b) => a + b, 0) !== 1) throw noEqualRow(t);
  }

  /** In the open transaction: SQL Server DDL is transactional, so nothing commits ahead of the checkpoint. */
  async addColumns(c: MssqlSession, t: TableSchema, columns: readonly Column[]): Promise<void> {
    const existing = new Set((await c.query<{ name: string }>(COLUMN_NAMES_SQL, [qualified(t.target)])).map((r) => r.name));
    for (const col of columns.filter((added) => !existing.has(added.name))) for (const statement of addColumnSql(t, col)) await c.run(statement);
  }

  referencingRows(c: MssqlSession): ReferencingRows {
    return mssqlReferencingRows(c, this.#driver);
  }
}

interface Keys {
  readonly columns: readonly Column[];
  readonly targets: readonly TargetColumn[];
}

/** A statement of missesSql found no row for some of `keys`: the first of them is named. */
function expectFound(t: TableSchema, change: 'delete' | 'update', keys: readonly Row[], misses: Misses | undefined): void {
  if (!misses || misses.missing === 0) return;
  throw missingRow(t, change, misses.first === null ? null : (keys[misses.first - 1] ?? null), misses.missing);
}
