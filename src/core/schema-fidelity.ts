import { tableKey, type TableId, type Value } from './change-event.js';
import type { CheckConstraint, Column, ForeignKey, Index, TableSchema } from './schema.js';
import { FerryError } from './errors.js';

/**
 * How a target carries one part of a source table's schema besides its columns and primary key:
 * what `ferry plan` lists, each sink dialect answering for its engine (`carriedSchema`).
 */
export interface CarriedItem {
  /** The source table. */
  readonly table: TableId;
  readonly kind: 'default' | 'not-null' | 'unique' | 'foreign-key' | 'check';
  /** The column (default, not-null), or the index or constraint. */
  readonly name: string;
  /**
   * `create`: with the table (CREATE TABLE, or ADD COLUMN mid-stream); `finalize`: at the cutover's
   * finalizing step (DESIGN §1.3), deferred so the snapshot and the stream are not held up by it;
   * `never`: not carried, `note` says why and what to do.
   */
  readonly when: 'create' | 'finalize' | 'never';
  /** The target's SQL: the DEFAULT expression, or the constraint's definition. */
  readonly sql?: string;
  readonly note?: string;
}

/** A clause in a target's SQL (with what it changes, when it is not the source's exactly), or why the target does not get it. */
export type Translation = { readonly sql: string; readonly note?: string } | { readonly reason: string };

/** How one target engine translates each part of a table's schema (its dialect's functions). */
export interface SchemaTranslations {
  defaultSql(t: TableSchema, c: Column): Translation | null;
  /** Whether NOT NULL comes with the table, or waits for the cutover (zero dates arrive as NULL). */
  notNullAtCreate(t: TableSchema, c: Column): boolean;
  uniqueIndexSql(t: TableSchema, i: Index): Translation;
  foreignKeySql(t: TableSchema, fk: ForeignKey): Translation;
  /** A check's definition and when it comes: `create` for one the column definition holds; no definition for one the type implies. */
  check(t: TableSchema, ck: CheckConstraint): { tr: Translation | null; when: 'create' | 'finalize'; note?: string };
}

/** What a target carries of `t`'s defaults, NOT NULLs, unique indexes, foreign keys and checks, and when (for `ferry plan`). */
export function carriedSchema(t: TableSchema, dialect: SchemaTranslations): CarriedItem[] {
  const items: CarriedItem[] = [];
  const item = (kind: CarriedItem['kind'], name: string, tr: Translation, when: 'create' | 'finalize', note?: string) =>
    items.push({
      table: t.source,
      kind,
      name,
      ...('sql' in tr ? { when, sql: tr.sql, ...((tr.note ?? note) ? { note: tr.note ?? note } : {}) } : { when: 'never', note: tr.reason }),
    });
  for (const c of t.columns) {
    const d = dialect.defaultSql(t, c);
    if (d) item('default', c.name, d, 'create');
    if (!c.nullable) {
      const deferred = !dialect.notNullAtCreate(t, c);
      item(
        'not-null',
        c.name,
        { sql: 'NOT NULL' },
        deferred ? 'finalize' : 'create',
        deferred
          ? 'a zero date arrives as NULL: NOT NULL is set at the cutover if no NULL is there, else the column stays nullable (logged with the count)'
          : undefined,
      );
    }
  }
  for (const i of t.indexes.filter((x) => x.unique))
    item('unique', i.name, dialect.uniqueIndexSql(t, i), 'finalize', 'non-unique until the cutover: set-based apply passes through transient duplicates');
  for (const fk of t.foreignKeys ?? []) item('foreign-key', fk.name, dialect.foreignKeySql(t, fk), 'finalize');
  for (const ck of t.checks ?? []) {
    const { tr, when, note } = dialect.check(t, ck);
    if (tr) item('check', ck.name, tr, when, note);
    else items.push({ table: t.source, kind: 'check', name: ck.name, when, ...(note ? { note } : {}) });
  }
  return items;
}

/** The table a foreign key references, when the pipeline replicates it (only then can the target hold the key). */
export function referencedTable(fk: ForeignKey, tables: readonly TableSchema[]): TableSchema | undefined {
  const key = tableKey(fk.references);
  return tables.find((t) => tableKey(t.source) === key);
}

/** Whether `columns` are, as a set, the primary key or a unique index of `t`: what a Postgres foreign key must reference. */
export function isUniqueKey(t: TableSchema, columns: readonly string[]): boolean {
  const same = (a: readonly string[]) => a.length === columns.length && a.every((c) => columns.includes(c));
  return same(t.primaryKey) || t.indexes.some((i) => i.unique && same(i.columns));
}

/** Rows of a target table that break a constraint the source declares, found when ferry went to create it. */
export interface ConstraintViolation {
  /** The target table. */
  readonly table: TableId;
  /** `unique index email`, `foreign key film_language_fk`, `check price_positive`. */
  readonly constraint: string;
  /** The first offending rows: their primary key (and the constrained columns). */
  readonly rows: readonly Record<string, Value>[];
}

/** How many offending rows a violation names. */
export const VIOLATION_ROWS = 5;

/**
 * The cutover's failure for target rows that break the source's constraints: each constraint with
 * its table and first rows. Rows the source holds too mean the source never enforced the constraint
 * on them (MySQL with foreign_key_checks off, say); rows only the target holds were written there
 * outside ferry.
 */
export function violationError(violations: readonly ConstraintViolation[]): FerryError {
  const list = violations.map(
    (v) => `${v.constraint} on ${tableKey(v.table)}: ${v.rows.map(formatRow).join(', ')}${v.rows.length >= VIOLATION_ROWS ? ', …' : ''}`,
  );
  return new FerryError('fatal', `the target's rows break constraints the source declares, so they cannot be created: ${list.join('; ')}`, {
    hint: 'compare these rows with the source (`ferry verify`); fix them where they are wrong (at the source, and ferry replicates the fix; or in the target), then cut over again',
  });
}

function formatRow(row: Record<string, Value>): string {
  return `(${Object.entries(row)
    .map(([k, v]) => `${k}=${v === null ? 'NULL' : Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : String(v)}`)
    .join(', ')})`;
}
