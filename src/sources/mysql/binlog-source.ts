import ZongJi, { type AnyBinlogEvent, type RowsEvent, type RowData } from '@vlasky/zongji';
import type { Logger } from 'pino';
import { pickKey, tableKey, type ChangeEvent, type Row, type TableId, type Transaction } from '../../core/change-event.js';
import type { Position } from '../../core/position.js';
import type { TableSchema } from '../../core/schema.js';
import { coerceError, FerryError } from '../../core/errors.js';
import type { QueueProducer } from '../../core/queue.js';
import { connectionOptions } from '../../engines/mysql/connection.js';
import { changesRowsSilently, diffColumns, parseDdl } from './mysql-ddl.js';
import { missingBinlogError } from './binlog-missing.js';
import { HEARTBEAT_TABLE, heartbeatOf } from './mysql-heartbeat.js';
import { normalizeValue } from '../../engines/mysql/types.js';

export interface BinlogStreamOptions {
  readonly url: string;
  readonly serverId: number;
  /** Whose rows in ferry's heartbeat table this stream reads (markers, and the source clock of each beat). */
  readonly pipeline: string;
  readonly from: Position;
  readonly tables: readonly TableSchema[];
  readonly filter: (t: TableId) => boolean;
  /** The table as the source describes it now (after a DDL statement), or null if it is gone. */
  readonly describeTable: (t: TableId) => Promise<TableSchema | null>;
  /** A transaction larger than this is handed on in pieces, so memory stays bounded. */
  readonly pieceMaxEvents: number;
  /** Silence (not even a heartbeat) after which the connection counts as dead. */
  readonly stallAfterMs: number;
  readonly log: Logger;
}

/** An event as it left zongji, with the resume coordinates read at that instant (they move on). */
interface Received {
  readonly event: AnyBinlogEvent;
  readonly file: string;
  readonly gtid: string | undefined;
}

/** Received-but-unhandled events at which the binlog connection pauses, and below which it resumes. */
const INBOX_HIGH = 1000;
const INBOX_LOW = 100;

/** The server cannot send the binlog from the requested point (purged, or never existed). */
const FATAL_READING_BINLOG = 1236;

/** The savepoint a SAVEPOINT / ROLLBACK TO / RELEASE statement names. */
function savepointName(sql: string): string | undefined {
  const m = /SAVEPOINT\s+(`(?:[^`]|``)+`|\S+)\s*$/i.exec(sql.trim()) ?? /^\s*ROLLBACK\s+(?:WORK\s+)?TO\s+(`(?:[^`]|``)+`|\S+)\s*$/i.exec(sql);
  const name = m?.[1];
  return name?.startsWith('`') ? name.slice(1, -1).replace(/``/g, '`') : name;
}

/** Statements that open, end or mark a transaction; anything else in a Query event is DDL. */
const TRANSACTION_CONTROL =
  /^\s*(BEGIN|COMMIT|ROLLBACK\s+TO|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|XA\s+START|XA\s+BEGIN|XA\s+END|XA\s+PREPARE|XA\s+COMMIT|XA\s+ROLLBACK)\b/i;

/**
 * Committed transactions from the binlog, starting after `from`, into the caller's queue; the binlog
 * connection pauses while the queue is full. One ZongJi instance serves one call: zongji does not
 * reconnect, so a lost connection fails the queue with a retriable error and the caller starts a new
 * stream from its last checkpoint.
 */
export function streamBinlog(options: BinlogStreamOptions, into: QueueProducer<Transaction>, signal: AbortSignal): void {
  new BinlogReader(options, into).start(signal);
}

