import { createHash, randomUUID } from 'node:crypto';
import sql from 'mssql';
import type { PipelineLock } from '../core/checkpoint-store.js';
import { FerryError } from '../core/errors.js';
import { poolConfig } from '../engines/mssql/connection.js';
import { claimMssqlCheckpoint, poolStatements } from './mssql-checkpoint-table.js';
import { alreadyRunning } from './pipeline-ownership.js';

/** Whether this session holds `@p1` (sp_getapplock's default principal is public). */
export const HOLDS_LOCK_SQL = "SELECT APPLOCK_MODE(N'public', @p1, N'Session') AS [mode]";

/** An application lock's name: at most 255 characters, so the pipeline's name is hashed into it. */
export function lockResource(pipeline: string): string {
  return `ferry pipeline ${createHash('sha1').update(pipeline).digest('hex')}`;
}

/**
 * One ferry process per pipeline on a SQL Server target, as postgres-pipeline-lock.ts does it for
 * Postgres: an application lock owned by a session (sp_getapplock, @LockOwner = 'Session'), on a
 * pool of one connection kept open, turns a second process away; the owner token in the checkpoint
 * row fences every write should that connection die. The server releases a session's locks when
 * the session ends; the pool would then open a new session without them, which acquire() notices
 * (APPLOCK_MODE) and takes the lock again, or finds another process holding it.
 */
export class MssqlPipelineLock implements PipelineLock {
  readonly #url: string;
  readonly #pipeline: string;
  readonly owner = randomUUID();
  #pool: sql.ConnectionPool | null = null;

  constructor(url: string, pipeline: string) {
    this.#url = url;
    this.#pipeline = pipeline;
  }

  /** Takes the lock and the checkpoint row, or confirms they are still held. */
  async acquire(): Promise<void> {
    if (this.#pool) {
      if (await this.#holds(this.#pool).catch(() => false)) return;
      await this.#pool.close().catch(() => {});
      this.#pool = null;
    }
    const config = poolConfig(this.#url, 'target', 1);
    const pool = new sql.ConnectionPool({ ...config, pool: { ...config.pool, max: 1, min: 1 } });
    // Its connection sits idle for the whole run: an 'error' event it raises there, unheard, would end
    // the process. A lost lock is noticed at the next acquire(); the owner token fences writes meanwhile.
    pool.on('error', () => {});
    try {
      await pool.connect();
      const request = pool.request();
      request.input('Resource', sql.NVarChar(255), lockResource(this.#pipeline));
      request.input('LockMode', sql.VarChar(32), 'Exclusive');
      request.input('LockOwner', sql.VarChar(32), 'Session');
      request.input('LockTimeout', sql.Int, 0);
      // Granted (0) or not (-1: another session holds it); anything else is a failure sp_getapplock reports by value, not by error.
      const { returnValue } = await request.execute('sp_getapplock');
      if (returnValue === -1) throw alreadyRunning(this.#pipeline);
      if (typeof returnValue !== 'number' || returnValue < 0) {
        throw new FerryError('retriable', `SQL Server did not grant the pipeline lock (sp_getapplock returned ${String(returnValue)})`);
      }
      await claimMssqlCheckpoint(poolStatements(pool), this.#pipeline, this.owner);
      if (!(await this.#holds(pool))) throw new FerryError('retriable', 'the target connection holding the pipeline lock closed while taking it');
    } catch (err) {
      await pool.close().catch(() => {});
      throw err;
    }
    this.#pool = pool;
  }

  async #holds(pool: sql.ConnectionPool): Promise<boolean> {
    const rows = await poolStatements(pool).query<{ mode: string }>(HOLDS_LOCK_SQL, [lockResource(this.#pipeline)]);
    return rows[0]?.mode === 'Exclusive';
  }

  /** Closing the lock's only session releases the lock. */
  async release(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.close().catch(() => {});
  }
}
