import { createHash, randomUUID } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { connect } from '../engines/mysql/connection.js';
import { claimMysqlCheckpoint } from './mysql-checkpoint-table.js';
import { alreadyRunning } from './pipeline-ownership.js';
import type { PipelineLock } from '../core/checkpoint-store.js';

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
    if (this.#conn) {
      const alive = await this.#conn.query('SELECT 1').then(
        () => true,
        () => false,
      );
      if (alive) return;
      this.#conn.destroy();
      this.#conn = null;
    }
    const conn = await connect(this.#url, 'target');
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS locked', [this.#lockName]);
      if (Number(rows[0]?.locked) !== 1) throw alreadyRunning(this.#pipeline);
      await claimMysqlCheckpoint(conn, this.#pipeline, this.owner);
    } catch (err) {
      await conn.end().catch(() => {});
      throw err;
    }
    this.#conn = conn;
  }

  async release(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    await conn?.end().catch(() => {});
  }
}
