import type { Value } from '../core/change-event.js';
import type { TableSchema } from '../core/schema.js';

/**
 * One engine's connections as the SQL sink uses them (`C` is a connection): statements, bulk loads
 * and the pool. What every engine does alike with them (transactions, checkpoint, fencing) is sql-sink.ts's.
 */
export interface SqlDriver<C> {
  /** A connection of its own, for one transaction. */
  checkout(): Promise<C>;
  /** Runs a statement without results on `c`. */
  run(c: C, sql: string): Promise<void>;
  /** Returns `c` to its pool, or closes it when its state is unknown. */
  giveBack(c: C, destroy: boolean): void;
  /** Bulk-loads snapshot rows (values in `table.columns` order) inside the chunk's transaction. */
  loadRows(c: C, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void>;
  /** Loading the source's bulk text as it comes, where both ends speak it (Postgres COPY text); absent elsewhere. */
  readonly textLoad?: TextLoad<C>;
  /** The engine's savepoint statements: what isolating a rejected row needs (sql-transaction.ts). */
  readonly savepoints?: Savepoints;
  /** Ends the pool. */
  close(): Promise<void>;
}

/**
 * A savepoint as one engine writes it. sql-transaction.ts runs `save` before a write, then `rollback`
 * when the target rejected a row of it, and `release` after either, and after any other failure.
 */
export interface Savepoints {
  readonly save: string;
  /** Undoes the write. Fails where the target ended the whole transaction on the rejection (SQL Server, sinks/mssql/mssql-savepoints.ts). */
  readonly rollback: string;
  /** Forgets the savepoint, and restores what `save` changed in the session. */
  readonly release: string;
}

/** SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT as the SQL standard has them (Postgres, MySQL, MariaDB). */
export const STANDARD_SAVEPOINTS: Savepoints = {
  save: 'SAVEPOINT ferry_rows',
  rollback: 'ROLLBACK TO SAVEPOINT ferry_rows',
  release: 'RELEASE SAVEPOINT ferry_rows',
};

export interface TextLoad<C> {
  /** Whether `table`'s chunks load straight from the source's bulk text (the same engine and types at both ends). */
  accepts(table: TableSchema): boolean;
  load(c: C, table: TableSchema, text: NodeJS.ReadableStream): Promise<void>;
}

/** Runs `work` in one target transaction on one connection: committed when it resolves, rolled back when it throws. */
export async function inTransaction<C, T>(driver: SqlDriver<C>, work: (c: C) => Promise<T>): Promise<T> {
  const c = await driver.checkout();
  let broken = false;
  try {
    await driver.run(c, 'BEGIN');
    const result = await work(c);
    await driver.run(c, 'COMMIT');
    return result;
  } catch (err) {
    await driver.run(c, 'ROLLBACK').catch(() => (broken = true));
    throw err;
  } finally {
    driver.giveBack(c, broken);
  }
}
