import { createHash, randomUUID } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { connect } from '../engines/mysql/connection.js';
import { claimMysqlCheckpoint } from './mysql-checkpoint-table.js';
import { alreadyRunning } from './pipeline-ownership.js';
import type { PipelineLock } from '../core/checkpoint-store.js';

/** How long checking, releasing or taking back the lock (from this process's own lost session) may wait on the server. */
const LOCK_WAIT_SECONDS = 10;

/**
 * One ferry process per pipeline on a MySQL/MariaDB target, as postgres-pipeline-lock.ts does it for
 * Postgres: a named lock (GET_LOCK) held on its own connection turns a second process away, and the
 * owner token in the checkpoint row fences every write should the lock's connection die.
 */
export class MysqlPipelineLock implements PipelineLock {
  readonly #url: string;
  readonly #pipeline: string;
  readonly owner = randomUUID();
  #conn: Connection | null = null;

  constructor(url: string, pipeline: string) {
    this.#url = url;
    this.#pipeline = pipeline;
  }

  /** Lock names are at most 64 characters: the pipeline name is hashed into one. */
  get #lockName(): string {
    return `ferry:${createHash('sha1').update(this.#pipeline).digest('hex')}`;
  }

  async acquire(): Promise<void> {
    let lost: number | null = null;
    if (this.#conn) {
      // A server that does not answer: mysql2 closes the connection at the timeout.
      const alive = await this.#conn.query({ sql: 'SELECT 1', timeout: LOCK_WAIT_SECONDS * 1000 }).then(
        () => true,
        () => false,
      );
      if (alive) return;
      lost = this.#conn.threadId;
      this.#conn.destroy();
      this.#conn = null;
    }
    const conn = await connect(this.#url, 'target');
    try {
      if (!(await this.#take(conn, lost))) throw alreadyRunning(this.#pipeline);
      await claimMysqlCheckpoint(conn, this.#pipeline, this.owner);
    } catch (err) {
      await conn.end().catch(() => {});
      throw err;
    }
    this.#conn = conn;
  }

  /**
   * Takes the lock on `conn`. The server drops a closed session (and its lock) only once it notices:
   * a lock still held by this process's own lost session `lost` is not another process's, so that
   * session is ended and the lock waited for.
   */
  async #take(conn: Connection, lost: number | null): Promise<boolean> {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS locked', [this.#lockName]);
    if (Number(rows[0]?.locked) === 1) return true;
    if (lost === null) return false;
    const [holder] = await conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS id', [this.#lockName]);
    if (holder[0]?.id === null || Number(holder[0]?.id) !== lost) return false;
    await conn.query(`KILL ${lost}`).catch(() => {}); // gone meanwhile
    const [again] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS locked', [this.#lockName, LOCK_WAIT_SECONDS]);
    return Number(again[0]?.locked) === 1;
  }

  /**
   * Lets the lock go before the connection closes: end() resolves as it sends its goodbye, before the
   * server drops the session, and a claim that follows at once (the cutover's, once the stream has
   * stopped) would find the lock still held and take this process for another.
   */
  async release(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    if (!conn) return;
    // A server that does not answer: mysql2 closes the connection at the timeout, the lock goes with the session.
    await conn.query({ sql: 'DO RELEASE_LOCK(?)', values: [this.#lockName], timeout: LOCK_WAIT_SECONDS * 1000 }).catch(() => {});
    await conn.end().catch(() => {});
  }
}
