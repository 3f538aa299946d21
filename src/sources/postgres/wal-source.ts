import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { Logger } from 'pino';
import { pickKey, tableKey, type ChangeEvent, type Row, type TableId, type Transaction } from '../../core/change-event.js';
import { formatLsn, type Position } from '../../core/position.js';
import type { Column } from '../../core/schema.js';
import { coerceError, FerryError } from '../../core/errors.js';
import type { QueueProducer } from '../../core/queue.js';
import { parseLsn } from '../../engines/postgres/lsn.js';
import { connectSource, MESSAGE_PREFIX, sourceClientConfig } from '../../engines/postgres/connection.js';
import type { PgTable } from './pg-schema.js';
import { partitionPublishedAsItself } from './pg-partitions.js';
import { slotMissing, slotState } from './pg-slot.js';
import { covers } from './pg-check.js';
import { fromPgText } from '../../engines/postgres/types.js';
import { readTuple } from './pgoutput-tuple.js';

export interface WalStreamOptions {
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  readonly from: Position;
  readonly tables: readonly PgTable[];
  /** The table as the catalog describes it now (after a new Relation message), or null if it is gone. */
  readonly describeTable: (t: TableId) => Promise<PgTable | null>;
  readonly pieceMaxEvents: number;
  /** Silence (not even a keepalive) after which the connection counts as dead. */
  readonly stallAfterMs: number;
  readonly log: Logger;
}

/** A ferry heartbeat (Heartbeat.beat), with the marker it carries if any (JSON `{ "marker": "…" }`); null for another message. */
function ferryMessage(msg: Pgoutput.MessageMessage): { marker: string | undefined } | null {
  if (msg.prefix !== MESSAGE_PREFIX) return null;
  try {
    const body = JSON.parse(Buffer.from(msg.content).toString('utf8')) as { marker?: unknown };
    return { marker: typeof body.marker === 'string' ? body.marker : undefined };
  } catch {
    return null;
  }
}

/** A parse failure, handed to the message handler instead of thrown inside the driver's socket handler. */
interface ParseFailure {
  readonly tag: 'parse-failure';
  readonly error: unknown;
}

/**
 * pgoutput with every column value as the server's text (ferry converts it: engines/postgres/types.ts), tuples read
 * by ferry's faster decoder (pgoutput-tuple.ts), and parse errors delivered as messages: thrown where
 * the library parses, they would be uncaught.
 */
class TextPgoutputPlugin extends PgoutputPlugin {
  constructor(publication: string) {
    super({ protoVersion: 1, publicationNames: [publication], messages: true });
    const parser = (this as unknown as { parser: { readRelationColumn: (reader: unknown) => object; readTuple: typeof readTuple } }).parser;
    const readColumn = parser.readRelationColumn.bind(parser);
    parser.readRelationColumn = (reader) => ({ ...readColumn(reader), parser: (text: string) => text });
    parser.readTuple = readTuple;
  }

  override parse(buffer: Buffer): Pgoutput.Message {
    try {
      return super.parse(buffer);
    } catch (error) {
      return { tag: 'parse-failure', error } satisfies ParseFailure as unknown as Pgoutput.Message;
    }
  }
}

/**
 * Committed transactions from a logical replication slot, after `from`. Nothing is acknowledged to the
 * server but what the target committed (DESIGN §3.3): the library's own acknowledgements and its timer
 * are off, and every (re)subscribe names its start LSN.
 */
export class WalStream {
  readonly #queue: QueueProducer<Transaction>;
  readonly #o: WalStreamOptions;
  readonly #tables = new Map<string, PgTable>();
  /** Relation OID → the table and the columns its changes carry (fewer than the table's after a replayed ADD COLUMN); null: not replicated. */
  readonly #relations = new Map<number, { table: PgTable; columns: readonly Column[] } | null>();
  /** Partitions of replicated tables whose changes arrive as their own (not through the root): the error that stops the stream. */
  readonly #partitionsAsTables = new Map<number, FerryError>();
  readonly #service: LogicalReplicationService;
  #events: ChangeEvent[] = [];
  #commitTime = new Date(0);
  #committed: bigint;
  #applied: bigint;
  #stopped = false;
  /** When the server last sent anything (or, before that, when START_REPLICATION was sent); null before. */
  #lastPacketAt: number | null = null;
  /** The server accepted START_REPLICATION: status updates may be sent. */
  #started = false;
  /** Waiting for the applier (the socket is paused): silence then is ferry's, not the connection's. */
  #waitingForSpace = false;
  /** A piece of the current transaction has been handed on already. */
  #piecePushed = false;
  #timers: NodeJS.Timeout[] = [];
  /** The open transaction holds a ferry heartbeat: its marker, if any. */
  #beat: { marker: string | undefined } | null = null;

