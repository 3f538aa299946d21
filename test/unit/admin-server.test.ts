import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminDeps, type AdminServer } from '../../src/admin/admin-server.js';
import { CutoverController } from '../../src/admin/cutover.js';
import { FerryEventBus } from '../../src/core/events.js';
import { makeLogger } from '../../src/log.js';
import { FerryMetrics } from '../../src/metrics/metrics.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';
import { PauseGate } from '../../src/core/pause-gate.js';
import { ResyncRequests } from '../../src/pipeline/resync-requests.js';
import { RecentEvents } from '../../src/notify/recent-events.js';
import { notify } from '../../src/notify/notifier.js';
import { CUTOVER_REQUEST, cutoverOf, ended, ORDERS } from '../helpers/cutover.js';

/** This host's first address that is not loopback: a request from it is a remote one. */
function outsideAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
  if (!address) throw new Error('this host has no non-loopback IPv4 address to test remote requests from');
  return address;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** A raw request, so that Host and Origin are what a browser would send (fetch sets Host itself). */
function post(port: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, string> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The admin API without a token on `listen`, with `resyncs`, `deadLetters` where the target keeps them, and a cutover of its own unless given one. */
function startTestAdmin(
  listen: string,
  resyncs: ResyncRequests,
  deadLetters?: AdminDeps['deadLetters'],
  cutover?: CutoverController,
  recentEvents = new RecentEvents(),
): Promise<AdminServer> {
  const events = new FerryEventBus();
  const status = new LiveStatus('p', events);
  const log = makeLogger('error');
  const unused = async () => Promise.reject(new Error('not in this test'));
  return startAdminServer(listen, {
    status,
    metrics: new FerryMetrics('p', events, status, { source: false, target: false }),
    gate: new PauseGate(events),
    log,
    token: undefined,
    readyMaxLagSeconds: 5,
    cutover:
      cutover ??
      new CutoverController({ events, status, log, openSource: unused, openSink: unused, stopStream: async () => {}, defaultVerify: 'checksums', resyncs }),
    resyncs,
    recentEvents,
    ...(deadLetters ? { deadLetters } : {}),
  });
}

/** Without admin.token, POST is for this host only; GET is for anyone (metrics, health). */
describe('admin API without a token', () => {
  let server: AdminServer;
  let port: string;
  let resyncs: ResyncRequests;
  beforeAll(async () => {
    resyncs = new ResyncRequests(makeLogger('error'));
    server = await startTestAdmin('0.0.0.0:0', resyncs);
    port = new URL(server.url).port;
  });
  afterAll(() => server?.close());

  it('accepts POST from loopback', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/pause`, { method: 'POST', headers: JSON_TYPE });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ paused: true });
    expect((await fetch(`http://localhost:${port}/resume`, { method: 'POST', headers: JSON_TYPE })).status).toBe(200);
  });

  it('refuses a cross-site POST a web page can send without a preflight (403), and a POST that is not JSON (415)', async () => {
    const crossSite = { origin: 'http://evil.example', 'content-type': 'text/plain' };
    const cutover = await post(port, '/cutover', crossSite, '{"fence":"none","verify":"counts"}');
    expect(cutover.status).toBe(403);
    expect(cutover.body.error).toMatch(/cross-site POST refused: Origin http:\/\/evil\.example/);
    expect((await post(port, '/pause', crossSite)).status).toBe(403);
    expect((await post(port, '/pause', { origin: 'null', ...JSON_TYPE })).status, 'an opaque origin (sandboxed frame, file://)').toBe(403);
    const plain = await post(port, '/pause', { 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(plain.body.hint).toMatch(/Content-Type: application\/json/);
    expect((await post(port, '/pause', {})).status, 'no content type at all').toBe(415);
    expect((await fetch(`http://127.0.0.1:${port}/status`)).status, 'GET needs none of it').toBe(200);
    expect((await (await fetch(`http://127.0.0.1:${port}/status`)).json()).paused, 'nothing was paused').toBe(false);
  });

  it('refuses POST naming a host that is not this one (a DNS name rebound to 127.0.0.1), even from its own origin', async () => {
    const rebound = await post(port, '/pause', { host: `rebound.evil.example:${port}`, origin: `http://rebound.evil.example:${port}`, ...JSON_TYPE });
    expect(rebound.status).toBe(403);
    expect(rebound.body.error).toMatch(/rebound\.evil\.example/);
    expect((await post(port, '/pause', { host: `[::1]:${port}`, ...JSON_TYPE })).status).toBe(200);
    expect((await post(port, '/resume', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, ...JSON_TYPE })).status, 'same origin').toBe(200);
  });

  it('refuses POST from another address with 403 and says how to allow it, but serves GET', async () => {
    const res = await fetch(`http://${outsideAddress()}:${port}/resume`, { method: 'POST', headers: JSON_TYPE });
    expect(res.status).toBe(403);
    expect((await res.json()).hint).toMatch(/admin\.token/);
    expect((await fetch(`http://${outsideAddress()}:${port}/healthz`)).status).toBe(200);
  });

  it('answers a cutover that cannot start (not streaming) with its reason', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/cutover`, { method: 'POST', headers: JSON_TYPE, body: '{"verify": "none"}' });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 50));
    const view = await (await fetch(`http://127.0.0.1:${port}/cutover`)).json();
    expect(view).toMatchObject({ state: 'failed', reason: expect.stringMatching(/not streaming/) });
    expect(view.reason).not.toMatch(/writable again/); // nothing was fenced
  });

  it('answers POST /tables/{schema.table}/resync: 409 while not streaming, 404 naming the replicated tables, 202 with the resync', async () => {
    const resync = (table: string, method = 'POST') =>
      fetch(`http://127.0.0.1:${port}/tables/${table}/resync`, { method, headers: JSON_TYPE, ...(method === 'POST' ? { body: '{}' } : {}) });
    const idle = await resync('shop.orders');
    expect([idle.status, await idle.json()]).toEqual([409, { error: 'the pipeline is not streaming', hint: expect.stringMatching(/GET \/status/) }]);
    resyncs.attach({ tables: [ORDERS], run: () => new Promise<void>(() => {}) }, undefined);
    const unknown = await resync('shop.nope');
    expect([unknown.status, (await unknown.json()).hint]).toEqual([404, 'name a source table as schema.table, one of: shop.orders']);
    const accepted = await resync('shop%2Eorders');
    expect([accepted.status, await accepted.json()]).toEqual([202, expect.objectContaining({ table: 'shop.orders', id: expect.any(String) })]);
    expect((await resync('shop.orders', 'GET')).status).toBe(405);
  });

  it('answers POST /dead-letters/replay: 400 for an unknown key, 404 for a table not replicated, 409 while a resync runs; GET 404 before the first', async () => {
    const replay = (body: string) => fetch(`http://127.0.0.1:${port}/dead-letters/replay`, { method: 'POST', headers: JSON_TYPE, body });
    // This server has no dead-letter reader (a kafka target's): 404 whatever the body.
    const none = await replay('{}');
    expect([none.status, (await none.json()).error]).toEqual([404, 'a kafka target keeps no dead letters']);
    expect((await fetch(`http://127.0.0.1:${port}/dead-letters/replay`)).status).toBe(404);
  });
});