class BinlogReader {
  readonly #o: BinlogStreamOptions;
  readonly #queue: QueueProducer<Transaction>;
  readonly #schemas = new Map<string, TableSchema>();
  readonly #inbox: Received[] = [];
  #zongji: ZongJi | null = null;
  #draining = false;
  #paused = false;
  /** A push found the queue full: the connection pauses until the applier has made room. */
  #full = false;
  #events: ChangeEvent[] = [];
  #committed: Position;
  #stopped = false;
  /** The stream's first error, being classified. */
  #failing: Promise<void> | undefined;
  /** Inside XA START … XA END: its outcome comes later, in another event group. */
  #xa = false;
  /** When the last packet (event or heartbeat) arrived, for the stall watchdog. */
  #lastPacketAt: number | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  /** Events of the open transaction already handed on as pieces. */
  #pushed = 0;
  /** Savepoints of the open transaction: name → how many of its events came before it. */
  readonly #savepoints = new Map<string, number>();
  /** The open transaction wrote this pipeline's heartbeat: when (source clock, µs), and its marker. */
  #beat: { at: Date; marker: string | undefined } | null = null;

  constructor(options: BinlogStreamOptions, queue: QueueProducer<Transaction>) {
    this.#o = options;
    this.#queue = queue;
    this.#committed = options.from;
    for (const t of options.tables) this.#schemas.set(tableKey(t.source), t);
  }

