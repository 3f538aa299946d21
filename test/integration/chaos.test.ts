import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { describeMssqlRoutes, ITEMS_DDL, ROUTES, type Route, routeDatabases, seedItemsSql, type RouteDatabases, type TargetEngine } from '../helpers/routes.js';
import { startWriteLoad } from '../helpers/write-load.js';

const KILLS = 12;
const SEED_ROWS = 200_000;

function killNineChaos(route: Route<TargetEngine>): void {
  const name = `chaos_${route.source}_${route.target}`;
  let db: RouteDatabases<TargetEngine>;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
  });
  afterAll(async () => db?.close());

  it(`kills ferry run ${KILLS} times under a write load (during the snapshot and mid-stream); the target ends equal to the source`, async () => {
    await db.source.query(ITEMS_DDL);
    await db.source.query('CREATE INDEX ix_grp ON items (grp)');
    await db.source.query(seedItemsSql(route.source, SEED_ROWS));
    const load = startWriteLoad(db.source, 'items', { firstId: 1_000_000, pauseMs: 2, seedRows: SEED_ROWS });
    // Small chunks and batches: more commits, so more instants at which a kill lands between them.
    const config = writeConfig(db.config({ snapshot: { chunkRows: 2000, parallelism: 2 }, apply: { batchMaxRows: 500, batchMaxMs: 20 } }));
    const phases: string[] = [];
    try {
      for (let i = 0; i < KILLS; i++) {
        const ferry = startCli(['run', '-c', config]);
        if (i < 3) {
          // The first kills land while the snapshot is copying: right after this run commits its next chunk.
          const before = await db.snapshotRows();
          await waitFor('a snapshot chunk', async () => (await db.snapshotRows()) > before || (await db.checkpoint())?.phase === 'stream', 30_000);
          await sleep(Math.random() * 100);
        } else {
          // The later kills land mid-stream: this run is driven there (its snapshot resumed and finished,
          // its stream started) before a random instant of streaming under the load, however slow the machine.
          await waitFor('the stream to start', async () => (await db.checkpoint())?.phase === 'stream' && /streaming from/.test(ferry.output()), 120_000);
          await sleep(300 + Math.random() * 2000);
        }
        phases.push((await db.checkpoint())?.phase ?? 'none');
        ferry.child.kill('SIGKILL');
        const r = await ferry.done;
        expect(r.signal, r.stderr).toBe('SIGKILL');
      }
    } finally {
      await load.stop();
    }
    const ferry = startCli(['run', '-c', config]);
    await db.waitCaughtUp(120_000);
    const verdict = await verifyWithCli(config);
    ferry.child.kill('SIGTERM');
    const last = await ferry.done;
    expect(last.code, last.stderr).toBe(0);

    console.log(
      `chaos ${route.label}: ${KILLS} kills (phases at kill: ${phases.join(', ')}), ${load.transactions} load transactions, verify: ${JSON.stringify(verdict.tables)}`,
    );
    expect(phases.filter((p) => p === 'snapshot').length).toBeGreaterThan(0);
    expect(phases.filter((p) => p === 'stream').length).toBeGreaterThan(0);
    expect(verdict.equal).toBe(true);
  });
}

describe.each(ROUTES)('kill -9 chaos, $label', killNineChaos);
describeMssqlRoutes('kill -9 chaos', killNineChaos);