describe('POST /dead-letters/replay', () => {
  it('waits for the replay (200 with its counts), answers 202 when it takes longer than timeoutSeconds, and refuses a second one meanwhile (409)', async () => {
    const resyncs = new ResyncRequests(makeLogger('error'));
    const server = await startTestAdmin('127.0.0.1:0', resyncs, async () => []);
    const port = new URL(server.url).port;
    const replay = (body: string) => fetch(`http://127.0.0.1:${port}/dead-letters/replay`, { method: 'POST', headers: JSON_TYPE, body });
    try {
      expect((await replay('{"tables": []}')).status).toBe(400);
      expect((await replay('{"timeoutSeconds": -1}')).status).toBe(400);
      expect((await replay('{}')).status).toBe(409);
      let finish = () => {};
      resyncs.attach(
        {
          tables: [ORDERS],
          run: (run) =>
            new Promise<void>((resolve) => {
              finish = () => {
                if ('replay' in run) {
                  run.replay.tables['shop.orders'] = { letters: 3, rows: 2, deleted: 1, rejected: 0 };
                  run.replay.state = 'done';
                }
                resolve();
              };
            }),
        },
        undefined,
      );
      expect((await replay('{"table": "shop.nope"}')).status).toBe(404);
      const slow = await replay('{"table": "shop.orders", "timeoutSeconds": 0}');
      expect([slow.status, await slow.json()]).toEqual([202, expect.objectContaining({ table: 'shop.orders', state: 'running', tables: {} })]);
      const busy = await replay('{}');
      expect([busy.status, (await busy.json()).error]).toEqual([409, expect.stringMatching(/a replay of dead letters is running/)]);
      finish();
      const shown = await fetch(`http://127.0.0.1:${port}/dead-letters/replay`);
      expect(await shown.json()).toMatchObject({ state: 'done', tables: { 'shop.orders': { letters: 3, rows: 2, deleted: 1, rejected: 0 } } });
      const next = replay('{"timeoutSeconds": 5}');
      await new Promise((r) => setTimeout(r, 50));
      finish();
      const done = await next;
      expect([done.status, await done.json()]).toEqual([200, expect.objectContaining({ table: null, state: 'done' })]);
    } finally {
      await server.close();
    }
  });
});

