import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { adminCall, blockTarget, lagSeconds, startWithAdmin, waitReady } from '../helpers/admin.js';
import { waitFor } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type Route } from '../helpers/routes.js';

const ROUTES: readonly (Route & { name: string })[] = [
  { source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres', name: 'lag_my' },
  { source: 'postgres', target: 'postgres', label: 'Postgres → Postgres', name: 'lag_pg' },
];

/**
 * ferry_replication_lag_seconds is honest: a quiet source shows ~0 (heartbeats are applied every
 * second), and lag grows while the target is blocked and ferry cannot apply, turning /readyz red.
 * Both sources at once: each takes a minute and a half.
 */
describe('replication lag', () => {
  it.concurrent.each(ROUTES)(
    '$label: below 5 s for an idle minute; rising while the target is blocked',
    async (route) => {
      const db = await routeDatabases(route, route.name);
      await db.source.query(`${ITEMS_DDL}; ${seedItemsSql(route.source, 100)}`);
      const { ferry, admin } = await startWithAdmin(db.config(), { readyMaxLagSeconds: 4 });
      try {
        await waitReady(admin);
        let max = 0;
        const started = Date.now();
        while (Date.now() - started < 60_000) {
          const lag = await lagSeconds(admin);
          expect(lag).not.toBeNull();
          max = Math.max(max, lag!);
          await sleep(500);
        }
        console.log(`${route.label}: idle for 60 s, lag at most ${max.toFixed(2)} s`);
        expect(max).toBeLessThan(5);

        const release = await blockTarget(db);
        await db.source.query("INSERT INTO items VALUES (100001, 1, 'blocked', 1)");
        const rising: number[] = [];
        for (let i = 0; i < 8; i++) {
          await sleep(1000);
          rising.push((await lagSeconds(admin))!);
        }
        console.log(`${route.label}: target blocked, lag each second: ${rising.map((l) => l.toFixed(1)).join(' ')}`);
        expect(rising[rising.length - 1]!).toBeGreaterThan(6);
        expect(rising[rising.length - 1]!).toBeGreaterThan(rising[2]!);
        expect((await adminCall(admin, '/readyz')).status).toBe(503);
        await release();
        await waitFor('lag to fall once the target is free', async () => ((await lagSeconds(admin)) ?? 99) < 2, 30_000);
        expect((await adminCall(admin, '/readyz')).status).toBe(200);
      } finally {
        ferry.child.kill('SIGKILL');
        await db.close();
      }
    },
    180_000,
  );
});
