import { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { groupByColumns, isFullRow, type Write } from '../../core/coalesce.js';
import { tableKey, type ChangeEvent, type Row, type TableId, type Value } from '../../core/change-event.js';
import type { Checkpoint, SnapshotProgress } from '../../core/checkpoint.js';
import type { Column, Partitioning, TableSchema } from '../../core/schema.js';
import type { CheckProblem } from '../../core/check-problem.js';
import type { ChunkText } from '../../core/snapshot-reader.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import type { VerifySide } from '../../core/verify-side.js';
import {
  CONNECT_TIMEOUT_MS,
  connectClient,
  describeEndpoint,
  KEEPALIVE,
  pgConnectionConfig,
  queryText,
  SERVER_KEEPALIVE_OPTIONS,
  watchPgClient,
} from '../../engines/postgres/connection.js';
import { coerceError, FerryError } from '../../core/errors.js';
import { forEachConcurrently } from '../../core/concurrency.js';
import { idleInTransactionMs } from '../../core/connection-watchdog.js';
import type { CheckpointStore, CheckpointTables, PipelineLock } from '../../core/checkpoint-store.js';
import { DDL_LOCK_SQL } from '../../engines/postgres/ddl-lock.js';
import { SqlSink, SqlTransaction } from '../sql-sink.js';
import { columnDrift, settleDrift } from '../column-drift.js';
import { noEqualRow } from '../row-writes.js';
import { missingRow } from '../target-divergence.js';
import { uniqueViolationOf, writtenRows } from './postgres-unique.js';
import { postgresReferencingRows } from './postgres-referential.js';
import type { ReferencingRows } from '../referential-actions.js';
import { findViolations, finalizeConstraints } from './postgres-constraints.js';
import { violationError } from '../../core/schema-fidelity.js';
import { tabSeparated, valueAt } from '../tab-separated.js';
import { createPartitionedTableSql } from './postgres-dialect.js';
import { postgresHolds } from './postgres-widening.js';
import {
  addColumnSql,
  columnArrays,
  columnType,
  copyEncoder,
  copySql,
  copyStageSql,
  createStageSql,
  upsertFromStageSql,
  createEnumSql,
  createIndexSql,
  createTableSql,
  deleteMissesSql,
  deleteRowSql,
  deleteSql,
  enumTypes,
  insertRowSql,
  patchMissesSql,
  patchSql,
  primaryKeySql,
  readRowsSql,
  resetIdentitySql,
  rowParams,
  updateRowSql,
  upsertSql,
} from './postgres-dialect.js';
import { OWNED_SEQUENCES_SQL } from '../../engines/postgres/sequences.js';
import { qualified, quoteIdent } from '../../engines/postgres/quoting.js';

export interface PostgresSinkOptions {
  readonly url: string;
  /** ferry's checkpoint tables on a Postgres target (src/checkpoint/, handed in by src/engines/registry.ts). */
  readonly checkpoint: CheckpointTables<pg.ClientBase, pg.Pool>;
  readonly pipeline: string;
  readonly connections: number;
  /** A statement unanswered this long on a connection the server no longer serves ends it (core/connection-watchdog.ts). */
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
  /** Read-only commands (status, verify): create nothing in the target, not even ferry's own tables (DESIGN §1.1). */
  readonly readOnly?: boolean;
}

export class PostgresSink extends SqlSink<pg.PoolClient> {
  readonly #pool: pg.Pool;
  readonly #connections: number;
  readonly #log: Logger;
  protected readonly lock: PipelineLock;
  protected readonly store: CheckpointStore<pg.PoolClient>;

  private constructor(options: PostgresSinkOptions, pool: pg.Pool) {
    super();
    this.#pool = pool;
    this.#connections = options.connections;
    this.#log = options.log;
    this.lock = options.checkpoint.lock(options.url, options.pipeline);
    this.store = options.checkpoint.store(pool, options.pipeline, this.lock.owner);
  }

  static async open(options: PostgresSinkOptions): Promise<PostgresSink> {
    let probe: pg.Client | undefined;
    try {
      probe = await connectClient(options.url);
      if (!options.readOnly) await options.checkpoint.ensure(probe);
    } catch (err) {
      if (err instanceof FerryError && err.kind === 'config') throw err;
      throw new FerryError('retriable', `cannot prepare the target: ${(err as Error).message}`, {
        cause: err,
        hint: 'check target.url (host, port, user, password, database), that Postgres is running, and that the user may create schemas',
      });
    } finally {
      await probe?.end().catch(() => {});
    }
    // UTC, so timestamptz text compares with the source's; and, like a native replica, no trigger or
    // foreign-key enforcement where the role may switch it off: the source already did both.
    const replica = await canSetReplicaRole(options.url);
    if (!replica) options.log.warn('the target user cannot set session_replication_role=replica; target triggers and foreign keys stay active');
    const stallMs = options.stallTimeoutSeconds * 1000;
    const pool = new pg.Pool({
      ...pgConnectionConfig(options.url, 'target'),
      max: options.connections,
      ...KEEPALIVE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // Text forms as the sources print theirs (verify compares them), whatever the server's defaults.
      // A session of a ferry that vanished mid-transaction is ended by the server after
      // idleInTransactionMs, so its locks do not block the ferry that reconnects.
      options:
        `-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=1 -c bytea_output=hex${replica ? ' -c session_replication_role=replica' : ''}` +
        ` ${SERVER_KEEPALIVE_OPTIONS} -c idle_in_transaction_session_timeout=${idleInTransactionMs(stallMs)}`,
    });
    pool.on('error', (err) => options.log.warn({ err: err.message }, 'idle target connection failed'));
    // A client checked out of the pool reports a dying server as an 'error' event of its own, and an
    // unheard one would end the process. The failure reaches ferry anyway, through the next query.
    pool.on('connect', (client) => {
      client.on('error', (err) => options.log.debug({ err: err.message }, 'target connection failed'));
      watchPgClient(client, options.url, { stallMs, name: `target ${describeEndpoint(options.url)}`, log: options.log });
    });
    return new PostgresSink(options, pool);
  }

  /** Preflight of the target: reachable, may create schemas, may switch off triggers for apply sessions. */
  static async check(url: string): Promise<CheckProblem[]> {
    let client: pg.Client;
    try {
      client = await connectClient(url);
    } catch (err) {
      return [
        {
          check: 'target',
          message: `cannot connect to the target: ${(err as Error).message}`,
          hint: (err as FerryError).hint ?? 'check target.url (host, port, user, password, database) and that Postgres is running',
        },
      ];
    }
    try {
      const { rows } = await client.query(
        `SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS can_create,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
      );
      const problems: CheckProblem[] = [];
      if (!rows[0].can_create) {
        problems.push({
          check: 'target grants',
          message: 'the target user may not create schemas in this database',
          hint: 'GRANT CREATE ON DATABASE <db> TO <user>;',
        });
      }
      if (!rows[0].superuser) {
        problems.push({
          check: 'session_replication_role',
          warning: true,
          message: 'the target user cannot set session_replication_role=replica, so target triggers and foreign keys stay active while applying',
          hint: 'use a superuser for the target, or make sure target tables have no triggers or foreign keys that the source did not have',
        });
      }
      return problems;
    } finally {
      await client.end();
    }
  }

  protected async run(client: pg.ClientBase, sql: string): Promise<void> {
    await client.query(sql);
  }

  protected giveBack(client: pg.PoolClient, destroy: boolean): void {
    client.release(destroy);
  }

  protected createSchemaSql(schema: string): string {
    return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`;
  }

  protected async lockDdl(client: pg.ClientBase): Promise<void> {
    await client.query(DDL_LOCK_SQL);
  }

  protected async tableExists(client: pg.ClientBase, t: TableSchema): Promise<boolean> {
    const { rows } = await client.query('SELECT to_regclass($1) AS oid', [qualified(t.target)]);
    return Boolean(rows[0]?.oid);
  }

  protected async createTable(client: pg.ClientBase, t: TableSchema, replace: boolean, keyLater: boolean): Promise<void> {
    if (replace) await client.query(`DROP TABLE IF EXISTS ${qualified(t.target)} CASCADE`);
    await createEnumTypes(client, t);
    if (t.engine === 'postgres' && t.partitioning) await createPartitionedTable(client, t, t.partitioning);
    else await client.query(createTableSql(t, keyLater));
  }

  protected truncateSql(t: TableSchema): string {
    return `TRUNCATE ${qualified(t.target)}`;
  }

  protected async reconcileColumns(client: pg.ClientBase, t: TableSchema, addMissing: boolean, keyLater: boolean): Promise<void> {
    // With an empty search_path format_type qualifies user types (public.mood), as the source describes them.
    await client.query("SELECT set_config('search_path', '', true)");
    const { rows } = await client.query(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
      [qualified(t.target)],
    );
    await client.query("SELECT set_config('search_path', '\"$user\", public', true)");
    const { rows: key } = await client.query(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary`,
      [qualified(t.target)],
    );
    const drift = columnDrift(
      t,
      new Map(rows.map((r) => [r.name, r.type])),
      key.map((r) => r.name),
      (c) => columnType(t, c),
      postgresHolds,
      keyLater,
    );
    await settleDrift(t, drift, addMissing, async (c) => {
      for (const sql of addColumnSql(t, c)) await client.query(sql);
    });
  }

  protected async loadRows(client: pg.ClientBase, table: TableSchema, rows: readonly (readonly Value[])[]): Promise<void> {
    await copyRows(client, copySql(table), table, rows, valueAt);
  }

  /** Postgres to Postgres, the source's COPY text is already the target's: it is loaded as it comes. */
  loadsSourceText(table: TableSchema): boolean {
    return table.engine === 'postgres' && table.primaryKey.length > 0;
  }

  async loadChunkText(table: TableSchema, chunk: ChunkText, progress: (read: { rows: number; lastKey: Row | null }) => SnapshotProgress): Promise<void> {
    await this.transaction(async (client) => {
      await this.store.assertOwner(client);
      await pipe(chunk.text, client.query(copyFrom(copySql(table))));
      await this.store.writeProgress(client, progress(await chunk.read));
    }).catch((err) => {
      throw coerceError(err, `target snapshot load of ${tableKey(table.target)}`);
    });
  }

  /**
   * The indexes first, several at once, each committing by itself (IF NOT EXISTS: an interrupted finish
   * starts again where it stopped). Then, in one transaction, the primary keys over their unique
   * indexes, the identities past the max key, and the switch to streaming.
   */
  async finishSnapshot(tables: readonly TableSchema[], checkpoint: Checkpoint): Promise<void> {
    try {
      const keyless = new Set<TableSchema>();
      for (const t of tables) if (t.primaryKey.length > 0 && !(await this.#hasPrimaryKey(t))) keyless.add(t);
      const indexes = tables.flatMap((t) => [...(keyless.has(t) ? [primaryKeySql(t).index] : []), ...createIndexSql(t)]);
      await forEachConcurrently(indexes, this.#connections, (sql) => this.#pool.query(sql).then(() => {}));
      await this.transaction(async (client) => {
        for (const t of keyless) await client.query(primaryKeySql(t).constraint);
        for (const t of tables) for (const sql of resetIdentitySql(t)) await client.query(sql);
        await this.recordStreaming(client, tables, checkpoint);
      });
    } catch (err) {
      throw coerceError(err, 'target snapshot completion');
    }
  }

  /**
   * The cutover's constraints, in one transaction: all or none. A violation rolls it back, and the
   * rows that break each constraint are looked up to name them.
   */
  async finalizeSchema(tables: readonly TableSchema[]): Promise<void> {
    try {
      await this.transaction(async (client) => {
        await client.query(DDL_LOCK_SQL);
        await finalizeConstraints(client, tables, this.#log);
      });
    } catch (err) {
      const violations = await findViolations(this.#pool, tables).catch(() => []);
      if (violations.length > 0) throw violationError(violations);
      throw coerceError(err, 'target constraints');
    }
  }

  async createIndexes(tables: readonly TableSchema[]): Promise<void> {
    await forEachConcurrently(tables.flatMap(createIndexSql), this.#connections, (sql) => this.#pool.query(sql).then(() => {})).catch((err) => {
      throw coerceError(err, 'target index creation');
    });
  }

  async #hasPrimaryKey(t: TableSchema): Promise<boolean> {
    const { rows } = await this.#pool.query('SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisprimary', [qualified(t.target)]);
    return rows.length > 0;
  }

  /**
   * Every sequence a target column owns (identity or serial, however the table was made) moves to the
   * greatest of: the column's max, the source's next value less one, and where it already is.
   */
  async advanceSequences(tables: readonly TableSchema[], next: NextKeyValues): Promise<void> {
    await this.transaction(async (client) => {
      for (const t of tables) {
        const { rows } = await client.query(OWNED_SEQUENCES_SQL, [qualified(t.target)]);
        for (const r of rows) {
          const sourceNext = next.get(tableKey(t.source))?.get(r.name as string);
          await client.query(
            `SELECT setval($1, v) FROM (SELECT GREATEST(max(${r.col as string})::bigint, $2::bigint - 1, pg_sequence_last_value($1::regclass)) AS v FROM ${qualified(t.target)}) x WHERE v >= 1`,
            [r.seq, sourceNext === undefined ? null : sourceNext.toString()],
          );
        }
      }
    }).catch((err) => {
      throw coerceError(err, 'target sequences');
    });
  }

  protected checkout(): Promise<pg.PoolClient> {
    return this.#pool.connect();
  }

  protected openTransaction(client: pg.PoolClient): PostgresTransaction {
    return new PostgresTransaction(client, this.tables, this.store, this.overlap);
  }

  async countRows(table: TableSchema): Promise<number> {
    const { rows } = await this.#pool.query(`SELECT count(*) AS n FROM ${qualified(table.target)}`);
    return Number(rows[0].n);
  }

  /** Statements on the pool, whose sessions print values as the source's do (UTC, ISO); tables by their target names. */
  async verifySide(): Promise<VerifySide> {
    return { engine: 'postgres', tableId: (t) => t.target, query: (sql, params) => queryText(this.#pool, sql, params), close: async () => {} };
  }

  async readRows(table: TableSchema, afterKey: Row | null, limit: number): Promise<Row[]> {
    const { rows } = await this.#pool.query({
      text: readRowsSql(table, afterKey !== null, limit),
      values: afterKey ? table.primaryKey.map((c) => afterKey[c] ?? null) : [],
    });
    return rows as Row[];
  }

  protected async closeConnections(): Promise<void> {
    await this.#pool.end().catch(() => {});
  }
}

/** Rows through `COPY … FROM STDIN` (`sql`), encoded as COPY text on the way; `value` reads column `j` of a row. */
async function copyRows<R>(client: pg.ClientBase, sql: string, table: TableSchema, rows: readonly R[], value: (row: R, j: number) => Value): Promise<void> {
  await pipe(
    Readable.from(
      tabSeparated(
        rows,
        value,
        table.columns.map((c) => copyEncoder(table, c)),
      ),
    ),
    client.query(copyFrom(sql)),
  );
}

/** Reads column `j` of `t` from a change's row image. */
function columnOf(t: TableSchema): (row: Row, j: number) => Value {
  const names = t.columns.map((c) => c.name);
  return (row, j) => row[names[j]!] ?? null;
}

/** Upserts of at least this many full rows go through a COPY-filled stage, and inserts through COPY; fewer, through array parameters. */
const STAGE_MIN_ROWS = 500;

const UNIQUE_VIOLATION = '23505';

/** Enum types a Postgres-to-Postgres table uses, created with the source's labels when the target lacks them. */
async function createEnumTypes(client: pg.ClientBase, t: TableSchema): Promise<void> {
  for (const e of enumTypes(t)) {
    const { rows } = await client.query('SELECT to_regtype($1) AS oid', [e.name]);
    if (!rows[0]?.oid) for (const sql of createEnumSql(e.name, e.labels)) await client.query(sql);
  }
}

/**
 * A source's partitioned table, partitioned alike: also the partitions the source added since the
 * target table was made. A plain table made earlier (by the operator, or a ferry that flattened it)
 * stays as it is: it holds all the rows just as well.
 */
async function createPartitionedTable(client: pg.ClientBase, t: TableSchema, p: Partitioning): Promise<void> {
  const [table, ...partitions] = createPartitionedTableSql(t, p);
  await client.query(table!);
  const { rows } = await client.query('SELECT relkind FROM pg_class WHERE oid = to_regclass($1)', [qualified(t.target)]);
  if (rows[0]?.relkind === 'p') for (const sql of partitions) await client.query(sql);
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

class PostgresTransaction extends SqlTransaction<pg.PoolClient> {
  protected async execute(sql: string): Promise<void> {
    await this.conn.query(sql);
  }

  protected async truncate(t: TableSchema): Promise<void> {
    await this.conn.query(`TRUNCATE ${qualified(t.target)}`);
  }

  /**
   * Deletes and patches by key (`checked`: each must find its row; the statement answers which did
   * not), then upserts and inserts, which update on a primary-key conflict only: a collision on any
   * other unique key stops the stream naming the constraint and, where Postgres's detail tells, the row.
   */
  protected async applyRows(t: TableSchema, w: Extract<Write, { kind: 'rows' }>, checked: boolean): Promise<void> {
    const keyCols = t.primaryKey.map((name) => t.columns.find((c) => c.name === name)!);
    const deletes = checked ? w.deletes : [...w.deletes, ...w.transients];
    if (deletes.length > 0) {
      const params = columnArrays(t, keyCols, deletes);
      if (!checked) await this.conn.query(deleteSql(t), params);
      else this.#expectFound(t, 'delete', deletes, await this.conn.query(deleteMissesSql(t), params));
    }
    if (checked && w.transients.length > 0) await this.conn.query(deleteSql(t), columnArrays(t, keyCols, w.transients));
    try {
      await this.#writeRows(t, w, keyCols, checked);
    } catch (err) {
      throw uniqueViolationOf(t, err, writtenRows(t, [...w.inserts, ...w.upserts], w.patches)) ?? err;
    }
  }

  /** A statement of deleteMissesSql/patchMissesSql found no row for some of `keys`: the first of them is named. */
  #expectFound(t: TableSchema, change: 'delete' | 'update', keys: readonly Row[], result: pg.QueryResult): void {
    const { missing, first } = result.rows[0] as { missing: number; first: number | null };
    if (missing > 0) throw missingRow(t, change, first === null ? null : (keys[first - 1] ?? null), missing);
  }

  async #writeRows(t: TableSchema, w: Extract<Write, { kind: 'rows' }>, keyCols: readonly Column[], checked: boolean): Promise<void> {
    for (const [set, patches] of groupByColumns(
      t.columns,
      w.patches.map((p) => p.set),
      w.patches,
    )) {
      const params = [
        ...columnArrays(
          t,
          keyCols,
          patches.map((p) => p.match),
        ),
        ...columnArrays(
          t,
          set,
          patches.map((p) => p.set),
        ),
      ];
      if (!checked) await this.conn.query(patchSql(t, set), params);
      else
        this.#expectFound(
          t,
          'update',
          patches.map((p) => p.match),
          await this.conn.query(patchMissesSql(t, set), params),
        );
    }
    // Upserts before the rows the batch created: a row that gave up a unique value for a new one goes first.
    const copied = w.inserts.length >= STAGE_MIN_ROWS && w.inserts.every((r) => isFullRow(t.columns, r));
    await this.#upsert(t, copied ? w.upserts : [...w.upserts, ...w.inserts]);
    if (copied && !(await this.#insertPlainly(t, w.inserts))) await this.#upsert(t, w.inserts);
  }

  async #upsert(t: TableSchema, upserts: readonly Row[]): Promise<void> {
    for (const [updated, rows] of groupByColumns(t.columns, upserts, upserts)) {
      if (rows.length >= STAGE_MIN_ROWS && updated.length === t.columns.length) {
        await this.conn.query(createStageSql(t));
        await copyRows(this.conn, copyStageSql(t), t, rows, columnOf(t));
        await this.conn.query(upsertFromStageSql(t));
      } else {
        await this.conn.query(upsertSql(t, updated), columnArrays(t, t.columns, rows));
      }
    }
  }

  /**
   * Rows the batch created, COPYed straight into the table as a native replica inserts them (when many
   * and complete: fewer, or older than an ADD COLUMN, are upserted). A key conflict (a target out of
   * step with the source, as in a snapshot's overlap) undoes the COPY, and false tells the caller to upsert them.
   */
  async #insertPlainly(t: TableSchema, rows: readonly Row[]): Promise<boolean> {
    await this.conn.query('SAVEPOINT ferry_insert');
    try {
      await copyRows(this.conn, copySql(t), t, rows, columnOf(t));
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      await this.conn.query('ROLLBACK TO SAVEPOINT ferry_insert');
      return false;
    }
    await this.conn.query('RELEASE SAVEPOINT ferry_insert');
    return true;
  }

  protected async applyExact(t: TableSchema, e: ChangeEvent): Promise<void> {
    if (e.op === 'c' || e.op === 'r') {
      await this.conn.query(insertRowSql(t), rowParams(t, e.after!));
      return;
    }
    const { rowCount } =
      e.op === 'd'
        ? await this.conn.query(deleteRowSql(t), rowParams(t, e.before!))
        : await this.conn.query(updateRowSql(t), [...rowParams(t, e.after!), ...rowParams(t, e.before!)]);
    if (rowCount !== 1) throw noEqualRow(t);
  }

  async addColumns(table: TableId, columns: readonly Column[]): Promise<void> {
    const updated = this.withColumns(table, columns);
    for (const c of columns) for (const sql of addColumnSql(updated, c)) await this.conn.query(sql);
  }

  protected referencingRows(): ReferencingRows {
    return postgresReferencingRows(this.conn);
  }

  protected release(destroy: boolean): void {
    this.conn.release(destroy);
  }
}
