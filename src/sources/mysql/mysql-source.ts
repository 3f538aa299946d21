import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { tableKey, type TableId, type Transaction } from '../../core/change-event.js';
import { configError, FerryError } from '../../core/errors.js';
import type { Position, StartPosition } from '../../core/position.js';
import type { QueueProducer } from '../../core/queue.js';
import type { TableSchema } from '../../core/schema.js';
import type { CheckProblem } from '../../core/check-problem.js';
import type { SnapshotSession } from '../../core/snapshot-reader.js';
import type { Source } from '../../core/source.js';
import type { NextKeyValues } from '../../core/source-catalogue.js';
import type { VerifySide } from '../../core/verify-side.js';
import { headPosition, serverFlavor, type Flavor } from '../../engines/mysql/binlog-position.js';
import { rowEventsAfter } from './binlog-audit.js';
import { binlogStartPosition } from './binlog-start.js';
import { streamBinlog } from './binlog-source.js';
import { checkMysqlSource } from './mysql-check.js';
import { autoIncrementColumn, connect, queryText, serverIdentity } from '../../engines/mysql/connection.js';
import { quoteIdent } from '../../engines/mysql/quoting.js';
import { fenceServer, serverReadOnly, unfenceServer } from './mysql-fence.js';
import { ensureHeartbeatTable, serverClock, writeHeartbeat } from './mysql-heartbeat.js';
import { describeTables, type DescribeOptions } from './mysql-schema.js';
import { openRowReader, openSnapshotReader } from './mysql-snapshot.js';
import type { RowReader } from '../../core/row-reader.js';

export interface MysqlSourceOptions extends Omit<DescribeOptions, 'flavor'> {
  readonly url: string;
  /** The pipeline's name: its row in ferry's heartbeat table. */
  readonly pipeline: string;
  readonly serverId: number;
  readonly pieceMaxEvents: number;
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
}

/** MySQL 5.7/8 and MariaDB 10.5+: snapshot through consistent-snapshot readers, changes through the binlog. */
export class MysqlSource implements Source {
  readonly #o: DescribeOptions & MysqlSourceOptions;
  readonly #conn: Connection;
  readonly #flavor: Flavor;
  #heartbeatTable: Promise<void> | null = null;
  /** The fence being put up (or up): its connection, and whether unfence() asked it to stop. */
  #fencing: { connection: number; cancelled: boolean } | null = null;

  private constructor(options: MysqlSourceOptions, conn: Connection, flavor: Flavor) {
    this.#o = { ...options, flavor };
    this.#conn = conn;
    this.#flavor = flavor;
  }

  static async open(options: MysqlSourceOptions): Promise<MysqlSource> {
    const conn = await connect(options.url);
    return new MysqlSource(options, conn, await serverFlavor(conn));
  }

