import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryEventBus } from '../../src/core/events.js';
import { waitFor } from '../helpers/ferry.js';
import { startInProcess, type InProcessPipeline } from '../helpers/in-process.js';
import { ROUTES, routeDatabases, type RouteDatabases } from '../helpers/routes.js';
import { TEST_TRANSFORM } from '../helpers/test-transform.js';

/**
 * The transform seam on real servers: a pipeline started with TEST_TRANSFORM (test code, not
 * config) lands `people` as `persons` with `name` renamed, `email` upper-cased and hidden rows left
 * out, in the snapshot and in the stream alike; `notes`, which the transform leaves alone, arrives
 * as it is. From Postgres, `notes` still goes by the COPY text fast path and `people` cannot.
 */
const routes = ROUTES.filter((r) => r.target === 'postgres');

const CHUNK_ROWS = 10;

describe.each(routes)('transform seam: $label', (route) => {
  const name = `seam_${route.source}`;
  let db: RouteDatabases;
  let pipeline: InProcessPipeline | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    await pipeline?.stop();
    await db?.close();
  });

  /** What the target must hold of the source's `people`: the transform applied to the source's rows, by hand. */
  async function expectedPersons(): Promise<Record<string, unknown>[]> {
    const rows = await db.source.query("SELECT id, name, email, status FROM people WHERE status <> 'hidden' ORDER BY id");
    return rows.map((r) => ({ id: Number(r.id), full_name: r.name, email: String(r.email).toUpperCase(), status: r.status }));
  }

  const persons = async () =>
    (await db.target.query(`SELECT id, full_name, email, status FROM ${db.targetSchema}.persons ORDER BY id`)).map((r) => ({ ...r, id: Number(r.id) }));
  const notes = async (on = db.target, schema = db.targetSchema) => on.query(`SELECT id, body FROM ${schema}.notes ORDER BY id`);

  it('applies one transform to snapshot rows and to streamed inserts, updates, deletes, ADD COLUMN and TRUNCATE', async () => {
    const series = (n: number) => (route.source === 'mysql' ? `seq_1_to_${n}` : `generate_series(1, ${n}) AS g(seq)`);
    await db.source.query(`
      CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(100), status VARCHAR(10) NOT NULL);
      CREATE INDEX people_name ON people (name);
      CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL);
      INSERT INTO people SELECT seq, CONCAT('name ', seq), CONCAT('person', seq, '@example.com'), CASE WHEN seq % 10 = 0 THEN 'hidden' ELSE 'shown' END FROM ${series(100)};
      INSERT INTO notes SELECT seq, CONCAT('note ', seq) FROM ${series(100)}`);
    const events = new FerryEventBus();
    const chunks: Record<string, number[]> = {};
    events.on('snapshot-chunk-loaded', (c) => (chunks[c.table] ??= []).push(c.rows));
    let streaming = false;
    events.on('stream-started', () => {
      streaming = true;
    });
    pipeline = startInProcess(db.config({ snapshot: { chunkRows: CHUNK_ROWS } }), events, TEST_TRANSFORM);
    const { running } = pipeline;
    await running(waitFor('the stream to start', async () => streaming));

    // The snapshot: transformed rows for people, the source's rows for notes, and no table under the source's name.
    expect(await persons()).toEqual(await expectedPersons());
    expect(await persons()).toHaveLength(90);
    expect(await notes()).toEqual(await notes(db.source, db.sourceSchema));
    const tables = await db.target.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${db.targetSchema}' ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual(['notes', 'persons']);
    // Postgres COPY text comes TEXT_CHUNK_FACTOR times the chunk at once; decoded rows CHUNK_ROWS at a time.
    const sourceTable = (t: string) => `${db.sourceSchema}.${t}`;
    expect(Math.max(...chunks[sourceTable('people')]!)).toBe(CHUNK_ROWS);
    expect(Math.max(...chunks[sourceTable('notes')]!)).toBe(route.source === 'postgres' ? 4 * CHUNK_ROWS : CHUNK_ROWS);

    await db.source.query(`
      INSERT INTO people VALUES (101, 'new one', 'new@example.com', 'shown'), (102, 'new hidden', 'hidden@example.com', 'hidden');
      UPDATE people SET name = 'renamed', email = 'changed@example.com' WHERE id = 1;
      UPDATE people SET status = 'shown' WHERE id = 10;
      UPDATE people SET status = 'hidden' WHERE id = 2;
      UPDATE people SET id = 103 WHERE id = 4;
      UPDATE people SET name = 'still hidden' WHERE id = 20;
      DELETE FROM people WHERE id IN (3, 30);
      INSERT INTO notes VALUES (101, 'new note');
      UPDATE notes SET body = 'changed' WHERE id = 1;
      DELETE FROM notes WHERE id = 2;`);
    await running(db.waitCaughtUp());
    expect(await persons()).toEqual(await expectedPersons());
    expect((await persons()).find((p) => p.id === 1)).toEqual({ id: 1, full_name: 'renamed', email: 'CHANGED@EXAMPLE.COM', status: 'shown' });
    expect(await notes()).toEqual(await notes(db.source, db.sourceSchema));

    // ADD COLUMN reaches persons through the table's plan; TRUNCATE through its mapping.
    await db.source.query(`
      ALTER TABLE people ADD COLUMN nick VARCHAR(20);
      INSERT INTO people VALUES (104, 'with nick', 'nick@example.com', 'shown', 'nicky');
      TRUNCATE notes;
      INSERT INTO notes VALUES (7, 'after truncate');`);
    await running(db.waitCaughtUp());
    expect(await db.target.query(`SELECT full_name, email, nick FROM ${db.targetSchema}.persons WHERE id = 104`)).toEqual([
      { full_name: 'with nick', email: 'NICK@EXAMPLE.COM', nick: 'nicky' },
    ]);
    expect(await persons()).toEqual(await expectedPersons());
    expect(await notes()).toEqual([{ id: 7, body: 'after truncate' }]);
    await db.source.query('TRUNCATE people');
    await running(db.waitCaughtUp());
    expect(await persons()).toEqual([]);
  });
});
