import { createItems, hasMarker, insertRange } from './data.js';
import { freshDatabase, until, withDb } from './db.js';
import { dropFerrySlots } from './snapshot-arms.js';
import { Ferry } from './processes.js';
import type { Results } from './results.js';
import type { Servers } from './servers.js';

/** Peak resident memory of a streaming ferry while one source transaction inserts `rows` rows. */
export async function memoryArm(s: Servers, o: { rows: number; runs: number; results: Results }): Promise<void> {
  const arm = `peak RSS, one ${o.rows.toLocaleString('en-US')}-row transaction`;
  const sources = [
    { tool: 'ferry MariaDB → Postgres', server: s.mariaSource, source: (url: string) => ({ type: 'mysql', url, serverId: 401 }) },
    { tool: 'ferry Postgres → Postgres', server: s.pgSource, source: (url: string) => ({ type: 'postgres', url }) },
  ];
  for (let run = 1; run <= o.runs; run++) {
    for (const { tool, server, source } of sources) {
      if (server === s.pgSource) await dropFerrySlots(s, 'mem').catch(() => {});
      // On MariaDB the schema bench is a database of its own.
      const sourceUrl = await freshDatabase(server.url(), server === s.pgSource ? 'mem' : 'bench');
      await withDb(sourceUrl, (db) => createItems(db));
      const targetUrl = await freshDatabase(s.pgTarget.url(), 'mem');
      const ferry = new Ferry(`mem-${run}-${server === s.pgSource ? 'pp' : 'mp'}`, { source: source(sourceUrl), target: { type: 'postgres', url: targetUrl } });
      await ferry.snapshot();
      const running = ferry.run();
      await withDb(sourceUrl, async (db) => {
        await db.exec('BEGIN');
        await insertRange(db, 1, o.rows);
        await db.exec('INSERT INTO bench.done VALUES (1)');
        await db.exec('COMMIT');
      });
      await withDb(targetUrl, (db) => until('the large transaction on the target', () => hasMarker(db), 100));
      const peak = running.peakRssMb();
      await running.stop();
      const applied = await withDb(targetUrl, (db) => db.scalar('SELECT count(*) FROM bench.items'));
      if (Number(applied) !== o.rows) throw new Error(`${tool}: the target has ${applied} rows after the transaction, not ${o.rows}`);
      console.log(`  ${arm} · ${tool} · run ${run}: ${peak.toFixed(0)} MiB`);
      o.results.add({ arm, tool, values: [peak], unit: 'MiB' });
    }
  }
}
