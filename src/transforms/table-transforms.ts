import { pickKey, tableKey, type ChangeEvent, type Row, type SchemaChange, type TableId, type Transaction, type Value } from '../core/change-event.js';
import { isFullRow } from '../core/coalesce.js';
import { FerryError } from '../core/errors.js';
import type { TableSchema } from '../core/schema.js';
import type { RowFilter } from '../core/transform-rules.js';
import { passedColumns } from './passed-columns.js';
import type { TablePlan, Transform } from './transform.js';

interface Planned {
  /** The source table as the stream has it now (ADD COLUMN included). */
  readonly source: TableSchema;
  readonly plan: TablePlan;
}

/**
 * The one seam between reading and writing: snapshot chunks and streamed changes alike reach the
 * sink through the plans of one transform, made once per table when a run starts. The sink is
 * prepared with the plans' tables (`target`), so it only ever sees rows as the target holds them.
 */
export class TableTransforms {
  readonly #transform: Transform;
  readonly #tables = new Map<string, Planned>();
  /** Some plan changes rows: only then is a change looked at (the identity costs the stream nothing). */
  #changesRows = false;

  constructor(transform: Transform, tables: readonly TableSchema[]) {
    this.#transform = transform;
    for (const t of tables) this.#plan(t);
  }

  /** Source table `table` as the target holds it. */
  target(table: TableSchema): TableSchema {
    return this.#planned(table.source).plan.table;
  }

  /** Rows of `table` reach the target as the source has them: its snapshot may copy the source's bulk text undecoded. */
  passesRows(table: TableSchema): boolean {
    const { plan } = this.#planned(table.source);
    return !plan.columns && !plan.keeps;
  }

  /** The conditions the snapshot's SQL may apply to source table `table` (the plan's pushdown). */
  pushdown(table: TableSchema): readonly RowFilter[] | undefined {
    return this.#planned(table.source).plan.pushdown;
  }

  /** A snapshot chunk of source table `table` (values in its column order) as the target holds it (in the target table's). */
  chunk(table: TableSchema, rows: Value[][]): Value[][] {
    const { plan } = this.#planned(table.source);
    if (!plan.columns && !plan.keeps) return rows;
    const out: Value[][] = [];
    for (const values of rows) {
      const row: Row = {};
      table.columns.forEach((c, i) => {
        row[c.name] = values[i] ?? null;
      });
      if (plan.keeps && !plan.keeps(row)) continue;
      const mapped = plan.columns ? plan.columns(row) : row;
      out.push(plan.table.columns.map((c) => mapped[c.name] ?? null));
    }
    return out;
  }

  /**
   * The source's key of a row of `table` from the key the target holds it by (a dead letter's): its
   * key columns renamed back; null where the plan masks one, whose source value the target's cannot give.
   */
  sourceKey(table: TableSchema): ((key: Row) => Row) | null {
    const { source, plan } = this.#planned(table.source);
    if (!plan.columns) return (key) => key;
    const passed = passedColumns(source, plan);
    const names = source.primaryKey.map((c) => passed.get(c));
    if (names.some((n) => n === undefined)) return null;
    return (key) => Object.fromEntries(source.primaryKey.map((c, i) => [c, key[names[i]!] ?? null]));
  }

  /** A source transaction as the target takes it: its changes through their tables' plans, an ADD COLUMN through the table's new plan. */
  transaction(t: Transaction): Transaction {
    const schemaChange = t.schemaChange && this.#schemaChange(t.schemaChange);
    if (!this.#changesRows) return schemaChange ? { ...t, schemaChange } : t;
    const events: ChangeEvent[] = [];
    for (const e of t.events) {
      const changed = this.#change(e);
      if (changed) events.push(changed);
    }
    return { ...t, events, ...(schemaChange ? { schemaChange } : {}) };
  }

  /** The stream, each transaction through `transaction`. */
  async *stream(transactions: AsyncIterable<Transaction>): AsyncIterable<Transaction> {
    for await (const t of transactions) yield this.transaction(t);
  }

  #plan(source: TableSchema): TablePlan {
    const plan = this.#transform.plan(source);
    this.#tables.set(tableKey(source.source), { source, plan });
    this.#changesRows ||= plan.columns !== undefined || plan.keeps !== undefined;
    return plan;
  }

  #planned(table: TableId): Planned {
    const planned = this.#tables.get(tableKey(table));
    if (!planned) throw new FerryError('fatal', `no transform plan for source table ${tableKey(table)}`);
    return planned;
  }

  /**
   * A row filter decides on whole images only. An image without every column (the old row of a
   * Postgres update, or of its delete without REPLICA IDENTITY FULL; an update without its unchanged
   * TOAST values) counts as kept: its change reaches the target, and a delete of it is one that may
   * find no row there (`mayBeMissing`).
   */
  #change(e: ChangeEvent): ChangeEvent | null {
    if (e.op === 't') return e;
    const { source, plan } = this.#planned(e.table);
    if (!plan.columns && !plan.keeps) return e;
    const columns = plan.columns ?? ((row: Row) => row);
    const unjudged = (image: Row | null) => plan.keeps !== undefined && (image === null || !isFullRow(source.columns, image));
    const kept = (image: Row | null) => !plan.keeps || unjudged(image) || plan.keeps(image!);
    const missing = (image: Row | null) => (unjudged(image) ? { mayBeMissing: true } : {});
    const key = columns(e.key);
    if (e.op === 'd') return kept(e.before) ? { ...e, key, before: e.before && columns(e.before), ...missing(e.before) } : null;
    const after = columns(e.after!);
    if (e.op !== 'u') return kept(e.after) ? { ...e, key, after } : null;
    const was = kept(e.before);
    const is = kept(e.after);
    const unchanged = e.unchanged && (plan.columns ? plan.table.columns.filter((c) => !(c.name in after)).map((c) => c.name) : e.unchanged);
    const rest = unchanged ? { unchanged } : {};
    if (was && is) return { ...e, key, before: e.before && columns(e.before), after, ...rest };
    if (is) return { op: 'c', table: e.table, key, before: null, after, ...rest };
    if (!was) return null;
    // Out of the filter: the row goes, under the key it had.
    const before = e.before ? columns(e.before) : key;
    return { op: 'd', table: e.table, key: e.before ? columns(pickKey(e.before, source.primaryKey)) : key, before, after: null, ...missing(e.before) };
  }

  /** The table's plan made again with the added columns; the target gets the columns that plan adds. */
  #schemaChange(change: SchemaChange): SchemaChange {
    const { source } = this.#planned(change.table);
    const added = new Set(change.addColumns.map((c) => c.name));
    const without = { ...source, columns: source.columns.filter((c) => !added.has(c.name)) };
    const had = new Set(this.#transform.plan(without).table.columns.map((c) => c.name));
    const plan = this.#plan({
      ...without,
      columns: [...without.columns, ...change.addColumns],
      ...(change.foreignKeys ? { foreignKeys: change.foreignKeys } : {}),
    });
    return {
      table: change.table,
      addColumns: plan.table.columns.filter((c) => !had.has(c.name)),
      ...(change.foreignKeys ? { foreignKeys: plan.table.foreignKeys ?? [] } : {}),
    };
  }
}
