import pg from 'pg';
import { FerryError } from '../errors.js';

/**
 * One ferry process per pipeline and target: a session advisory lock, held on its own connection
 * for as long as the process applies. Two appliers of one pipeline would each write the checkpoint,
 * and the slower one would move it, and the rows, back in time.
 */
export class PipelineLock {
  readonly #url: string;
  readonly #pipeline: string;
  #client: pg.Client | null = null;

  constructor(url: string, pipeline: string) {
    this.#url = url;
    this.#pipeline = pipeline;
  }

  /** Takes the lock, or confirms it is still held (a lost connection loses it: take it again). */
  async acquire(): Promise<void> {
    if (this.#client) return;
    const client = new pg.Client({ connectionString: this.#url });
    client.on('error', () => {});
    client.on('end', () => {
      if (this.#client === client) this.#client = null;
    });
    await client.connect();
    const { rows } = await client.query("SELECT pg_try_advisory_lock(hashtextextended('ferry pipeline ' || $1, 0)) AS locked", [this.#pipeline]);
    if (!rows[0].locked) {
      await client.end().catch(() => {});
      throw new FerryError('fatal', `another ferry process is already running pipeline ${this.#pipeline} against this target`, {
        hint: 'stop the other process first (ferry status shows where it is); one pipeline has one applier',
      });
    }
    this.#client = client;
  }

  async release(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }
}
