import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { connectClient } from '../engines/postgres/connection.js';
import { FerryError } from '../core/errors.js';
import { claimCheckpoint } from './postgres-checkpoint-table.js';
import { alreadyRunning } from './pipeline-ownership.js';
import type { PipelineLock } from '../core/checkpoint-store.js';

/**
 * One ferry process per pipeline and target. Two appliers of one pipeline would each write the
 * checkpoint, and the slower one would move it, and the rows, back in time.
 * - A session advisory lock, held on its own connection, turns a second `ferry run` away at start.
 * - An owner token in the checkpoint row fences every checkpoint write: should the lock's
 *   connection die and another process take over, this one's next commit fails instead of landing.
 */
export class PostgresPipelineLock implements PipelineLock {
  readonly #url: string;
  readonly #pipeline: string;
  readonly owner = randomUUID();
  #client: pg.Client | null = null;

  constructor(url: string, pipeline: string) {
    this.#url = url;
    this.#pipeline = pipeline;
  }

  /** Takes the lock and the checkpoint row, or confirms they are held (a lost connection loses the lock: take it again). */
  async acquire(): Promise<void> {
    if (this.#client) return;
    const client = await connectClient(this.#url);
    let ended = false;
    client.on('end', () => {
      ended = true;
      if (this.#client === client) this.#client = null;
    });
    const { rows } = await client.query("SELECT pg_try_advisory_lock(hashtextextended('ferry pipeline ' || $1, 0)) AS locked", [this.#pipeline]);
    if (!rows[0].locked) {
      await client.end().catch(() => {});
      throw alreadyRunning(this.#pipeline);
    }
    try {
      await claimCheckpoint(client, this.#pipeline, this.owner);
      if (ended) throw new FerryError('retriable', 'the target connection holding the pipeline lock closed while taking it');
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    this.#client = client;
  }

  async release(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }
}
