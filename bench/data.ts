import type { Db } from './db.js';

/**
 * The benchmark table, the same on both engines: six columns (bigint key, int, varchar, decimal,
 * varchar(200), datetime(6)) and a secondary index, in schema (MySQL: database) `bench`, and the
 * one-row table bench.done that marks the end of a backlog.
 * Rows are a pure function of their id, so every server can generate the same data.
 */
export async function createItems(db: Db, options: { bare?: boolean; schema?: string } = {}): Promise<void> {
  const key = options.bare ? '' : ' PRIMARY KEY';
  const schema = options.schema ?? 'bench';
  if (db.engine === 'mysql') {
    await db.exec(`CREATE DATABASE IF NOT EXISTS ${schema}`);
    await db.exec(`CREATE TABLE ${schema}.items (id BIGINT NOT NULL${key}, qty INT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL,
      note VARCHAR(200), created_at DATETIME(6) NOT NULL${options.bare ? '' : ', KEY items_qty (qty)'}) ENGINE=InnoDB`);
    await db.exec(`CREATE TABLE ${schema}.done (id INT PRIMARY KEY)`);
    return;
  }
  await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await db.exec(`CREATE TABLE ${schema}.items (id bigint NOT NULL${key}, qty integer NOT NULL, name varchar(64) NOT NULL, price numeric(12,2) NOT NULL,
    note varchar(200), created_at timestamp(6) NOT NULL)`);
  if (!options.bare) await db.exec(`CREATE INDEX items_qty ON ${schema}.items (qty)`);
  await db.exec(`CREATE TABLE ${schema}.done (id integer PRIMARY KEY)`);
}

/** Inserts rows `from`..`to` in one statement (one source transaction). */
export function insertRange(db: Db, from: number, to: number): Promise<void> {
  if (db.engine === 'mysql') {
    return db.exec(`INSERT INTO bench.items SELECT seq, seq % 1000, CONCAT('item-', seq), (seq % 100000) / 100, CONCAT(MD5(seq), MD5(seq + 1), ' ', seq),
      TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq % 1000000 MICROSECOND FROM seq_${from}_to_${to}`);
  }
  return db.exec(`INSERT INTO bench.items SELECT g, g % 1000, 'item-' || g, (g % 100000) / 100.0, md5(g::text) || md5((g + 1)::text) || ' ' || g,
    timestamp '2024-01-01' + g * interval '1 second' + (g % 1000000) * interval '1 microsecond' FROM generate_series(${from}, ${to}) g`);
}

/** Fills bench.items with rows 1..rows, 100,000 per transaction. */
export async function fillItems(db: Db, rows: number): Promise<void> {
  for (let from = 1; from <= rows; from += 100_000) await insertRange(db, from, Math.min(rows, from + 99_999));
}

/** The shape of a change backlog: inserts, then updates of the first rows, then deletes of the last, in transactions of `txRows`. */
export interface Backlog {
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly txRows: number;
}

export function backlogFor(rows: number): Backlog {
  return { inserts: rows, updates: Math.round(rows / 4), deletes: Math.round(rows / 10), txRows: 1000 };
}

/** Writes `b` into an empty bench.items, then the marker row bench.done(1), which commits last. */
export async function writeBacklog(db: Db, b: Backlog): Promise<void> {
  for (let from = 1; from <= b.inserts; from += b.txRows) await insertRange(db, from, Math.min(b.inserts, from + b.txRows - 1));
  const note = db.engine === 'mysql' ? "CONCAT('updated ', id)" : "'updated ' || id";
  for (let from = 1; from <= b.updates; from += b.txRows) {
    await db.exec(`UPDATE bench.items SET qty = qty + 1, note = ${note} WHERE id BETWEEN ${from} AND ${Math.min(b.updates, from + b.txRows - 1)}`);
  }
  for (let from = b.inserts - b.deletes + 1; from <= b.inserts; from += b.txRows) {
    await db.exec(`DELETE FROM bench.items WHERE id BETWEEN ${from} AND ${Math.min(b.inserts, from + b.txRows - 1)}`);
  }
  await db.exec('INSERT INTO bench.done VALUES (1)');
}

/** A fingerprint of bench.items that two engines print alike: count, sum of qty, total note length. */
export function fingerprint(db: Db): Promise<string | null> {
  return db.scalar("SELECT CONCAT(count(*), ':', sum(qty), ':', sum(length(note))) FROM bench.items");
}

export async function hasMarker(db: Db): Promise<boolean> {
  return (await db.scalar('SELECT count(*) FROM bench.done WHERE id = 1').catch(() => '0')) === '1';
}
