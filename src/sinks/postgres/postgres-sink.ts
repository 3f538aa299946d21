import { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { coalesce, groupByColumns } from '../../core/coalesce.js';
import { tableKey, type ChangeEvent, type Row, type TableId } from '../../core/change-event.js';
import type { Checkpoint, SnapshotProgress } from '../../core/checkpoint.js';
import type { Column, TableSchema } from '../../core/schema.js';
import type { Sink, SinkTransaction, TablePrep } from '../../core/sink.js';
import type { CheckProblem } from '../../core/source.js';
import { coerceError, FerryError } from '../../errors.js';
import { PipelineLock } from '../../checkpoint/postgres-pipeline-lock.js';
import { connectClient } from './postgres-connection.js';
import {
  assertOwner, clearProgress, ensureCheckpointTables, readCheckpoint, readProgress, writeCheckpoint, writeProgress,
} from '../../checkpoint/postgres-checkpoint-table.js';
import {
  addColumnSql, columnArrays, columnType, copyField, copySql, createEnumSql, createIndexSql, createTableSql, deleteSql, enumTypes,
  patchSql, qualified, quoteIdent, readRowsSql, resetIdentitySql, toPg, upsertSql,
} from './postgres-dialect.js';

export interface PostgresSinkOptions {
  readonly url: string;
  readonly pipeline: string;
  readonly connections: number;
  readonly log: Logger;
}

const COPY_ROWS_PER_WRITE = 1000;

export class PostgresSink implements Sink {
  readonly #o: PostgresSinkOptions;
  readonly #pool: pg.Pool;
  readonly #tables = new Map<string, TableSchema>();
  readonly #lock: PipelineLock;

  private constructor(options: PostgresSinkOptions, pool: pg.Pool) {
    this.#o = options;
    this.#pool = pool;
    this.#lock = new PipelineLock(options.url, options.pipeline);
  }

  claim(): Promise<void> {
    return this.#lock.acquire();
  }

  static async open(options: PostgresSinkOptions): Promise<PostgresSink> {
    let probe: pg.Client | undefined;
    try {
      probe = await connectClient(options.url);
      await ensureCheckpointTables(probe);
    } catch (err) {
      throw new FerryError('retriable', `cannot prepare the target: ${(err as Error).message}`, {
        cause: err, hint: 'check target.url (host, port, user, password, database), that Postgres is running, and that the user may create schemas',
      });
    } finally {
      await probe?.end().catch(() => {});
    }
    // UTC, so timestamptz text compares with the source's; and, like a native replica, no trigger or
    // foreign-key enforcement where the role may switch it off: the source already did both.
    const replica = await canSetReplicaRole(options.url);
    if (!replica) options.log.warn('the target user cannot set session_replication_role=replica; target triggers and foreign keys stay active');
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.connections,
      keepAlive: true,
      options: `-c TimeZone=UTC${replica ? ' -c session_replication_role=replica' : ''}`,
    });
    pool.on('error', (err) => options.log.warn({ err: err.message }, 'idle target connection failed'));
    // A client checked out of the pool reports a dying server as an 'error' event of its own, and an
    // unheard one would end the process. The failure reaches ferry anyway, through the next query.
    pool.on('connect', (client) => client.on('error', (err) => options.log.debug({ err: err.message }, 'target connection failed')));
    return new PostgresSink(options, pool);
  }

  /** Preflight of the target: reachable, may create schemas, may switch off triggers for apply sessions. */
  static async check(url: string): Promise<CheckProblem[]> {
    let client: pg.Client;
    try {
      client = await connectClient(url);
    } catch (err) {
      return [{ check: 'target', message: `cannot connect to the target: ${(err as Error).message}`, hint: 'check target.url (host, port, user, password, database) and that Postgres is running' }];
    }
    try {
      const { rows } = await client.query(
        `SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS can_create,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`);
      const problems: CheckProblem[] = [];
      if (!rows[0].can_create) {
        problems.push({ check: 'target grants', message: 'the target user may not create schemas in this database', hint: 'GRANT CREATE ON DATABASE <db> TO <user>;' });
      }
      if (!rows[0].superuser) {
        problems.push({
          check: 'session_replication_role', warning: true,
          message: 'the target user cannot set session_replication_role=replica, so target triggers and foreign keys stay active while applying',
          hint: 'use a superuser for the target, or make sure target tables have no triggers or foreign keys that the source did not have',
        });
      }
      return problems;
    } finally {
      await client.end();
    }
  }

  async #withTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async prepare(tables: readonly TableSchema[], prep: TablePrep): Promise<void> {
    for (const t of tables) this.#tables.set(tableKey(t.source), t);
    await this.#withTransaction(async (client) => {
      for (const schema of new Set(tables.map((t) => t.target.schema))) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      for (const t of tables) {
        if (prep !== 'none') await createEnumTypes(client, t);
        if (prep === 'none') {
          const { rows } = await client.query('SELECT to_regclass($1) AS oid', [qualified(t.target)]);
          if (!rows[0]?.oid) {
            throw new FerryError('config', `target table ${qualified(t.target)} does not exist and snapshot.tablePrep is none`, {
              hint: 'create it yourself, or set snapshot.tablePrep: create',
            });
          }
          await reconcileColumns(client, t, false);
          continue;
        }
        if (prep === 'drop-and-create') await client.query(`DROP TABLE IF EXISTS ${qualified(t.target)} CASCADE`);
        await client.query(createTableSql(t));
        await reconcileColumns(client, t, true);
        if (prep === 'truncate') await client.query(`TRUNCATE ${qualified(t.target)}`);
      }
    }).catch((err) => {
      throw coerceError(err, 'target table preparation');
    });
  }

  loadCheckpoint(): Promise<Checkpoint | null> {
    return readCheckpoint(this.#pool, this.#o.pipeline);
  }

  loadSnapshotProgress(): Promise<SnapshotProgress[]> {
    return readProgress(this.#pool, this.#o.pipeline);
  }

  async beginSnapshot(): Promise<void> {
    await this.#withTransaction(async (client) => {
      await clearProgress(client, this.#o.pipeline);
      await writeCheckpoint(client, this.#o.pipeline, this.#lock.owner, { phase: 'snapshot', position: null, tables: [] });
    });
  }

  async loadChunk(table: TableSchema, rows: readonly Row[], progress: SnapshotProgress): Promise<void> {
    await this.#withTransaction(async (client) => {
      await assertOwner(client, this.#o.pipeline, this.#lock.owner);
      if (rows.length > 0) await pipe(Readable.from(copyLines(table, rows)), client.query(copyFrom(copySql(table))));
      await writeProgress(client, this.#o.pipeline, progress);
    }).catch((err) => {
      throw coerceError(err, `target snapshot load of ${qualified(table.target)}`);
    });
  }

  async finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    await this.#withTransaction(async (client) => {
      for (const t of tables) {
        for (const sql of createIndexSql(t)) await client.query(sql);
        for (const sql of resetIdentitySql(t)) await client.query(sql);
      }
      await clearProgress(client, this.#o.pipeline);
      await writeCheckpoint(client, this.#o.pipeline, this.#lock.owner, { ...checkpoint, tables: tables.map((t) => tableKey(t.source)) });
    }).catch((err) => {
      throw coerceError(err, 'target snapshot completion');
    });
  }

  async begin(): Promise<SinkTransaction> {
    const client = await this.#pool.connect().catch((err) => {
      throw coerceError(err, 'target connection');
    });
    try {
      await client.query('BEGIN');
    } catch (err) {
      client.release(true);
      throw coerceError(err, 'target BEGIN');
    }
    return new PostgresTransaction(client, this.#tables, this.#o.pipeline, this.#lock.owner);
  }

  async countRows(table: TableSchema): Promise<number> {
    const { rows } = await this.#pool.query(`SELECT count(*) AS n FROM ${qualified(table.target)}`);
    return Number(rows[0].n);
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const { rows } = await this.#pool.query({ text: readRowsSql(table, afterKey !== null, limit), values: afterKey ? table.primaryKey.map((c) => afterKey[c] ?? null) : [] });
    return rows as Row[];
  }

  async close(): Promise<void> {
    await this.#lock.release();
    await this.#pool.end().catch(() => {});
  }
}

