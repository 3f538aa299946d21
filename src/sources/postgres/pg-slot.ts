import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { tableKey } from '../../core/change-event.js';
import { formatLsn } from '../../core/position.js';
import { FerryError } from '../../core/errors.js';
import { qualified, quoteIdent } from '../../engines/postgres/quoting.js';
import { parseLsn } from '../../engines/postgres/lsn.js';
import { sourceClientConfig, sourceConnectError } from '../../engines/postgres/connection.js';
import { writeMessage } from './pg-heartbeat.js';
import type { PgTable } from './pg-schema.js';

/**
 * The publication ferry streams: created for the selected tables when missing, extended when a
 * selected table is missing from it. It must exist before the slot: pgoutput reads publications as
 * of each change's position in the WAL. It publishes through partition roots, so a partitioned
 * table's changes arrive as its own (an existing publication is switched when one is selected; any
 * change published the old way before that stops the stream: pg-partitions.ts).
 */
export async function ensurePublication(client: pg.ClientBase, name: string, tables: readonly PgTable[]): Promise<void> {
  const list = (ts: readonly PgTable[]) => ts.map((t) => qualified(t.schema.source)).join(', ');
  const {
    rows: [pub],
  } = await client.query('SELECT puballtables, pubviaroot FROM pg_publication WHERE pubname = $1', [name]);
  try {
    if (!pub) {
      await client.query(
        `CREATE PUBLICATION ${quoteIdent(name)}${tables.length > 0 ? ` FOR TABLE ${list(tables)}` : ''} WITH (publish_via_partition_root = true)`,
      );
      return;
    }
    if (!pub.pubviaroot && tables.some((t) => t.schema.partitioning))
      await client.query(`ALTER PUBLICATION ${quoteIdent(name)} SET (publish_via_partition_root = true)`);
    if (pub.puballtables) return;
    const { rows } = await client.query('SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1', [name]);
    const published = new Set(rows.map((r) => `${r.schema}.${r.name}`));
    const missing = tables.filter((t) => !published.has(tableKey(t.schema.source)));
    if (missing.length > 0) await client.query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${list(missing)}`);
  } catch (err) {
    throw new FerryError('config', `cannot create or extend publication ${name}: ${(err as Error).message}`, {
      cause: err,
      hint: `as the tables' owner: CREATE PUBLICATION ${name} FOR TABLE ${list(tables)}; (or ALTER PUBLICATION ${name} ADD TABLE …)`,
    });
  }
}

/**
 * Before streaming: every replicated table is still published, whole. A table missing from the
 * publication was dropped and created again (or removed from it) while ferry was away: its changes
 * never reached the slot. A row filter or column list would hide changes too.
 */
export async function verifyPublication(client: pg.ClientBase, name: string, tables: readonly PgTable[]): Promise<void> {
  const { rows } = await client.query(
    `SELECT schemaname, tablename, ${(await hasColumnLists(client)) ? 'attnames::text[] AS attnames, rowfilter' : 'NULL::text[] AS attnames, NULL AS rowfilter'}
       FROM pg_publication_tables WHERE pubname = $1`,
    [name],
  );
  const published = new Map(rows.map((r) => [`${r.schemaname}.${r.tablename}`, r as { rowfilter?: string | null; attnames?: string[] | null }]));
  const {
    rows: [pub],
  } = await client.query('SELECT pubviaroot FROM pg_publication WHERE pubname = $1', [name]);
  const viaLeaves = pub && !pub.pubviaroot;
  const problems: string[] = [];
  for (const t of tables) {
    const key = tableKey(t.schema.source);
    const p = published.get(key);
    if (t.schema.partitioning && viaLeaves)
      problems.push(
        `publication ${name} publishes the partitions of ${key} as tables of their own (publish_via_partition_root is off): their changes would not arrive as changes of ${key}`,
      );
    else if (!p)
      problems.push(
        `${key} is not in publication ${name} (dropped and created again, or removed from the publication): its changes since then never reached the slot`,
      );
    else if (p.rowfilter) problems.push(`publication ${name} filters the rows of ${key} (WHERE ${p.rowfilter})`);
    else if (p.attnames && t.schema.columns.some((c) => !p.attnames!.includes(c.name))) problems.push(`publication ${name} leaves columns of ${key} out`);
  }
  if (problems.length > 0) {
    throw new FerryError('fatal', problems.join('; '), {
      hint: `publish the whole tables (ALTER PUBLICATION ${name} SET TABLE …${viaLeaves ? `; ALTER PUBLICATION ${name} SET (publish_via_partition_root = true)` : ''}) and take a new snapshot (snapshot.mode: always), or exclude the tables`,
    });
  }
}