  constructor(options: WalStreamOptions, into: QueueProducer<Transaction>) {
    if (options.from.kind !== 'pg')
      throw new FerryError('fatal', `a Postgres source cannot resume from a ${options.from.kind} position`, {
        hint: 'the checkpoint belongs to another source; use another pipeline name',
      });
    this.#o = options;
    this.#committed = this.#applied = options.from.lsn;
    for (const t of options.tables) this.#tables.set(tableKey(t.schema.source), t);
    this.#queue = into;
    this.#service = new LogicalReplicationService(sourceClientConfig(options.url), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
  }

  start(signal: AbortSignal): void {
    // A stop that came while the stream was being set up: an aborted signal fires no later 'abort'.
    if (signal.aborted) {
      void this.stop();
      return;
    }
    const stop = () => void this.stop();
    signal.addEventListener('abort', stop, { once: true });
    this.#service.on('data', (_lsn: string, msg: Pgoutput.Message) => this.#onMessage(msg));
    this.#service.on('start', () => {
      this.#started = true;
      this.#lastPacketAt = Date.now();
    });
    this.#service.on('heartbeat', (_lsn: string, _ts: number, shouldRespond: boolean) => {
      this.#lastPacketAt = Date.now();
      if (shouldRespond) void this.#sendApplied();
    });
    this.#service.on('error', (err: Error) => this.#fail(classify(err, this.#o.slot)));
    void this.#subscribe();
  }

  async #subscribe(): Promise<void> {
    try {
      const client = await connectSource(this.#o.url);
      try {
        const slot = await slotState(client, this.#o.slot);
        if (!slot) throw slotMissing(this.#o.slot);
        if (slot.confirmedFlush > this.#committed) {
          throw new FerryError(
            'fatal',
            `replication slot ${this.#o.slot} was advanced to ${formatLsn(slot.confirmedFlush)}, past ferry's checkpoint ${formatLsn(this.#committed)}: the changes between were released unread`,
            {
              hint: 'another client used the slot; take a new snapshot (snapshot.mode: always) and give ferry a slot of its own',
            },
          );
        }
      } finally {
        await client.end().catch(() => {});
      }
      if (this.#stopped) return;
      // A START_REPLICATION that never answers counts as silence too.
      this.#lastPacketAt = Date.now();
      this.#startTimers();
      // "streaming from …" is the pipeline's line (the stream-started event), once per start.
      this.#o.log.debug(
        { slot: this.#o.slot, from: formatLsn(this.#committed) },
        `START_REPLICATION on slot ${this.#o.slot} from ${formatLsn(this.#committed)}`,
      );
      await this.#service.subscribe(new TextPgoutputPlugin(this.#o.publication), this.#o.slot, formatLsn(this.#committed));
      if (!this.#stopped) this.#fail(new FerryError('retriable', 'the replication stream ended'));
    } catch (err) {
      this.#fail(classify(err, this.#o.slot));
    }
  }

  /**
   * The watchdog: a status update asking for a reply every third of the stall timeout keeps a healthy
   * connection talking (and the server's wal_sender_timeout satisfied, also inside a long
   * transaction); silence beyond the timeout, while ferry is not itself holding the stream back,
   * means the connection is dead. (The heartbeat transactions come from the pipeline: Heartbeat.beat.)
   */
  #startTimers(): void {
    this.#timers.push(setInterval(() => void this.#sendApplied(true), Math.max(1000, this.#o.stallAfterMs / 3)));
    this.#timers.push(
      setInterval(() => {
        if (this.#waitingForSpace) this.#lastPacketAt = Date.now();
        if (this.#lastPacketAt === null) return;
        const silentMs = Date.now() - this.#lastPacketAt;
        if (silentMs > this.#o.stallAfterMs) {
          this.#fail(
            new FerryError('retriable', `no WAL message or keepalive for ${Math.round(silentMs / 1000)} s; the replication connection is presumed dead`),
          );
        }
      }, 1000),
    );
  }

  /** The target committed everything up to `lsn`: the server may release the WAL before it. */
  async acknowledge(lsn: bigint): Promise<void> {
    if (lsn > this.#applied) this.#applied = lsn;
    await this.#sendApplied();
  }

  /** The library reports lsn + 1 as flushed; ferry means exactly the end of the last applied commit. `ping` asks for a keepalive back. */
  async #sendApplied(ping = false): Promise<void> {
    if (!this.#stopped && this.#started) await this.#service.acknowledge(formatLsn(this.#applied - 1n), ping).catch(() => {});
  }

  async #onMessage(msg: Pgoutput.Message | ParseFailure): Promise<void> {
    if (this.#stopped) return;
    this.#lastPacketAt = Date.now();
    try {
      switch (msg.tag) {
        case 'begin':
          this.#events = [];
          this.#beat = null;
          this.#piecePushed = false;
          this.#commitTime = new Date(Number((msg.commitTime.valueOf() as bigint) / 1000n));
          return;
        case 'relation':
          await this.#onRelation(msg);
          return;
        case 'insert':
        case 'update':
        case 'delete':
          this.#onRow(msg);
          break;
        case 'truncate':
          for (const r of msg.relations) {
            const t = this.#relations.get(r.relationOid)?.table;
            if (!t) this.#unreplicated(r.relationOid);
            else this.#events.push({ op: 't', table: t.schema.source, key: {}, before: null, after: null });
          }
          break;
        case 'commit': {
          const lsn = parseLsn(msg.commitEndLsn ?? '0/0');
          const events = this.#events;
          this.#events = [];
          this.#committed = lsn;
          const beat = this.#beat;
          await this.#push({
            events,
            position: { kind: 'pg', lsn },
            commitTime: this.#commitTime,
            ...(beat ? { heartbeat: true } : {}),
            ...(beat?.marker ? { marker: beat.marker } : {}),
          });
          return;
        }
        case 'message':
          if (msg.transactional) this.#beat = ferryMessage(msg) ?? this.#beat;
          return;
        case 'parse-failure':
          throw new FerryError('fatal', `cannot decode a pgoutput message: ${(msg.error as Error)?.message ?? String(msg.error)}`, { cause: msg.error });
        default:
          return; // origin, type: nothing to apply
      }
      if (this.#events.length >= this.#o.pieceMaxEvents) await this.#pushPiece();
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Hands on what a large transaction has so far; the applier keeps its pieces in one target transaction. */
  async #pushPiece(): Promise<void> {
    const events = this.#events;
    this.#events = [];
    this.#piecePushed = true;
    await this.#push({ events, position: { kind: 'pg', lsn: this.#committed }, commitTime: this.#commitTime, partial: true });
  }

  async #push(t: Transaction): Promise<void> {
    if (this.#queue.push(t)) return;
    this.#waitingForSpace = true;
    try {
      await this.#queue.whenSpace();
    } finally {
      this.#waitingForSpace = false;
      this.#lastPacketAt = Date.now();
    }
  }

  #onRow(msg: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete): void {
    const relation = this.#relations.get(msg.relation.relationOid);
    if (!relation) {
      this.#unreplicated(msg.relation.relationOid);
      return;
    }
    const pk = relation.table.schema.primaryKey;
    const table = relation.table.schema.source;
    const columns = relation.columns;
    if (msg.tag === 'insert') {
      const { row } = toRow(columns, msg.new);
      this.#events.push({ op: 'c', table, key: pickKey(row, pk), before: null, after: row });
      return;
    }
    const old = msg.old ?? msg.key;
    const before = old ? toRow(columns, old).row : null;
    if (before && pk.some((c) => before[c] === undefined || before[c] === null)) {
      throw new FerryError(
        'fatal',
        `a change to ${tableKey(table)} arrived without its primary key (${pk.join(', ')}); the table's replica identity does not carry it`,
        {
          hint: `ALTER TABLE ${tableKey(table)} REPLICA IDENTITY DEFAULT; then re-snapshot (snapshot.mode: always)`,
        },
      );
    }
    if (msg.tag === 'delete') {
      if (!before) throw new FerryError('fatal', `a delete from ${tableKey(table)} arrived without its key`);
      this.#events.push({ op: 'd', table, key: pickKey(before, pk), before, after: null });
      return;
    }
    const parsed = toRow(columns, msg.new);
    // Without a key the change is matched by its whole old row; replica identity FULL sends it, and
    // any value the new image lacks is the old one.
    const { row, unchanged } = pk.length === 0 && before ? { row: { ...before, ...parsed.row }, unchanged: [] } : parsed;
    this.#events.push({
      // A table without a key is matched by its whole old row (replica identity FULL sends it).
      op: 'u',
      table,
      key: pickKey(row, pk),
      before: before && (pk.length > 0 ? pickKey(before, pk) : before),
      after: row,
      ...(unchanged.length > 0 ? { unchanged } : {}),
    });
  }

  /** A change to a table ferry does not replicate: ignored, unless the table is a partition of one it does. */
  #unreplicated(relationOid: number): void {
    const partition = this.#partitionsAsTables.get(relationOid);
    if (partition) throw partition;
  }

  /**
   * A Relation message describes a table's columns as of the changes that follow. Columns added at
   * the end propagate (a schema change handed on before those changes). Fewer columns than ferry knows
   * are older changes replayed from before an ADD COLUMN, as long as the catalog still has them.
   * Anything else stops the stream.
   */
  async #onRelation(msg: Pgoutput.MessageRelation): Promise<void> {
    const known = this.#tables.get(`${msg.schema}.${msg.name}`);
    if (!known) {
      const renamed = [...this.#tables.values()].find((t) => t.oid === msg.relationOid);
      if (renamed) {
        throw new FerryError(
          'fatal',
          `table ${tableKey(renamed.schema.source)} was renamed to ${msg.schema}.${msg.name} at the source; ferry does not replicate renames`,
          {
            hint: 'rename the target table to match and re-snapshot it (snapshot.mode: always), or exclude it',
          },
        );
      }
      this.#relations.set(msg.relationOid, null);
      // Publishing through the root, pgoutput sends a partition's Relation message after its root's
      // too: only a change that names the partition itself is wrong.
      const partition = partitionPublishedAsItself(this.#tables.values(), { schema: msg.schema, name: msg.name }, this.#o.publication);
      if (partition) this.#partitionsAsTables.set(msg.relationOid, partition);
      return;
    }
    const name = tableKey(known.schema.source);
    const problems: string[] = [];
    if (msg.relationOid !== known.oid) {
      problems.push(`it is another table now (object id ${msg.relationOid}, was ${known.oid}): dropped and created again`);
    }
    const keyless = known.schema.primaryKey.length === 0;
    if (keyless && msg.replicaIdentity !== 'full') {
      problems.push(
        `it has no primary key in ferry's copy and its replica identity is now ${msg.replicaIdentity} (a key was added, or REPLICA IDENTITY FULL removed)`,
      );
    } else if (!keyless && !covers(msg.replicaIdentity === 'full' ? msg.columns.map((c) => c.name) : msg.keyColumns, known.schema.primaryKey)) {
      problems.push(
        `its replica identity (${msg.replicaIdentity}: ${msg.keyColumns.join(', ') || 'none'}) does not carry the primary key (${known.schema.primaryKey.join(', ')})`,
      );
    }
    const shared = Math.min(known.schema.columns.length, msg.columns.length);
    const retyped: Column[] = [];
    for (let i = 0; i < shared; i++) {
      const c = known.schema.columns[i]!;
      const r = msg.columns[i]!;
      const type = known.types.get(c.name)!;
      if (r.name !== c.name) problems.push(`column ${c.name} is now ${r.name} (renamed, or dropped and another added)`);
      else if (r.typeOid !== type.oid || r.typeMod !== type.typmod) retyped.push(c);
    }
    let table = known;
    const resized = problems.length === 0 && msg.columns.length !== known.schema.columns.length;
    const now = resized || retyped.length > 0 ? await this.#o.describeTable(known.schema.source) : null;
    for (const c of retyped) {
      const type = now?.schema.columns.find((n) => n.name === c.name)?.sourceType;
      problems.push(`column ${c.name} changed its type from ${c.sourceType}${type && type !== c.sourceType ? ` to ${type}` : ''}`);
    }
    if (resized) {
      if (msg.columns.length < known.schema.columns.length) {
        for (const c of known.schema.columns.slice(shared)) {
          if (!now?.schema.columns.some((n) => n.name === c.name)) problems.push(`column ${c.name} was dropped`);
        }
      } else {
        table = await this.#addColumns(known, now, msg.columns.slice(shared), problems);
      }
    }
    if (problems.length > 0) {
      // The WAL carries no DDL text: the change is named by what the table's new Relation message says.
      throw new FerryError(
        'fatal',
        `table ${name} changed at the source in a way ferry does not replicate (a new column list in the WAL; no statement text is logged there): ${problems.join('; ')}`,
        {
          hint: 'ferry replicates added columns only; alter the target table to match and restart, or re-snapshot (snapshot.mode: always, snapshot.tablePrep: drop-and-create)',
        },
      );
    }
    this.#tables.set(name, table);
    this.#relations.set(msg.relationOid, { table, columns: table.schema.columns.slice(0, msg.columns.length) });
  }

  /** Columns the Relation message has beyond those ferry knows: described now, and handed on as a schema change. */
  async #addColumns(known: PgTable, now: PgTable | null, added: readonly Pgoutput.RelationColumn[], problems: string[]): Promise<PgTable> {
    const columns: Column[] = [];
    for (const r of added) {
      const c = now?.schema.columns.find((col) => col.name === r.name);
      const type = now?.types.get(r.name);
      if (!c || !type || type.oid !== r.typeOid || type.typmod !== r.typeMod) problems.push(`column ${r.name} was added and changed again since`);
      else columns.push(c);
    }
    if (problems.length > 0) return known;
    // The added columns are applied before the events buffered so far (other tables' changes, as a
    // Relation message precedes its table's first change): the transaction then stays whole on targets
    // whose DDL commits (MySQL). Once a piece of it is out, they go in order after that piece.
    if (this.#piecePushed && this.#events.length > 0) await this.#pushPiece();
    await this.#push({
      events: [],
      position: { kind: 'pg', lsn: this.#committed },
      commitTime: this.#commitTime,
      partial: true,
      schemaChange: { table: known.schema.source, addColumns: columns },
    });
    const name = tableKey(known.schema.source);
    this.#o.log.info({ table: name, columns: columns.map((c) => c.name) }, `columns added to ${name} at the source`);
    return {
      ...known,
      schema: { ...known.schema, columns: [...known.schema.columns, ...columns] },
      types: new Map([...known.types, ...columns.map((c) => [c.name, now!.types.get(c.name)!] as const)]),
    };
  }

  #fail(err: unknown): void {
    if (this.#stopped) return;
    this.#queue.fail(coerceError(err));
    void this.stop();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#queue.end();
    await this.#service.destroy().catch(() => {});
  }
}

/** A decoded tuple as a row; columns the server did not send (unchanged TOAST values) are listed, not set. */
function toRow(columns: readonly Column[], tuple: Record<string, string | null | undefined>): { row: Row; unchanged: string[] } {
  const row: Row = {};
  const unchanged: string[] = [];
  for (const c of columns) {
    const v = tuple[c.name];
    if (v === undefined) unchanged.push(c.name);
    else row[c.name] = fromPgText(c.type, v);
  }
  return { row, unchanged };
}

function classify(err: unknown, slot: string): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as { code?: string; message?: string };
  if (e.code === '42704' && /replication slot/.test(e.message ?? '')) return slotMissing(slot);
  if (e.code === '55006') return new FerryError('retriable', `replication slot ${slot} is still held by an earlier connection: ${e.message}`, { cause: err });
  return coerceError(err, 'source replication stream');
}
