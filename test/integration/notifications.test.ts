import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, cutoverEnd, lagSeconds, startWithAdmin } from '../helpers/admin.js';
import { sampleValue } from '../helpers/exposition.js';
import { waitFor } from '../helpers/ferry.js';
import { checkMetrics } from '../helpers/promtool.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, targetTable, type RouteDatabases } from '../helpers/routes.js';
import { type Received, startReceiver } from '../helpers/webhook-receiver.js';
import { startWriteLoad } from '../helpers/write-load.js';

/**
 * notify.webhooks through the built CLI, MariaDB → Postgres: one receiver gets every kind the run
 * produces with valid signatures (phases, snapshot, a table quarantined by an operator's CHECK and
 * lifted by its resync, dead letters, lag above the ready threshold while paused and back, the
 * cutover's states); one is really down (its server closed, connections refused) for 30 s while the
 * stream goes on under a write load, dead-letters a row and resyncs a table, then listens again on
 * its port and gets everything in order, each id once, within one back-off cap; one accepts
 * connections and never answers, and the stream goes on regardless while its queue stays at its
 * bound and counts what it drops. GET /events lists them.
 */

const SECRETS = { good: 'secret-of-the-good-receiver', flaky: 'secret-of-the-flaky-receiver', silent: 'secret-of-the-silent-receiver' };
/** How long the flaky receiver is down, and the longest wait between two of ferry's tries. */
const OUTAGE_MS = 30_000;
const RETRY_MAX_SECONDS = 5;