/** Postgres 15+ publications may publish column lists and row filters. */
async function hasColumnLists(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query("SELECT current_setting('server_version_num')::int >= 150000 AS yes");
  return rows[0].yes;
}

export interface SlotState {
  readonly confirmedFlush: bigint;
  readonly active: boolean;
  readonly retainedBytes: number;
}

export async function slotState(client: pg.ClientBase, slot: string): Promise<SlotState | null> {
  const {
    rows: [r],
  } = await client.query(
    `SELECT confirmed_flush_lsn::text AS confirmed, active, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), restart_lsn)::bigint AS retained
       FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [slot],
  );
  if (!r) return null;
  return { confirmedFlush: parseLsn(r.confirmed), active: r.active, retainedBytes: Number(r.retained) };
}

/** The slot is gone: what it retained is lost to ferry, and only a new snapshot can be exact again. */
export function slotMissing(slot: string): FerryError {
  return new FerryError(
    'fatal',
    `replication slot ${slot} does not exist (dropped, or invalidated by max_slot_wal_keep_size); the changes it kept are gone, so streaming cannot resume without losing data`,
    {
      hint: 'take a new snapshot: set snapshot.mode: always with snapshot.tablePrep: truncate (or drop-and-create), run ferry once, then set snapshot.mode back to initial',
    },
  );
}

/** Creates the slot for a cdc-only start, when it does not exist; returns where streaming starts. */
export async function ensureSlot(client: pg.ClientBase, slot: string): Promise<bigint> {
  const existing = await slotState(client, slot);
  if (existing) return existing.confirmedFlush;
  const {
    rows: [r],
  } = await client.query("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
  return parseLsn(r.lsn);
}

/**
 * Prepares the slot for a cdc-only start at the operator's `lsn` (source.startPosition) and returns it.
 * A slot cannot go back: an LSN before its confirmed position (or, for a slot created here, before its
 * consistent point) names changes it has released or never kept, so it is refused, naming the oldest
 * LSN it can stream from. A slot created only to be refused is dropped again: it would hold WAL for nothing.
 */
export async function slotStartAt(client: pg.ClientBase, slot: string, lsn: bigint): Promise<bigint> {
  const existing = await slotState(client, slot);
  const oldest = existing?.confirmedFlush ?? (await ensureSlot(client, slot));
  if (lsn >= oldest) return lsn;
  if (!existing) await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
  throw new FerryError(
    'fatal',
    `the source cannot stream from source.startPosition LSN ${formatLsn(lsn)}: replication slot ${slot} ${existing ? 'has confirmed' : 'was created at its consistent point'} ${formatLsn(oldest)}, the oldest LSN it can stream from`,
    {
      hint: existing
        ? "restore a backup taken at or after that LSN (pg_dump with the slot's exported snapshot), or take a snapshot instead (snapshot.mode: initial)"
        : 'create the slot before taking the backup (CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT, then pg_dump --snapshot), and start from its LSN; or take a snapshot instead (snapshot.mode: initial)',
    },
  );
}

/**
 * A slot created with an exported snapshot: readers that import `snapshotName` see the database exactly
 * as of `position`, where streaming starts. The snapshot lives while the replication connection stays
 * open and idle, so it is held until close().
 */
export interface ExportedSnapshot {
  readonly position: bigint;
  readonly snapshotName: string;
  close(): Promise<void>;
}

/**
 * `whileCreating` runs while CREATE_REPLICATION_SLOT waits for open transactions; it returns its stop.
 * A `temporary` slot (a refresh's, which never streams) is dropped by the server when the replication
 * connection ends: at close(), on a failure, or when ferry is killed. A permanent one of that name (an
 * older ferry's) is dropped first, as for any fresh snapshot.
 */
export async function recreateSlotWithSnapshot(
  url: string,
  slot: string,
  whileCreating: () => () => void = () => () => {},
  temporary = false,
): Promise<ExportedSnapshot> {
  const repl = new pg.Client({ ...sourceClientConfig(url), replication: 'database' } as pg.ClientConfig);
  repl.on('error', () => {});
  try {
    await repl.connect();
  } catch (err) {
    throw sourceConnectError(err, url);
  }
  try {
    const existing = await repl
      .query(`SELECT active_pid, database, current_database() AS ours FROM pg_replication_slots WHERE slot_name = ${pgString(slot)}`)
      .catch(() => null);
    if (existing?.rows[0] && existing.rows[0].database !== existing.rows[0].ours) {
      throw new FerryError('config', `replication slot ${slot} belongs to database ${existing.rows[0].database}, not to this pipeline's database`, {
        hint: 'slot names are unique in the whole Postgres server: set source.slot to a name of its own',
      });
    }
    if (existing?.rows[0]) {
      if (existing.rows[0].active_pid !== null) {
        throw new FerryError('fatal', `replication slot ${slot} is in use by process ${existing.rows[0].active_pid}; a fresh snapshot needs it`, {
          hint: 'stop the other ferry (or replication client) using the slot, or set source.slot to another name',
        });
      }
      await repl.query(`DROP_REPLICATION_SLOT ${quoteIdent(slot)}`);
    }
    // The pre-15 spelling of (SNAPSHOT 'export'), which Postgres 14 needs and later versions still take.
    const stopWatching = whileCreating();
    const {
      rows: [r],
    } = await repl.query(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)}${temporary ? ' TEMPORARY' : ''} LOGICAL pgoutput EXPORT_SNAPSHOT`).finally(stopWatching);
    return { position: parseLsn(r.consistent_point), snapshotName: r.snapshot_name, close: () => repl.end().catch(() => {}) };
  } catch (err) {
    await repl.end().catch(() => {});
    throw err instanceof FerryError
      ? err
      : new FerryError('fatal', `cannot create replication slot ${slot}: ${(err as Error).message}`, {
          cause: err,
          hint: 'the source role needs the REPLICATION attribute and a free slot (max_replication_slots); `ferry check` lists what is missing',
        });
  }
}

function pgString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * Changes to published tables the slot holds after `from` (its messages Insert, Update, Delete,
 * Truncate), read with a peek that consumes nothing: the cutover's last check, once the stream has
 * stopped, that nothing replicated was written after the position ferry stopped at. The stream's
 * walsender may hold the slot for a moment after it stopped: the peek waits for it.
 */
export async function slotChangesAfter(client: pg.ClientBase, slot: string, publication: string, from: bigint): Promise<number> {
  // Decoding reads only flushed WAL: a commit of our own that waits for its flush takes every earlier record with it.
  await client.query('BEGIN; SET LOCAL synchronous_commit = on');
  await writeMessage(client, undefined);
  await client.query('COMMIT');
  for (let attempt = 0; ; attempt++) {
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)
          WHERE lsn >= $3::pg_lsn AND get_byte(data, 0) IN (73, 85, 68, 84)`, // I, U, D, T
        [slot, publication, formatLsn(from)],
      );
      return rows[0].n as number;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 50) throw err; // object in use: the walsender still holds it
      await sleep(200);
    }
  }
}
