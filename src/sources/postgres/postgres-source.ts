import type pg from 'pg';
import type { Logger } from 'pino';
import { tableKey, type TableId, type Transaction } from '../../core/change-event.js';
import type { Position, StartPosition } from '../../core/position.js';
import type { QueueProducer } from '../../core/queue.js';
import type { PartitionedTable, TableSchema } from '../../core/schema.js';
import type { CheckProblem } from '../../core/check-problem.js';
import type { SnapshotPurpose, SnapshotSession } from '../../core/snapshot-reader.js';
import type { Source } from '../../core/source.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import type { VerifySide } from '../../core/verify-side.js';
import { configError, FerryError } from '../../core/errors.js';
import { OWNED_SEQUENCES_SQL } from '../../engines/postgres/sequences.js';
import { qualified } from '../../engines/postgres/quoting.js';
import { parseLsn } from '../../engines/postgres/lsn.js';
import { checkPgSource } from './pg-check.js';
import { connectSource, endClient, queryText, serverIdentity } from '../../engines/postgres/connection.js';
import { databaseFenced, fenceDatabase, unfenceDatabase } from './pg-fence.js';
import { serverClock, writeMessage } from './pg-heartbeat.js';
import { describePgTables, type PgDescribeOptions, type PgTable } from './pg-schema.js';
import { openPgReader, openPgRowReader } from './pg-snapshot.js';
import type { RowReader } from '../../core/row-reader.js';
import {
  ensurePublication,
  ensureSlot,
  recreateSlotWithSnapshot,
  slotChangesAfter,
  slotMissing,
  slotStartAt,
  slotState,
  verifyPublication,
} from './pg-slot.js';
import { watchSlotCreation } from './pg-slot-wait.js';
import { queriesInTurn } from './queries-in-turn.js';
import { streamTables } from './stream-tables.js';
import { WalStream } from './wal-source.js';

export interface PostgresSourceOptions extends PgDescribeOptions {
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  readonly pieceMaxEvents: number;
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
  /** What the pipeline's target makes of a partitioned table (`ferry check` says it). */
  readonly partitionedTable?: PartitionedTable | undefined;
  /**
   * A refresh pipeline's: a fresh snapshot's slot is TEMPORARY, gone with the snapshot's replication
   * connection (the snapshot ended, failed, or ferry was killed), so nothing pins WAL between ticks.
   */
  readonly temporarySlot?: boolean | undefined;
}

/** Postgres 14+: snapshot through readers of the slot's exported snapshot, changes through pgoutput. */
export class PostgresSource implements Source {
  readonly #o: PostgresSourceOptions;
  readonly #client: pg.Client;
  #stream: WalStream | null = null;
  /** The fence being put up (or up): its backend, since when (the source's clock), whether unfence() asked it to stop, and has lifted it. */
  #fencing: { pid: number; since: Date; cancelled: boolean; lifted?: boolean } | null = null;

  private constructor(options: PostgresSourceOptions, client: pg.Client) {
    this.#o = options;
    this.#client = client;
  }

  static async open(options: PostgresSourceOptions): Promise<PostgresSource> {
    return new PostgresSource(options, queriesInTurn(await connectSource(options.url)));
  }

