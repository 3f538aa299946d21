import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryEventBus } from '../../src/core/events.js';
import { runSqlBlocking } from '../helpers/blocking-sql.js';
import { waitFor } from '../helpers/ferry.js';
import { startInProcess, type InProcessPipeline } from '../helpers/in-process.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import { describeMssqlRoutes, ROUTES, type Route, routeDatabases, type RouteDatabases, type TargetEngine } from '../helpers/routes.js';

/**
 * A column added after the pipeline described the tables (and prepared the target from that
 * description) but before the source's stream starts: the target was prepared without it, so the
 * stream must hand it on as an ADD COLUMN, not take it for a column the target already has.
 * 'stream-started' is emitted after the target is prepared and just before the stream is started,
 * synchronously: the ALTER, run to its commit inside the listener, falls exactly in that window.
 */
function columnAddedAsTheStreamStarts(route: Route<TargetEngine>): void {
  const name = `addstart_${route.source}_${route.target}`;
  let db: RouteDatabases<TargetEngine>;
  let pipeline: InProcessPipeline | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => {
    await pipeline?.stop();
    await db?.close();
  });

  it('reaches the target, with the values written after it', async () => {
    await db.source.query("CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL); INSERT INTO products VALUES (1, 'one')");
    const events = new FerryEventBus();
    let altered = false;
    events.on('stream-started', () => {
      if (altered) return;
      altered = true;
      runSqlBlocking(route.source, db.source.url, "ALTER TABLE products ADD COLUMN price DECIMAL(8,2); INSERT INTO products VALUES (2, 'two', 9.99)");
    });
    pipeline = startInProcess(db.config(), events);
    const { running } = pipeline;
    await running(waitFor('the stream to start', async () => altered));

    await db.source.query("INSERT INTO products VALUES (3, 'three', 1.50); UPDATE products SET price = 0.25 WHERE id = 1");
    await running(db.waitCaughtUp());
    expect(await rowsAsText(db.target, db.targetSchema, 'products', ['id', 'name', 'price'])).toEqual([
      { id: '1', name: 'one', price: '0.25' },
      { id: '2', name: 'two', price: '9.99' },
      { id: '3', name: 'three', price: '1.50' },
    ]);
  });
}

describe.each(ROUTES)('a column added as the stream starts: $label', columnAddedAsTheStreamStarts);
describeMssqlRoutes('a column added as the stream starts', columnAddedAsTheStreamStarts);