describe('POST /tables/{schema.table}/resync during a cutover', () => {
  it('refuses POST /tables/{schema.table}/resync and POST /dead-letters/replay while it runs', async () => {
    let open = () => {};
    const { resyncs, cutover } = cutoverOf({ opened: new Promise<void>((resolve) => (open = resolve)) });
    resyncs.attach({ tables: [ORDERS], run: () => new Promise<void>(() => {}) }, undefined);
    const server = await startTestAdmin('127.0.0.1:0', resyncs, async () => [], cutover);
    try {
      cutover.start(CUTOVER_REQUEST);
      const res = await fetch(`${server.url}/tables/shop.orders/resync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect([res.status, await res.json()]).toEqual([
        409,
        { error: 'a cutover is running: shop.orders would be cut over half-copied', hint: 'POST /cutover/abort first, or wait for it to end' },
      ]);
      const replay = await fetch(`${server.url}/dead-letters/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect([replay.status, (await replay.json()).error]).toEqual([409, expect.stringMatching(/^a cutover is running: a replay now/)]);
      expect(resyncs.current).toBeNull();
      open();
      expect(await ended(cutover)).toMatchObject({ state: 'completed' });
    } finally {
      await server.close();
    }
  });
});

describe('GET /events', () => {
  it('lists the last notifications, newest last, ?limit= of them (400 outside 1 to the ones kept)', async () => {
    const events = new FerryEventBus();
    const recent = new RecentEvents();
    const close = notify('p', events, recent, []);
    const server = await startTestAdmin('127.0.0.1:0', new ResyncRequests(makeLogger('error'), null), undefined, undefined, recent);
    try {
      for (const phase of ['preflight', 'snapshot', 'streaming'] as const) events.emit('phase', { phase });
      const all = (await (await fetch(`${server.url}/events`)).json()) as { events: { kind: string; phase?: string }[] };
      expect(all.events.map((e) => `${e.kind}:${e.phase ?? ''}`)).toEqual(['phase:preflight', 'phase:snapshot', 'snapshot-started:', 'phase:streaming']);
      const last = (await (await fetch(`${server.url}/events?limit=1`)).json()) as { events: { phase: string }[] };
      expect(last.events.map((e) => e.phase)).toEqual(['streaming']);
      expect((await fetch(`${server.url}/events?limit=0`)).status).toBe(400);
    } finally {
      await close();
      await server.close();
    }
  });
});