  async check(): Promise<CheckProblem[]> {
    return checkPgSource(this.#client, await describePgTables(this.#client, this.#o), this.#o);
  }

  async #describe(): Promise<PgTable[]> {
    return describePgTables(this.#client, this.#o);
  }

  async describeTables(): Promise<TableSchema[]> {
    return (await this.#describe()).map((t) => t.schema);
  }

  async estimateRows(table: TableSchema): Promise<number> {
    // A partitioned table holds no rows itself: its leaf partitions do.
    const { rows } = await this.#client.query(
      `SELECT coalesce((SELECT sum(greatest(c.reltuples, 0)) FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf),
                       (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass))::bigint AS n`,
      [qualified(table.source)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async countRows(table: TableSchema): Promise<number> {
    const { rows } = await this.#client.query(`SELECT count(*) AS n FROM ${qualified(table.source)}`);
    return Number(rows[0]?.n ?? 0);
  }

  /** A connection of verify's own, with the source session settings (UTC, ISO dates); statements read the latest committed rows. */
  async verifySide(): Promise<VerifySide> {
    const client = await connectSource(this.#o.url);
    return {
      engine: 'postgres',
      tableId: (t) => t.source,
      query: (sql, params) => queryText(client, sql, params),
      close: () => endClient(client),
    };
  }

  /**
   * 'fresh' (re)creates the slot with an exported snapshot that every reader imports: the copy is the
   * state exactly at the slot's start. 'resume' reads the present and streams from the slot's start,
   * whose replay converges (DESIGN §3.5). The publication exists before the slot, as pgoutput needs.
   */
  async openSnapshot(purpose: SnapshotPurpose): Promise<SnapshotSession> {
    const url = this.#o.url;
    await ensurePublication(this.#client, this.#o.publication, await this.#describe());
    if (purpose === 'fresh') {
      const { slot, log, temporarySlot } = this.#o;
      const exported = await recreateSlotWithSnapshot(url, slot, () => watchSlotCreation(this.#client, slot, log), temporarySlot ?? false);
      const position: Position = { kind: 'pg', lsn: exported.position };
      return { openReader: () => openPgReader(url, position, exported.snapshotName), close: () => exported.close() };
    }
    const slot = await slotState(this.#client, this.#o.slot);
    if (!slot) throw slotMissing(this.#o.slot);
    const position: Position = { kind: 'pg', lsn: slot.confirmedFlush };
    return { openReader: () => openPgReader(url, position, null), close: async () => {} };
  }

  openRowReader(): Promise<RowReader> {
    return openPgRowReader(this.#o.url);
  }

  async headPosition(): Promise<Position> {
    const { rows } = await this.#client.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return { kind: 'pg', lsn: parseLsn(rows[0].lsn) };
  }

  serverIdentity(): Promise<string> {
    return serverIdentity(this.#client);
  }

  async streamStartNow(): Promise<Position> {
    await ensurePublication(this.#client, this.#o.publication, await this.#describe());
    return { kind: 'pg', lsn: await ensureSlot(this.#client, this.#o.slot) };
  }

  async streamStartAt(start: StartPosition): Promise<Position> {
    if (!('lsn' in start))
      throw configError('source.startPosition: a Postgres source starts from { lsn: "0/1A2B3C" }', 'give the LSN of the slot the backup was taken with');
    await ensurePublication(this.#client, this.#o.publication, await this.#describe());
    return { kind: 'pg', lsn: await slotStartAt(this.#client, this.#o.slot, parseLsn(start.lsn)) };
  }

  async retainedBytes(): Promise<number | null> {
    return (await slotState(this.#client, this.#o.slot))?.retainedBytes ?? null;
  }

  beat(marker?: string): Promise<void> {
    return writeMessage(this.#client, marker);
  }

  clock(): Promise<Date> {
    return serverClock(this.#client);
  }

  async fence(marker: string, timeoutSeconds: number): Promise<void> {
    const fencing = { pid: (this.#client as unknown as { processID: number }).processID, since: await serverClock(this.#client), cancelled: false };
    this.#fencing = fencing;
    const ended = await fenceDatabase(this.#client, timeoutSeconds, () => fencing.cancelled);
    this.#o.log.info({ sessionsEnded: ended }, `source fenced: new sessions are read-only, ${ended} open session(s) ended`);
    await writeMessage(this.#client, marker);
  }

  changesAfter(from: Position): Promise<number> {
    if (from.kind !== 'pg') throw new FerryError('fatal', `a Postgres source cannot read after a ${from.kind} position`);
    return slotChangesAfter(this.#client, this.#o.slot, this.#o.publication, from.lsn);
  }

  async nextKeyValues(tables: readonly TableSchema[]): Promise<NextKeyValues> {
    const next = new Map<string, Map<string, bigint>>();
    for (const t of tables) {
      const { rows } = await this.#client.query(OWNED_SEQUENCES_SQL, [qualified(t.source)]).catch((err: Error) => {
        this.#o.log.warn(
          { table: tableKey(t.source), err: err.message },
          "cannot read the source's sequence; the target's moves past its own largest key only (GRANT SELECT ON ALL SEQUENCES IN SCHEMA … TO the source user)",
        );
        return { rows: [] as { name: string; last: string | null }[] };
      });
      const values = new Map(rows.filter((r) => r.last !== null).map((r) => [r.name as string, BigInt(r.last as string) + 1n]));
      if (values.size > 0) next.set(tableKey(t.source), values);
    }
    return next;
  }

  /** On a connection of its own: the fence's may still wait for a lock, and is cancelled first. */
  async unfence(): Promise<boolean> {
    const fencing = this.#fencing;
    if (fencing) fencing.cancelled = true;
    const client = await connectSource(this.#o.url);
    try {
      if (fencing) await client.query('SELECT pg_cancel_backend($1)', [fencing.pid]);
      const lifted = await unfenceDatabase(client, fencing?.since ?? null, fencing?.lifted ?? false);
      if (fencing && lifted) fencing.lifted = true;
      return lifted;
    } finally {
      await endClient(client);
    }
  }

  /** On a connection of its own, as unfence(): the fence's may still be busy. */
  async fenced(): Promise<boolean> {
    const client = await connectSource(this.#o.url);
    try {
      return await databaseFenced(client);
    } finally {
      await endClient(client);
    }
  }

  stream(from: Position, tables: readonly TableSchema[], into: QueueProducer<Transaction>, signal: AbortSignal): void {
    const start = async (): Promise<void> => {
      const selected = streamTables(tables, await this.#describe());
      await verifyPublication(this.#client, this.#o.publication, selected);
      const stream = new WalStream(
        {
          url: this.#o.url,
          slot: this.#o.slot,
          publication: this.#o.publication,
          from,
          tables: selected,
          describeTable: (t) => this.#describeOne(t),
          pieceMaxEvents: this.#o.pieceMaxEvents,
          stallAfterMs: this.#o.stallTimeoutSeconds * 1000,
          log: this.#o.log,
        },
        into,
      );
      this.#stream = stream;
      stream.start(signal);
    };
    // Reading the catalogue and checking the publication come first: their failures reach the consumer as the stream's own do.
    start().catch((err: unknown) => into.fail(err));
  }

  async #describeOne(t: TableId): Promise<PgTable | null> {
    // Its own connection: the stream may describe while the main connection is busy.
    const client = await connectSource(this.#o.url);
    try {
      return (await describePgTables(client, this.#o, t))[0] ?? null;
    } finally {
      await client.end().catch(() => {});
    }
  }

  async acknowledge(upTo: Position): Promise<void> {
    if (upTo.kind !== 'pg') throw new FerryError('fatal', `a Postgres source cannot acknowledge a ${upTo.kind} position`);
    await this.#stream?.acknowledge(upTo.lsn);
  }

  async close(): Promise<void> {
    await this.#stream?.stop();
    await endClient(this.#client);
  }
}
