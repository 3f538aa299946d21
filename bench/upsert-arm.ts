import { pino } from 'pino';
import type { ChangeEvent, Row } from '../src/core/change-event.js';
import type { Column, ColumnType, TableSchema } from '../src/core/schema.js';
import type { DatabaseSink } from '../src/core/sink.js';
import { openMysqlSink } from '../src/sinks/mysql/mysql-sink.js';
import { CHECKPOINT_TABLES } from '../src/engines/registry.js';
import { UPSERT_STRATEGY, type UpsertStrategy } from '../src/sinks/mysql/mysql-rows.js';
import { withDb } from './db.js';
import type { Arm, Contender } from './race.js';
import type { Servers } from './servers.js';

/** Rows per target transaction, as apply.batchMaxRows applies them by default. */
const BATCH_ROWS = 20_000;

const column = (name: string, type: ColumnType, sourceType: string): Column => ({
  name,
  type,
  sourceType,
  nullable: name === 'note',
  autoIncrement: false,
  backfill: { value: null },
});

/** bench.items (bench/data.ts) as a MariaDB source describes it, landing in `database` of the target. */
function items(database: string): TableSchema {
  return {
    engine: 'mysql',
    source: { schema: 'bench', name: 'items' },
    target: { schema: database, name: 'items' },
    columns: [
      column('id', { kind: 'int', bytes: 8, unsigned: false }, 'bigint(20)'),
      column('qty', { kind: 'int', bytes: 4, unsigned: false }, 'int(11)'),
      column('name', { kind: 'string', maxLength: 64 }, 'varchar(64)'),
      column('price', { kind: 'decimal', precision: 12, scale: 2 }, 'decimal(12,2)'),
      column('note', { kind: 'string', maxLength: 200 }, 'varchar(200)'),
      column('created_at', { kind: 'datetime', fsp: 6 }, 'datetime(6)'),
    ],
    primaryKey: ['id'],
    indexes: [{ name: 'items_qty', columns: ['qty'], unique: false }],
  };
}

/** Row `id` in its `version` (0 as loaded, 1 once updated): a pure function, so the result can be checked. */
function item(id: number, version: number): Row {
  return {
    id,
    qty: (id + version) % 1000,
    name: `item-${id}`,
    price: ((id % 100_000) / 100).toFixed(2),
    note: `${version ? 'updated' : 'note'} ${id} abcdefghijklmnopqrstuvwxyz`,
    created_at: '2024-01-01 00:00:00.123456',
  };
}

/** Applies one event per row 1..rows through the sink, BATCH_ROWS to a target transaction. */
async function applyAll(sink: DatabaseSink, rows: number, event: (id: number) => ChangeEvent): Promise<void> {
  for (let from = 1; from <= rows; from += BATCH_ROWS) {
    const events: ChangeEvent[] = [];
    for (let id = from; id < from + BATCH_ROWS && id <= rows; id++) events.push(event(id));
    const position = { kind: 'mysql', file: 'bench.000001', pos: from } as const;
    const tx = await sink.begin();
    await tx.write([{ events, position, commitTime: new Date() }]);
    await tx.commit({ phase: 'stream', position });
  }
}

/**
 * The two ways a MySQL/MariaDB target writes a full row image by primary key without touching a row
 * of another key (src/sinks/mysql/mysql-rows.ts), on the same data: `rows` rows of bench.items on the
 * MariaDB target (as many as the drain's backlog updates), each updated once (what a MySQL source's
 * UPDATEs become), applied through the sink as the stream applies them. The rows are loaded untimed
 * before each run, and checked after it.
 */
export function upsertArm(s: Servers, rows: number): Arm {
  const strategies: UpsertStrategy[] = [UPSERT_STRATEGY, ...(['delete-insert', 'update-insert'] as const).filter((x) => x !== UPSERT_STRATEGY)];
  return {
    name: 'MySQL upserts by key (updates of existing rows)',
    work: rows,
    contenders: strategies.map((strategy): Contender => {
      const table = items(`upserts_${strategy.replace('-', '_')}`);
      let sink: DatabaseSink;
      return {
        // The ratio column measures every tool of an arm against the one named ferry: the strategy ferry uses.
        tool: strategy === UPSERT_STRATEGY ? `ferry (${strategy})` : strategy,
        async prepare() {
          await withDb(s.mariaTarget.url(), (db) => db.exec(`DELETE FROM ferry.ferry_checkpoint WHERE pipeline = 'bench-upserts-${strategy}'`)).catch(() => {});
          sink = await openMysqlSink({
            url: s.mariaTarget.url(),
            checkpoint: CHECKPOINT_TABLES.mysql,
            pipeline: `bench-upserts-${strategy}`,
            connections: 2,
            stallTimeoutSeconds: 600,
            log: pino({ level: 'silent' }),
            upserts: strategy,
          });
          await sink.claim();
          await sink.prepare([table], 'drop-and-create');
          await sink.createIndexes([table]);
          await applyAll(sink, rows, (id) => ({ op: 'c', table: table.source, key: { id }, before: null, after: item(id, 0) }));
        },
        run: () => applyAll(sink, rows, (id) => ({ op: 'u', table: table.source, key: { id }, before: item(id, 0), after: item(id, 1) })),
        async check() {
          await sink.close();
          let qty = 0;
          let notes = 0;
          for (let id = 1; id <= rows; id++) {
            const r = item(id, 1);
            qty += Number(r.qty);
            notes += String(r.note).length;
          }
          const expected = `${rows}:${qty}:${notes}`;
          const actual = await withDb(s.mariaTarget.url(), (db) =>
            db.scalar(`SELECT CONCAT(count(*), ':', sum(qty), ':', sum(length(note))) FROM ${table.target.schema}.items`),
          );
          if (actual !== expected) throw new Error(`${table.target.schema}.items is ${actual} (count:sum(qty):sum(length(note))), expected ${expected}`);
        },
      };
    }),
  };
}
