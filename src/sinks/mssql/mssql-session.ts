import sql from 'mssql';

/**
 * One SQL Server session as the SQL sink uses it (its connection type `C`). mssql's pool hands each
 * request any free connection, so session state (a `#stage` table, the transaction) holds only on a
 * `sql.Transaction`: the session is one, begun by BEGIN and ended by COMMIT or ROLLBACK; every
 * statement in between runs on its one connection.
 */
export class MssqlSession {
  #transaction: sql.Transaction | null = null;
  readonly #pool: sql.ConnectionPool;

  constructor(pool: sql.ConnectionPool) {
    this.#pool = pool;
  }

  /** BEGIN, COMMIT and ROLLBACK end or start the transaction; anything else is a batch in it (or on the pool, outside one). */
  async run(statement: string): Promise<void> {
    if (statement === 'BEGIN') {
      this.#transaction = new sql.Transaction(this.#pool);
      await this.#transaction.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
      return;
    }
    if (statement === 'COMMIT' || statement === 'ROLLBACK') {
      const tx = this.#transaction;
      this.#transaction = null;
      if (tx) await (statement === 'COMMIT' ? tx.commit() : tx.rollback());
      return;
    }
    await this.request().batch(statement);
  }

  /** A request on this session's connection (its transaction's, once begun). */
  request(): sql.Request {
    return this.#transaction ? new sql.Request(this.#transaction) : new sql.Request(this.#pool);
  }

  /** Rows of a parameterized statement (`@p1`, `@p2`…, bound in order). */
  async query<T extends Record<string, unknown>>(statement: string, params: readonly unknown[] = []): Promise<T[]> {
    const request = this.request();
    params.forEach((p, i) => request.input(`p${i + 1}`, p));
    const result = await request.query<T>(statement);
    return result.recordset ?? [];
  }

  /** Whether a transaction is open on this session. */
  get inTransaction(): boolean {
    return this.#transaction !== null;
  }
}