describe('notify.webhooks, MariaDB → Postgres', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' }, 'notify_my');
  });
  afterAll(async () => db?.close());

  it('delivers every kind signed, in order after a 30 s outage with no duplicate, and a receiver that never answers slows nothing', async () => {
    const s = db.sourceSchema;
    await db.source.query(
      `${ITEMS_DDL}; ${seedItemsSql('mysql', 100)}; ${ITEMS_DDL.replace('items', 'letters')}; ${ITEMS_DDL.replace('items', 'orders')}; ${seedItemsSql('mysql', 100).replace('INTO items', 'INTO orders')}`,
    );
    const [good, flaky, silent] = await Promise.all([
      startReceiver(SECRETS.good),
      startReceiver(SECRETS.flaky),
      startReceiver(SECRETS.silent, { silent: true }),
    ]);
    const { ferry, admin } = await startWithAdmin(
      db.config({
        errors: { policy: 'stop', tables: { [`${s}.items`]: 'quarantine-table', [`${s}.letters`]: 'dead-letter' } },
        notify: {
          webhooks: [
            { url: good.url, secret: SECRETS.good },
            { url: flaky.url, secret: SECRETS.flaky, retryMaxSeconds: RETRY_MAX_SECONDS },
            { url: silent.url, secret: SECRETS.silent, timeoutSeconds: 300, queueMax: 5 },
          ],
        },
      }),
      { readyMaxLagSeconds: 2 },
    );
    const kinds = () => new Set(good.got.map((n) => n.kind));
    const metric = async (name: string, receiver: string) => sampleValue((await adminCall(admin, '/metrics')).body.text as string, name, { receiver });
    const listed = async () => (await adminCall(admin, '/events?limit=1000')).body.events as Received[];
    try {
      await waitFor('streaming, notified', async () => good.got.some((n) => n.kind === 'phase' && n.phase === 'streaming'));

      // A CHECK the operator adds on the target quarantines items (and, later, one on letters dead-letters a row).
      await db.target.query(
        `ALTER TABLE ${targetTable(db, 'items')} ADD CONSTRAINT amount_cap CHECK (amount < 5000); ALTER TABLE ${targetTable(db, 'letters')} ADD CONSTRAINT amount_cap CHECK (amount < 5000)`,
      );
      await db.source.query("INSERT INTO items VALUES (900000, 1, 'bad', 9000)");
      await waitFor('the quarantine, notified', async () => kinds().has('table-quarantined'));

      // Paused, nothing is applied and lag grows past readyMaxLagSeconds; resumed, it falls back. Lag is known
      // once a transaction is applied (the held items one is not, and a heartbeat may not have come yet).
      await db.source.query("INSERT INTO orders VALUES (900000, 1, 'ok', 1)");
      await waitFor('a transaction applied: lag known', async () => (await lagSeconds(admin)) !== null);
      expect((await adminCall(admin, '/pause', { method: 'POST' })).status).toBe(200);
      await waitFor('lag above the threshold, notified', async () => kinds().has('lag-above'));
      expect((await adminCall(admin, '/resume', { method: 'POST' })).status).toBe(200);
      await waitFor('lag back below, notified', async () => good.got.filter((n) => n.kind.startsWith('lag-')).at(-1)?.kind === 'lag-below');

      // The flaky receiver has taken every notification so far (none under way: a POST it took whose answer
      // its outage cut would rightly come again), then its server goes away: ferry's tries are refused.
      await waitFor('the flaky receiver to have taken every notification so far', async () => {
        const ids = (await listed()).map((n) => n.id);
        return (await metric('ferry_notifications_sent_total', flaky.url)) === ids.length && flaky.got.map((n) => n.id).join() === ids.join();
      });
      const before = flaky.got.length;
      const failedBefore = (await metric('ferry_notifications_failed_total', flaky.url)) ?? 0;
      await flaky.stop();
      const down = Date.now();

      // Down for 30 s while a write load runs: a row dead-lettered, items fixed and resynced (its hold lifted),
      // each notified to the good receiver at once; ferry's lag, sampled throughout, stays low.
      const load = startWriteLoad(db.source, 'orders', { firstId: 1000, seedRows: 100, pauseMs: 100 });
      const lags: number[] = [];
      const sampling = (async () => {
        while (Date.now() < down + OUTAGE_MS) {
          const lag = await lagSeconds(admin);
          if (lag !== null) lags.push(lag);
          await sleep(250);
        }
      })();
      await db.source.query("INSERT INTO letters VALUES (900000, 1, 'bad', 9000)");
      await waitFor('the dead letter, notified', async () => kinds().has('rows-dead-lettered'));
      await db.target.query(`ALTER TABLE ${targetTable(db, 'items')} DROP CONSTRAINT amount_cap`);
      expect((await adminCall(admin, `/tables/${s}.items/resync`, { method: 'POST' })).status).toBe(202);
      await waitFor('the resync done and the hold lifted, notified', async () => kinds().has('resync-done') && kinds().has('table-quarantine-lifted'));
      await sampling;
      await load.stop();
      const outageKinds = good.got.slice(before).map((n) => n.kind);
      expect(outageKinds).toEqual(expect.arrayContaining(['rows-dead-lettered', 'resync-started', 'table-quarantine-lifted', 'resync-done']));
      expect(flaky.got.length).toBe(before);
      expect(await metric('ferry_notifications_queued', flaky.url)).toBeGreaterThan(0);
      expect(lags.length).toBeGreaterThanOrEqual(20);
      const maxLag = Math.max(...lags);
      // A stream held up by the receiver would lag by the whole outage.
      expect(maxLag).toBeLessThan(OUTAGE_MS / 3000);
      // Tried again and again, with back-off: at least every RETRY_MAX_SECONDS, never in a tight loop.
      const failedTries = (await metric('ferry_notifications_failed_total', flaky.url))! - failedBefore;
      const outageSeconds = (Date.now() - down) / 1000;
      expect(failedTries).toBeGreaterThanOrEqual(Math.floor(outageSeconds / RETRY_MAX_SECONDS));
      // The first four tries back off 0.5, 1, 2 and 4 s, each at least half of it (equal jitter), the others at least half the cap.
      expect(failedTries).toBeLessThanOrEqual(5 + outageSeconds / (RETRY_MAX_SECONDS / 2));

      // Back on its port: the next try, at most one back-off cap later, finds it (checked below, while the rest goes on).
      await flaky.restart();
      const up = Date.now();

      // The receiver that never answers holds its bounded queue and drops the rest; the stream went on.
      await db.waitCaughtUp();
      const metrics = (await adminCall(admin, '/metrics')).body.text as string;
      expect(sampleValue(metrics, 'ferry_notifications_queued', { receiver: silent.url })).toBeLessThanOrEqual(5);
      expect(sampleValue(metrics, 'ferry_notifications_dropped_total', { receiver: silent.url })).toBeGreaterThan(0);
      expect(sampleValue(metrics, 'ferry_notifications_sent_total', { receiver: silent.url })).toBe(0);
      expect(silent.state.connections).toBe(1);
      expect(await checkMetrics(metrics), 'promtool check metrics').toBe('');

      // Then a cutover runs to completion.
      expect((await adminCall(admin, '/cutover', { method: 'POST', body: JSON.stringify({ fence: 'none', verify: 'none' }) })).status).toBe(202);
      expect((await cutoverEnd(admin)).state).toBe('completed');
      await waitFor('the completed cutover, notified', async () => good.got.some((n) => n.kind === 'cutover-state' && n.state === 'completed'));

      expect([...kinds()]).toEqual(
        expect.arrayContaining([
          'cutover-state',
          'lag-above',
          'lag-below',
          'phase',
          'resync-done',
          'resync-started',
          'rows-dead-lettered',
          'snapshot-done',
          'snapshot-started',
          'snapshot-table-done',
          'table-quarantine-lifted',
          'table-quarantined',
        ]),
      );
      expect(good.got.filter((n) => n.kind === 'cutover-state').map((n) => n.state)).toEqual([
        'preflight',
        'fencing',
        'draining',
        // verify: none skips verifying.
        'finalizing',
        'completed',
      ]);
      expect(good.got.find((n) => n.kind === 'table-quarantined')).toMatchObject({ table: `${s}.items`, reason: 'check', pipeline: db.name });
      expect(good.got.find((n) => n.kind === 'rows-dead-lettered')).toMatchObject({ table: `${s}.letters`, rows: 1 });
      expect(good.badSignatures).toEqual([]);

      // The flaky receiver got everything the good one did, in order, each id once, the outage's after its return.
      const ids = good.got.map((n) => n.id);
      await waitFor('the flaky receiver to catch up', async () => flaky.got.length >= ids.length);
      const resumedMs = flaky.gotAt[before]! - up;
      expect(resumedMs).toBeLessThanOrEqual(RETRY_MAX_SECONDS * 1000 + 4000);
      await waitFor('the flaky receiver to have nothing queued', async () => (await metric('ferry_notifications_queued', flaky.url)) === 0, 10_000);
      expect(flaky.badSignatures).toEqual([]);
      expect(flaky.got.slice(0, ids.length).map((n) => n.id)).toEqual(ids);
      expect(new Set(flaky.got.map((n) => n.id)).size).toBe(flaky.got.length);
      expect(flaky.got.map((n) => n.sequence)).toEqual(flaky.got.map((n) => n.sequence).sort((a, b) => a - b));
      expect(flaky.gotAt.slice(before).every((at) => at >= up)).toBe(true);

      // GET /events lists what the receivers got, newest last; no secret anywhere ferry shows.
      expect((await listed()).slice(0, ids.length).map((n) => n.id)).toEqual(ids);
      const shown = `${ferry.output()}${JSON.stringify((await adminCall(admin, '/status')).body)}${(await adminCall(admin, '/metrics')).body.text}`;
      for (const secret of Object.values(SECRETS)) expect(shown).not.toContain(secret);
      console.log(
        `notifications: ${good.got.length} of ${kinds().size} kinds to the good receiver; flaky receiver down ${outageSeconds.toFixed(1)} s (connections refused) while ${outageKinds.length} were notified (${outageKinds.join(', ')}): ${failedTries} failed tries, the first delivery ${(resumedMs / 1000).toFixed(1)} s after it listened again, then all ${flaky.got.length} in order, each once; lag during the outage at most ${maxLag.toFixed(1)} s over ${lags.length} samples with ${load.transactions} load transactions; silent receiver dropped ${await metric('ferry_notifications_dropped_total', silent.url)}`,
      );
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
      await Promise.all([good.close(), flaky.close(), silent.close()]);
    }
  });
});