  async check(): Promise<CheckProblem[]> {
    const { tables, failed } = await describeTables(this.#conn, this.#o);
    return checkMysqlSource(this.#conn, this.#flavor, tables, failed);
  }

  /** The selected tables; one ferry cannot describe (a column type it cannot map) stops it here, as in check. */
  async describeTables(): Promise<TableSchema[]> {
    const { tables, failed } = await describeTables(this.#conn, this.#o);
    if (failed.length > 0) {
      throw new FerryError('fatal', failed.map((f) => `table ${tableKey(f.table)}: ${f.error.message}`).join('; '), {
        hint: 'exclude the table with tables.exclude, or change the column type',
      });
    }
    return tables;
  }

  async estimateRows(table: TableSchema): Promise<number> {
    const [rows] = await this.#conn.query<RowDataPacket[]>('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
      table.source.schema,
      table.source.name,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  async countRows(table: TableSchema): Promise<number> {
    const [rows] = await this.#conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quoteIdent(table.source.schema)}.${quoteIdent(table.source.name)}`);
    return Number(rows[0]?.n ?? 0);
  }

  /** A connection of verify's own, in UTC; each statement reads the latest committed rows. */
  async verifySide(): Promise<VerifySide> {
    const conn = await connect(this.#o.url);
    return {
      engine: 'mysql',
      tableId: (t) => t.source,
      query: (sql, params) => queryText(conn, sql, params),
      close: () => conn.end().catch(() => {}),
    };
  }

  /** Each reader takes its own consistent snapshot with its exact binlog position; the binlog needs no preparing. */
  async openSnapshot(): Promise<SnapshotSession> {
    return { openReader: () => openSnapshotReader(this.#o.url, this.#flavor), close: async () => {} };
  }

  openRowReader(): Promise<RowReader> {
    return openRowReader(this.#o.url);
  }

  headPosition(): Promise<Position> {
    return headPosition(this.#conn, this.#flavor);
  }

  serverIdentity(): Promise<string> {
    return serverIdentity(this.#conn);
  }

  streamStartNow(): Promise<Position> {
    return this.headPosition();
  }

  streamStartAt(start: StartPosition): Promise<Position> {
    if ('lsn' in start)
      throw configError('source.startPosition: { lsn } is a Postgres position, and the source is MySQL/MariaDB', 'give { file, pos }, { gtid } or { gtidSet }');
    return binlogStartPosition(this.#conn, this.#o.url, this.#flavor, start);
  }

  async beat(marker?: string): Promise<void> {
    await this.#ensureHeartbeatTable();
    await writeHeartbeat(this.#conn, this.#o.pipeline, marker);
  }

  clock(): Promise<Date> {
    return serverClock(this.#conn);
  }

  async fence(marker: string, timeoutSeconds: number): Promise<void> {
    await this.#ensureHeartbeatTable();
    const fencing = { connection: this.#conn.threadId, cancelled: false };
    this.#fencing = fencing;
    await fenceServer(this.#conn, this.#flavor, this.#o.pipeline, marker, timeoutSeconds, () => fencing.cancelled);
    this.#o.log.info('source fenced: read_only is ON');
  }

  changesAfter(from: Position, tables: readonly TableSchema[]): Promise<number> {
    if (from.kind !== 'mysql') throw new FerryError('fatal', `a MySQL source cannot read after a ${from.kind} position`);
    return rowEventsAfter(this.#conn, from, new Set(tables.map((t) => tableKey(t.source))));
  }

  async nextKeyValues(tables: readonly TableSchema[]): Promise<NextKeyValues> {
    const next = new Map<string, Map<string, bigint>>();
    for (const t of tables) {
      const col = await autoIncrementColumn(this.#conn, t.source);
      if (col?.next != null) next.set(tableKey(t.source), new Map([[col.name, col.next]]));
    }
    return next;
  }

  /** On a connection of its own: the fence's may still wait for its lock, and is told to stop first. */
  async unfence(): Promise<boolean> {
    const fencing = this.#fencing;
    if (fencing) fencing.cancelled = true;
    const conn = await connect(this.#o.url);
    try {
      if (fencing) await conn.query(`KILL QUERY ${fencing.connection}`).catch(() => {});
      return await unfenceServer(conn);
    } finally {
      conn.destroy();
    }
  }

  /** On a connection of its own, as unfence(): the fence's may still be busy. */
  async fenced(): Promise<boolean> {
    const conn = await connect(this.#o.url);
    try {
      const { readOnly, superReadOnly } = await serverReadOnly(conn);
      return readOnly || superReadOnly;
    } finally {
      conn.destroy();
    }
  }

  #ensureHeartbeatTable(): Promise<void> {
    this.#heartbeatTable ??= ensureHeartbeatTable(this.#conn).catch((err) => {
      this.#heartbeatTable = null;
      throw err;
    });
    return this.#heartbeatTable;
  }

  stream(from: Position, tables: readonly TableSchema[], into: QueueProducer<Transaction>, signal: AbortSignal): void {
    streamBinlog(
      {
        url: this.#o.url,
        serverId: this.#o.serverId,
        pipeline: this.#o.pipeline,
        from,
        tables,
        filter: this.#o.filter,
        describeTable: (t: TableId) => this.#describeOne(t),
        pieceMaxEvents: this.#o.pieceMaxEvents,
        stallAfterMs: this.#o.stallTimeoutSeconds * 1000,
        log: this.#o.log,
      },
      into,
      signal,
    );
  }

  async #describeOne(t: TableId): Promise<TableSchema | null> {
    // A separate connection: the stream may run while the main one is busy.
    const conn = await connect(this.#o.url);
    try {
      const { tables, failed } = await describeTables(conn, this.#o, t);
      if (failed[0]) throw failed[0].error;
      return tables[0] ?? null;
    } finally {
      await conn.end();
    }
  }

  /** Dropped, not ended: a heartbeat may still wait on a server gone silent, and end() would wait behind it. */
  async close(): Promise<void> {
    this.#conn.destroy();
  }
}