  start(signal: AbortSignal): void {
    // A stop that came while the stream was being set up: an aborted signal fires no later 'abort'.
    if (signal.aborted) {
      this.#stop();
      return;
    }
    const from = this.#o.from;
    if (from.kind !== 'mysql') {
      this.#fail(new FerryError('fatal', `a MySQL source cannot resume from a ${from.kind} position`));
      return;
    }
    const c = connectionOptions(this.#o.url);
    const zongji = new ZongJi({
      // zongji hands these to mysql2 for its control and binlog connections alike, TLS included.
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      ssl: c.ssl,
      charset: c.charset,
      dateStrings: true,
      jsonStrings: true,
      timezone: 'Z',
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
    });
    this.#zongji = zongji;
    // The server sends heartbeats on an idle stream when asked, before the dump starts: zongji
    // emits 'ready' just before it queues the dump command on this connection.
    zongji.on('ready', () => {
      zongji.connection?.query(`SET @master_heartbeat_period = ${Math.round((this.#o.stallAfterMs / 3) * 1e6)}`, () => {});
    });
    zongji.on('binlog', (event: AnyBinlogEvent) => {
      this.#lastPacketAt = Date.now();
      if (event.getEventName() === 'heartbeat') return;
      this.#inbox.push({ event, file: String(zongji.get('filename')), gtid: zongji.gtidSet });
      if (this.#inbox.length >= INBOX_HIGH) this.#pause();
      void this.#drain();
    });
    // The first error decides: one that needs asking the server why must not lose to the connection's end.
    zongji.on('error', (err: Error) => void (this.#failing ??= this.#classify(err).then((e) => this.#fail(e))));
    const includeSchema: Record<string, string[]> = {};
    for (const t of [...this.#o.tables.map((t) => t.source), HEARTBEAT_TABLE]) (includeSchema[t.schema] ??= []).push(t.name);
    zongji.start({
      serverId: this.#o.serverId,
      ...(from.gtid ? { gtidSet: from.gtid } : { filename: from.file, position: from.pos }),
      includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows', 'xid', 'xaprepare', 'query', 'rotate', 'mariadbgtid', 'gtid', 'heartbeat'],
      includeSchema,
    });
    signal.addEventListener('abort', () => this.#stop(), { once: true });
    this.#watchdog = setInterval(() => this.#checkStalled(), this.#o.stallAfterMs / 3);
    this.#watchdog.unref();
  }

  /**
   * A connection that died without a packet saying so (a half-open TCP session) would wait forever.
   * With heartbeats every third of the timeout, silence past it means the connection is gone, unless
   * ferry holds it back itself (backpressure): then the stream restarts from the checkpoint. Armed
   * by the first packet, so a slow start (a GTID lookup in long binlogs) is not taken for a stall.
   */
  #checkStalled(): void {
    if (this.#stopped || this.#paused || this.#lastPacketAt === undefined) return;
    const silentMs = Date.now() - this.#lastPacketAt;
    if (silentMs < this.#o.stallAfterMs) return;
    this.#fail(new FerryError('retriable', `no binlog packets, not even heartbeats, for ${Math.round(silentMs / 1000)}s: the connection is gone`));
  }

  async #classify(err: Error): Promise<FerryError> {
    if ((err as { errno?: number }).errno === FATAL_READING_BINLOG) return missingBinlogError(this.#o.url, this.#o.from, err);
    return coerceError(err, 'binlog stream');
  }

  /** Unconditional: zongji resumes the connection itself after a metadata fetch, behind our back. */
  #pause(): void {
    this.#paused = true;
    this.#zongji?.connection?.pause();
  }

  #resume(): void {
    if (this.#paused && this.#inbox.length < INBOX_LOW) {
      this.#paused = false;
      if (this.#lastPacketAt !== undefined) this.#lastPacketAt = Date.now(); // silence while held back is ours
      this.#zongji?.connection?.resume();
    }
  }

  /** Handles received events one at a time, in order; the only place that waits for the queue. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let r = this.#inbox.shift(); r && !this.#stopped; r = this.#inbox.shift()) {
        await this.#handle(r);
        if (this.#full) {
          this.#full = false;
          this.#pause();
          await this.#queue.whenSpace();
        }
        // A TableMap metadata fetch inside zongji resumes the connection itself; pausing again here keeps backpressure.
        if (this.#inbox.length >= INBOX_HIGH) this.#pause();
        else this.#resume();
      }
    } catch (err) {
      this.#fail(coerceError(err, 'binlog stream'));
    } finally {
      this.#draining = false;
    }
  }

  async #handle({ event, file, gtid }: Received): Promise<void> {
    switch (event.getEventName()) {
      case 'writerows':
      case 'updaterows':
      case 'deleterows':
        this.#rows(event as unknown as RowsEvent & { rows: unknown[] });
        return;
      case 'xaprepare':
        // The prepared XA branch's group ends here; its COMMIT or ROLLBACK arrives later as a Query.
        this.#xa = false;
        return;
      case 'xid':
        this.#commit({ kind: 'mysql', file, pos: event.nextPosition, ...(gtid ? { gtid } : {}) }, event.timestamp);
        return;
      case 'query': {
        const q = event as AnyBinlogEvent & { query: string; schema: string };
        const position: Position = { kind: 'mysql', file, pos: event.nextPosition, ...(gtid ? { gtid } : {}) };
        const match = TRANSACTION_CONTROL.exec(q.query);
        if (!match) return this.#ddl(q.query, q.schema, position, event.timestamp);
        return this.#control(match[1]!.toUpperCase().replace(/\s+/g, ' '), savepointName(q.query), position, event.timestamp);
      }
      default:
        return;
    }
  }

  #rows(event: RowsEvent & { rows: unknown[] }): void {
    const map = event.tableMap[event.tableId];
    if (!map) return;
    if (map.parentSchema === HEARTBEAT_TABLE.schema && map.tableName === HEARTBEAT_TABLE.name) {
      for (const raw of event.rows) {
        const row = (event.getEventName() === 'updaterows' ? (raw as { after: RowData }).after : raw) as Record<string, unknown>;
        this.#beat = heartbeatOf(row, this.#o.pipeline) ?? this.#beat;
      }
      return;
    }
    const schema = this.#schemas.get(`${map.parentSchema}.${map.tableName}`);
    if (!schema) return;
    if (this.#xa) {
      throw new FerryError('fatal', `an XA transaction changed ${tableKey(schema.source)}; ferry does not replicate XA transactions`, {
        hint: 'exclude the table (tables.exclude), or change the application to use ordinary transactions',
      });
    }
    const name = event.getEventName();
    for (const raw of event.rows) {
      if (name === 'updaterows') {
        const { before, after } = raw as { before: RowData; after: RowData };
        const a = this.#row(schema, after);
        this.#events.push({ op: 'u', table: schema.source, key: pickKey(a, schema.primaryKey), before: this.#row(schema, before), after: a });
      } else if (name === 'writerows') {
        const a = this.#row(schema, raw as RowData);
        this.#events.push({ op: 'c', table: schema.source, key: pickKey(a, schema.primaryKey), before: null, after: a });
      } else {
        const b = this.#row(schema, raw as RowData);
        this.#events.push({ op: 'd', table: schema.source, key: pickKey(b, schema.primaryKey), before: b, after: null });
      }
    }
    if (this.#events.length >= this.#o.pieceMaxEvents) {
      this.#push({ events: this.#events, position: this.#committed, commitTime: new Date(event.timestamp), partial: true });
      this.#pushed += this.#events.length;
      this.#events = [];
    }
  }

  /** Canonical row from a decoded binlog row. Columns the event lacks (written before an ADD COLUMN) stay absent. */
  #row(schema: TableSchema, data: RowData): Row {
    const row: Row = {};
    for (const c of schema.columns) if (c.name in data) row[c.name] = normalizeValue(c.type, data[c.name]);
    if (Object.keys(data).length > schema.columns.length) {
      const unknown = Object.keys(data).filter((k) => !schema.columns.some((c) => c.name === k));
      throw new FerryError('fatal', `table ${tableKey(schema.source)} has columns ferry did not see being added: ${unknown.join(', ')}`, {
        hint: 'the table changed while ferry was not watching its DDL; re-snapshot it (snapshot.mode: always)',
      });
    }
    return row;
  }

  /**
   * Statements that open, mark or end a transaction. A rollback to a savepoint is in the binlog only
   * when the transaction also changed a non-transactional table; the transactional rows after the
   * savepoint are then in the event group too, and must be dropped here.
   */
  #control(control: string, savepoint: string | undefined, position: Position, timestamp: number): void {
    switch (control) {
      case 'SAVEPOINT':
        if (savepoint) this.#savepoints.set(savepoint, this.#pushed + this.#events.length);
        return;
      case 'RELEASE SAVEPOINT':
        if (savepoint) this.#savepoints.delete(savepoint);
        return;
      case 'ROLLBACK TO': {
        const mark = savepoint === undefined ? undefined : this.#savepoints.get(savepoint);
        if (mark === undefined) return;
        if (mark < this.#pushed) {
          throw new FerryError('fatal', `a transaction rolled back to savepoint ${savepoint} after ferry had handed on part of what followed it`, {
            hint: 'raise apply.batchMaxRows above the size of such transactions and restart; nothing past the checkpoint was applied',
          });
        }
        this.#events.length = mark - this.#pushed;
        return;
      }
      case 'ROLLBACK':
        if (this.#pushed + this.#events.length > 0) {
          throw new FerryError(
            'fatal',
            'a transaction that changed replicated tables was rolled back after changing a non-transactional table; which of its changes stand cannot be told from the binlog',
            {
              hint: 'convert the replicated tables to InnoDB (ferry check names the others), or exclude them; then re-snapshot',
            },
          );
        }
        this.#commit(position, timestamp);
        return;
      case 'XA START':
      case 'XA BEGIN':
        this.#xa = true;
        return;
      case 'COMMIT':
      case 'XA COMMIT':
      case 'XA ROLLBACK':
        this.#xa = false;
        this.#commit(position, timestamp);
        return;
      default:
        return; // BEGIN, XA END, XA PREPARE: inside a transaction, not an end of one
    }
  }

  /**
   * Ends the open transaction. A heartbeat's own timestamp (µs, source clock) is its commit time: the
   * binlog's event timestamps have whole seconds only.
   */
  #commit(position: Position, timestamp: number): void {
    const beat = this.#beat;
    this.#beat = null;
    this.#push({
      events: this.#events,
      position,
      commitTime: beat?.at ?? new Date(timestamp),
      ...(beat ? { heartbeat: true } : {}),
      ...(beat?.marker ? { marker: beat.marker } : {}),
    });
    this.#events = [];
    this.#pushed = 0;
    this.#savepoints.clear();
    this.#committed = position;
  }

  async #ddl(sql: string, defaultSchema: string, position: Position, timestamp: number): Promise<void> {
    const ddl = parseDdl(sql, defaultSchema);
    const selected =
      ddl.kind === 'other'
        ? []
        : ddl.kind === 'drop-database'
          ? [...this.#schemas.values()].map((t) => t.source).filter((t) => t.schema === ddl.schema)
          : ddl.tables.filter((t) => this.#schemas.has(tableKey(t)));
    const stop = (
      what: string,
      hint = 'bring the target table in line by hand, or re-snapshot the pipeline (snapshot.mode: always, snapshot.tablePrep: drop-and-create)',
    ) => {
      throw new FerryError('fatal', `schema change on ${selected.map(tableKey).join(', ')} is not supported: ${what} (statement: ${ddl.statement})`, {
        hint: `the checkpoint is before this statement; ${hint}`,
      });
    };
    if (ddl.kind === 'create' && ddl.tables.some(this.#o.filter)) {
      this.#o.log.warn(
        { table: ddl.tables.map(tableKey) },
        'a new table matches tables.include but was not selected at start; restart ferry with snapshot.mode: always to copy it',
      );
    }
    if (selected.length > 0) {
      switch (ddl.kind) {
        case 'truncate':
          // One transaction: a checkpoint at this position must include the truncate.
          this.#events.push(...selected.map((t) => ({ op: 't' as const, table: t, key: {}, before: null, after: null })));
          break;
        case 'drop':
        case 'rename':
        case 'replace':
        case 'drop-database':
          return stop(`${ddl.kind.replace('-', ' ')} of a replicated table`);
        case 'alter':
          if (changesRowsSilently(ddl.statement)) return stop('partition maintenance that removes rows without row events');
          return this.#alter(selected[0]!, position, timestamp, stop);
      }
    }
    this.#commit(position, timestamp);
  }

  /** ALTER TABLE on a replicated table: added columns travel to the target in stream order; anything else stops. */
  async #alter(table: TableId, position: Position, timestamp: number, stop: (what: string, hint?: string) => never): Promise<void> {
    const before = this.#schemas.get(tableKey(table))!;
    let after: TableSchema | null;
    try {
      after = await this.#o.describeTable(table);
    } catch (err) {
      // A column of a type ferry cannot carry: its values cannot reach the target, now or at a restart.
      const e = coerceError(err);
      if (e.kind === 'retriable') throw e;
      return stop(
        e.message,
        `exclude the table (tables.exclude), or drop or change the column at the source, then re-snapshot (snapshot.mode: always, snapshot.tablePrep: drop-and-create); docs/type-mapping.md lists the supported types`,
      );
    }
    if (!after) return stop('the table is gone');
    const { added, unsupported } = diffColumns(before, after);
    const unknowable = added.filter((c) => 'expression' in c.backfill);
    for (const c of unknowable)
      unsupported.push(`column ${c.name} was added as ${(c.backfill as { expression: string }).expression}, so existing rows got values ferry cannot see`);
    if (unsupported.length > 0) return stop(unsupported.join('; '));
    this.#schemas.set(tableKey(table), after);
    const foreignKeys = JSON.stringify(after.foreignKeys) === JSON.stringify(before.foreignKeys) ? undefined : (after.foreignKeys ?? []);
    if (added.length === 0 && !foreignKeys) return this.#commit(position, timestamp);
    this.#push({
      events: [],
      position,
      commitTime: new Date(timestamp),
      schemaChange: { table, addColumns: added, ...(foreignKeys ? { foreignKeys } : {}) },
    });
    this.#committed = position;
  }

  #push(t: Transaction): void {
    if (!this.#queue.push(t)) this.#full = true;
  }

  #fail(err: FerryError): void {
    this.#queue.fail(err);
    this.#stop();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#watchdog);
    this.#zongji?.stop();
    this.#queue.end();
  }
}