/** Enum types a Postgres-to-Postgres table uses, created with the source's labels when the target lacks them. */
async function createEnumTypes(client: pg.PoolClient, t: TableSchema): Promise<void> {
  for (const e of enumTypes(t)) {
    const { rows } = await client.query('SELECT to_regtype($1) AS oid', [e.name]);
    if (!rows[0]?.oid) for (const sql of createEnumSql(e.name, e.labels)) await client.query(sql);
  }
}

async function canSetReplicaRole(url: string): Promise<boolean> {
  const client = await connectClient(url);
  try {
    await client.query('SET session_replication_role = replica');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Brings an existing target table in line with the source's columns where that is a pure addition
 * (when ferry manages the table: `addMissing`), and refuses anything else: a column the source
 * changed while ferry was not watching (stopped, or behind) would otherwise drift silently.
 */
async function reconcileColumns(client: pg.PoolClient, t: TableSchema, addMissing: boolean): Promise<void> {
  // With an empty search_path format_type qualifies user types (public.mood), as the source describes them.
  await client.query("SELECT set_config('search_path', '', true)");
  const { rows } = await client.query(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, [qualified(t.target)]);
  await client.query("SELECT set_config('search_path', '\"$user\", public', true)");
  const actual = new Map<string, string>(rows.map((r) => [r.name, r.type]));
  const problems: string[] = [];
  for (const c of t.columns) {
    const type = actual.get(c.name);
    if (type === undefined && !addMissing) problems.push(`column ${c.name} is missing in the target (snapshot.tablePrep none: add it yourself)`);
    else if (type === undefined) for (const sql of addColumnSql(t, c)) await client.query(sql);
    else if (type !== columnType(t, c)) problems.push(`column ${c.name} is ${type} in the target, but the source's ${c.sourceType} maps to ${columnType(t, c)}`);
  }
  for (const name of actual.keys()) {
    if (!t.columns.some((c) => c.name === name)) problems.push(`column ${name} is in the target but no longer in the source (dropped or renamed)`);
  }
  if (problems.length > 0) {
    throw new FerryError('fatal', `target table ${qualified(t.target)} no longer matches ${t.source.schema}.${t.source.name}: ${problems.join('; ')}`, {
      hint: 'the source table changed in a way ferry does not replicate; alter the target table to match, or re-snapshot (snapshot.mode: always, snapshot.tablePrep: drop-and-create)',
    });
  }
}

/** COPY text for the rows, in pieces of COPY_ROWS_PER_WRITE rows. Hot path: no per-cell allocation beyond the text. */
function* copyLines(table: TableSchema, rows: readonly Row[]): Generator<string> {
  const columns = table.columns;
  let text = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    for (let j = 0; j < columns.length; j++) {
      const c = columns[j]!;
      if (j > 0) text += '\t';
      text += copyField(toPg(c.type, row[c.name] ?? null, table.target, c.name));
    }
    text += '\n';
    if ((i + 1) % COPY_ROWS_PER_WRITE === 0) {
      yield text;
      text = '';
    }
  }
  if (text) yield text;
}

class PostgresTransaction implements SinkTransaction {
  readonly #client: pg.PoolClient;
  readonly #tables: Map<string, TableSchema>;
  readonly #pipeline: string;
  readonly #owner: string;
  #done = false;

  constructor(client: pg.PoolClient, tables: Map<string, TableSchema>, pipeline: string, owner: string) {
    this.#client = client;
    this.#tables = tables;
    this.#pipeline = pipeline;
    this.#owner = owner;
  }

  #table(id: TableId): TableSchema {
    const t = this.#tables.get(tableKey(id));
    if (!t) throw new FerryError('fatal', `no target mapping for source table ${tableKey(id)}`);
    return t;
  }

  async write(events: readonly ChangeEvent[]): Promise<void> {
    for (const w of coalesce(events, (id) => this.#table(id).primaryKey)) {
      const t = this.#table(w.table);
      try {
        if (w.kind === 'truncate') {
          await this.#client.query(`TRUNCATE ${qualified(t.target)}`);
          continue;
        }
        if (w.deletes.length > 0) {
          const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
          await this.#client.query(deleteSql(t), columnArrays(t, keyCols, w.deletes));
        }
        for (const [set, patches] of groupByColumns(t.columns, w.patches.map((p) => p.set), w.patches)) {
          const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
          await this.#client.query(patchSql(t, set), [...columnArrays(t, keyCols, patches.map((p) => p.match)), ...columnArrays(t, set, patches.map((p) => p.set))]);
        }
        for (const [updated, rows] of groupByColumns(t.columns, w.upserts, w.upserts)) {
          await this.#client.query(upsertSql(t, updated), columnArrays(t, t.columns, rows));
        }
      } catch (err) {
        throw new FerryError(coerceError(err).kind, `target rejected a change to ${qualified(t.target)}: ${(err as Error).message}`, {
          cause: err,
          hint: `the checkpoint did not move past this change; ${(err instanceof FerryError && err.hint) || 'fix the target table (or exclude the table)'}, then restart`,
        });
      }
    }
  }

  async addColumns(table: TableId, columns: readonly Column[]): Promise<void> {
    const known = this.#table(table);
    const updated: TableSchema = { ...known, columns: [...known.columns, ...columns.filter((c) => !known.columns.some((k) => k.name === c.name))] };
    for (const c of columns) for (const sql of addColumnSql(updated, c)) await this.#client.query(sql);
    this.#tables.set(tableKey(table), updated);
  }

  async commit(checkpoint: Checkpoint): Promise<void> {
    try {
      await writeCheckpoint(this.#client, this.#pipeline, this.#owner, checkpoint);
      await this.#client.query('COMMIT');
    } catch (err) {
      await this.rollback();
      throw coerceError(err, 'target commit');
    }
    this.#release();
  }

  async rollback(): Promise<void> {
    if (this.#done) return;
    await this.#client.query('ROLLBACK').catch(() => {});
    this.#release(true);
  }

  #release(destroy = false): void {
    if (this.#done) return;
    this.#done = true;
    this.#client.release(destroy);
  }
}
