import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, cutoverEnd, startWithAdmin } from '../helpers/admin.js';
import { sampleValue } from '../helpers/exposition.js';
import { waitFor } from '../helpers/ferry.js';
import { checkMetrics } from '../helpers/promtool.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, targetTable, type RouteDatabases } from '../helpers/routes.js';
import { startWriteLoad } from '../helpers/write-load.js';
import { signature } from '../../src/notify/signature.js';

/**
 * notify.webhooks through the built CLI, MariaDB → Postgres: one receiver gets every kind the run
 * produces with valid signatures (phases, snapshot, a table quarantined by an operator's CHECK and
 * lifted by its resync, dead letters, lag above the ready threshold while paused and back, the
 * cutover's states); one is down (503) until many notifications wait for it, then
 * gets them all in order, each id once; one accepts connections and never answers, and the stream
 * goes on regardless while its queue stays at its bound and counts what it drops. GET /events lists them.
 */

const SECRETS = { good: 'secret-of-the-good-receiver', flaky: 'secret-of-the-flaky-receiver', silent: 'secret-of-the-silent-receiver' };

interface Received {
  readonly id: string;
  readonly kind: string;
  readonly sequence: number;
  readonly [field: string]: unknown;
}

/** A receiver on loopback: records what it takes; `down` answers 503 Service Unavailable, `silent` never answers. */
async function startReceiver(secret: string, mode: { down?: boolean; silent?: boolean } = {}) {
  const got: Received[] = [];
  const badSignatures: string[] = [];
  const sockets = new Set<Socket>();
  const state = { ...mode, connections: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (state.silent) return;
      if (state.down) return res.writeHead(503).end();
      if (req.headers['x-ferry-signature'] !== signature(secret, body)) badSignatures.push(body);
      got.push(JSON.parse(body) as Received);
      res.writeHead(204).end();
    });
  });
  server.on('connection', (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ferry`,
    got,
    badSignatures,
    state,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('notify.webhooks, MariaDB → Postgres', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' }, 'notify_my');
  });
  afterAll(async () => db?.close());

  it('delivers every kind signed, in order after an outage with no duplicate, and a receiver that never answers slows nothing', async () => {
    const s = db.sourceSchema;
    await db.source.query(
      `${ITEMS_DDL}; ${seedItemsSql('mysql', 100)}; ${ITEMS_DDL.replace('items', 'letters')}; ${ITEMS_DDL.replace('items', 'orders')}; ${seedItemsSql('mysql', 100).replace('INTO items', 'INTO orders')}`,
    );
    const [good, flaky, silent] = await Promise.all([
      startReceiver(SECRETS.good),
      startReceiver(SECRETS.flaky, { down: true }),
      startReceiver(SECRETS.silent, { silent: true }),
    ]);
    const { ferry, admin } = await startWithAdmin(
      db.config({
        errors: { policy: 'stop', tables: { [`${s}.items`]: 'quarantine-table', [`${s}.letters`]: 'dead-letter' } },
        notify: {
          webhooks: [
            { url: good.url, secret: SECRETS.good },
            // Down until many notifications wait: retried at most a second apart, so it gets them soon after it returns.
            { url: flaky.url, secret: SECRETS.flaky, retryMaxSeconds: 1 },
            { url: silent.url, secret: SECRETS.silent, timeoutSeconds: 300, queueMax: 5 },
          ],
        },
      }),
      { readyMaxLagSeconds: 2 },
    );
    const kinds = () => new Set(good.got.map((n) => n.kind));
    const metric = async (name: string, receiver: string) => sampleValue((await adminCall(admin, '/metrics')).body.text as string, name, { receiver });
    try {
      await waitFor('streaming, notified', async () => good.got.some((n) => n.kind === 'phase' && n.phase === 'streaming'));

      // A CHECK the operator adds on the target quarantines items; one on letters dead-letters its row.
      await db.target.query(
        `ALTER TABLE ${targetTable(db, 'items')} ADD CONSTRAINT amount_cap CHECK (amount < 5000); ALTER TABLE ${targetTable(db, 'letters')} ADD CONSTRAINT amount_cap CHECK (amount < 5000)`,
      );
      await db.source.query("INSERT INTO items VALUES (900000, 1, 'bad', 9000); INSERT INTO letters VALUES (900000, 1, 'bad', 9000)");
      await waitFor('the quarantine and the dead letter, notified', async () => kinds().has('table-quarantined') && kinds().has('rows-dead-lettered'));

      // Paused, nothing is applied and lag grows past readyMaxLagSeconds; resumed, it falls back.
      expect((await adminCall(admin, '/pause', { method: 'POST' })).status).toBe(200);
      await waitFor('lag above the threshold, notified', async () => kinds().has('lag-above'));
      expect((await adminCall(admin, '/resume', { method: 'POST' })).status).toBe(200);
      await waitFor('lag back below, notified', async () => good.got.filter((n) => n.kind.startsWith('lag-')).at(-1)?.kind === 'lag-below');

      // The receiver that never answers holds its bounded queue and drops the rest; the stream goes on.
      const load = startWriteLoad(db.source, 'orders', { firstId: 1000, seedRows: 100, pauseMs: 5 });
      await waitFor('the load to run', async () => load.transactions >= 30);
      await load.stop();
      await db.waitCaughtUp();
      const metrics = (await adminCall(admin, '/metrics')).body.text as string;
      expect(sampleValue(metrics, 'ferry_notifications_queued', { receiver: silent.url })).toBeLessThanOrEqual(5);
      expect(sampleValue(metrics, 'ferry_notifications_dropped_total', { receiver: silent.url })).toBeGreaterThan(0);
      expect(sampleValue(metrics, 'ferry_notifications_sent_total', { receiver: silent.url })).toBe(0);
      expect(silent.state.connections).toBe(1);
      expect(await checkMetrics(metrics), 'promtool check metrics').toBe('');

      // The flaky receiver comes back after many failed tries: it gets everything, in order, once.
      expect(sampleValue(metrics, 'ferry_notifications_failed_total', { receiver: flaky.url })).toBeGreaterThanOrEqual(3);
      flaky.state.down = false;

      // Fixed and resynced, the hold is lifted; then a cutover runs to completion.
      await db.target.query(`ALTER TABLE ${targetTable(db, 'items')} DROP CONSTRAINT amount_cap`);
      expect((await adminCall(admin, `/tables/${s}.items/resync`, { method: 'POST' })).status).toBe(202);
      await waitFor('the resync done and the hold lifted, notified', async () => kinds().has('resync-done') && kinds().has('table-quarantine-lifted'));
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

      const ids = good.got.map((n) => n.id);
      await waitFor('the flaky receiver to catch up', async () => flaky.got.length >= ids.length);
      expect(flaky.badSignatures).toEqual([]);
      expect(flaky.got.slice(0, ids.length).map((n) => n.id)).toEqual(ids);
      expect(new Set(flaky.got.map((n) => n.id)).size).toBe(flaky.got.length);
      expect(flaky.got.map((n) => n.sequence)).toEqual(flaky.got.map((n) => n.sequence).sort((a, b) => a - b));

      // GET /events lists what the receivers got, newest last; no secret anywhere ferry shows.
      const listed = (await adminCall(admin, '/events?limit=1000')).body.events as Received[];
      expect(listed.slice(0, ids.length).map((n) => n.id)).toEqual(ids);
      const shown = `${ferry.output()}${JSON.stringify((await adminCall(admin, '/status')).body)}${(await adminCall(admin, '/metrics')).body.text}`;
      for (const secret of Object.values(SECRETS)) expect(shown).not.toContain(secret);
      console.log(
        `notifications: ${good.got.length} of ${kinds().size} kinds to the good receiver; flaky receiver ${await metric('ferry_notifications_failed_total', flaky.url)} failed tries then all in order; silent receiver dropped ${await metric('ferry_notifications_dropped_total', silent.url)}, ${load.transactions} load transactions applied meanwhile`,
      );
    } finally {
      ferry.child.kill('SIGTERM');
      await ferry.done;
      await Promise.all([good.close(), flaky.close(), silent.close()]);
    }
  });
});
