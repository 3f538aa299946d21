import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { FerryEventBus } from '../../src/core/events.js';
import { Backoff } from '../../src/core/retry.js';
import { Secret } from '../../src/core/secret.js';
import { makeLogger } from '../../src/log.js';
import { NOTIFICATION_KINDS, type Notification } from '../../src/notify/notification-kinds.js';
import { notify } from '../../src/notify/notifier.js';
import { RecentEvents } from '../../src/notify/recent-events.js';
import { signature } from '../../src/notify/signature.js';
import { receiverName, WebhookReceiver, webhookBackoff } from '../../src/notify/webhook.js';

const SECRET = 'a-webhook-secret-of-32-characters';

/** A receiver on loopback whose answer to each POST `answer` decides (a status, or 'hang' to never reply). */
async function receiver(answer: (n: Notification, req: IncomingMessage) => number | 'hang') {
  const got: { n: Notification; signature: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const n = JSON.parse(body) as Notification;
      const a = answer(n, req);
      if (a === 'hang') return;
      if (a < 300) got.push({ n, signature: String(req.headers['x-ferry-signature']), body });
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=t`, got };
}
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const until = async (what: string, probe: () => boolean) => {
  for (let i = 0; i < 500 && !probe(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(probe(), what).toBe(true);
};

function webhook(url: string, over: Partial<ConstructorParameters<typeof WebhookReceiver>[0]> = {}, events = new FerryEventBus()) {
  const r = new WebhookReceiver(
    { url, secret: new Secret(SECRET), events: ['*'], timeoutSeconds: 5, retryMaxSeconds: 0.05, queueMax: 100, ...over },
    events,
    makeLogger('error'),
  );
  return { r, events };
}

describe('notifications', () => {
  it('signs the body: X-Ferry-Signature is sha256=<hex HMAC-SHA256(secret, body)>', async () => {
    expect(signature('key', '{"a":1}')).toBe(`sha256=${createHmac('sha256', 'key').update('{"a":1}').digest('hex')}`);
    const hook = await receiver(() => 200);
    const events = new FerryEventBus();
    const close = notify('p', events, new RecentEvents(), [webhook(hook.url, {}, events).r]);
    events.emit('phase', { phase: 'streaming' });
    await until('the notification to arrive', () => hook.got.length === 1);
    const [{ n, signature: sig, body }] = hook.got as [(typeof hook.got)[0]];
    expect(sig).toBe(signature(SECRET, body));
    expect(n).toMatchObject({ kind: 'phase', pipeline: 'p', phase: 'streaming', sequence: 1 });
    expect(Date.parse(n.time)).toBeGreaterThan(0);
    await close();
  });

  it('gives every notification a unique id and an increasing sequence, and each kind comes from one event', () => {
    const events = new FerryEventBus();
    const recent = new RecentEvents();
    void notify('p', events, recent, []);
    const hold = {
      state: 'quarantined',
      since: 'now',
      position: { kind: 'mysql', file: 'b.1', pos: 4 },
      key: { id: 1 },
      reason: 'check',
      message: 'm',
    } as const;
    for (let i = 0; i < 500; i++) events.emit('phase', { phase: 'streaming' });
    events.emit('table-hold', { table: 's.t', hold });
    events.emit('table-hold', { table: 's.t', hold: { state: 'resyncing', since: 'later' } });
    events.emit('table-hold', { table: 's.t', hold: null });
    events.emit('lag-threshold', { above: true, lagSeconds: 9, maxLagSeconds: 5 });
    events.emit('lag-threshold', { above: false, lagSeconds: 1, maxLagSeconds: 5 });
    const all = recent.last(1000);
    expect(new Set(all.map((n) => n.id)).size).toBe(all.length);
    expect(all.map((n) => n.sequence)).toEqual(all.map((_, i) => i + 1));
    expect(all.slice(500).map((n) => n.kind)).toEqual(['table-quarantined', 'table-quarantine-lifted', 'lag-above', 'lag-below']);
    expect(all[500]).not.toHaveProperty('key');
    expect(NOTIFICATION_KINDS).toContain('cutover-state');
  });

  it('notifies the scheduled refreshes: started, done and failed with their times', () => {
    const events = new FerryEventBus();
    const recent = new RecentEvents();
    void notify('p', events, recent, []);
    const startedAt = new Date('2026-12-04T02:00:00Z');
    const endedAt = new Date('2026-12-04T02:03:00Z');
    events.emit('refresh-started', { startedAt });
    events.emit('refresh-done', { startedAt, endedAt, rows: 1200, tables: 3 });
    events.emit('refresh-failed', { startedAt, endedAt, kind: 'fatal', message: 'target rejected a row' });
    expect(recent.last(3).map(({ id: _id, sequence: _sequence, time: _time, pipeline: _pipeline, ...n }) => n)).toEqual([
      { kind: 'refresh-started', startedAt: '2026-12-04T02:00:00.000Z' },
      { kind: 'refresh-done', startedAt: '2026-12-04T02:00:00.000Z', endedAt: '2026-12-04T02:03:00.000Z', rows: 1200, tables: 3 },
      {
        kind: 'refresh-failed',
        startedAt: '2026-12-04T02:00:00.000Z',
        endedAt: '2026-12-04T02:03:00.000Z',
        errorKind: 'fatal',
        message: 'target rejected a row',
      },
    ]);
  });

  it('keeps order per receiver while it fails, retrying with back-off until it answers 2xx, with no duplicate; then reports none queued', async () => {
    let down = true;
    const hook = await receiver(() => (down ? 503 : 200));
    const { r, events } = webhook(hook.url);
    const reported: { outcome: string; queued: number }[] = [];
    events.on('notification-delivery', ({ outcome, queued }) => reported.push({ outcome, queued }));
    const ids = Array.from({ length: 20 }, (_, i) => `n${i}`);
    for (const id of ids) r.offer({ id, kind: 'phase', pipeline: 'p', time: '', sequence: 0 });
    await new Promise((res) => setTimeout(res, 200));
    down = false;
    await until('every notification to arrive', () => hook.got.length === ids.length);
    expect(hook.got.map((g) => g.n.id)).toEqual(ids);
    // ferry_notifications_queued: each one sent is off the queue when reported, the last leaving none.
    await until('the last delivery to be reported', () => reported.filter((d) => d.outcome === 'sent').length === ids.length);
    expect(reported.filter((d) => d.outcome === 'sent').map((d) => d.queued)).toEqual(ids.map((_, i) => ids.length - 1 - i));
    expect(r.queued).toBe(0);
    await r.close(100);
  });

  it('retries with exponential back-off from 0.5 s, capped at retryMaxSeconds', () => {
    const b = new Backoff(webhookBackoff(4, () => 0.999_999));
    expect(Array.from({ length: 6 }, () => Math.round(b.next() / 100) / 10)).toEqual([0.5, 1, 2, 4, 4, 4]);
  });

  it('bounds the queue of a receiver that never answers: offer returns at once, the oldest are dropped and counted', async () => {
    const hook = await receiver(() => 'hang');
    const { r, events } = webhook(hook.url, { queueMax: 10, timeoutSeconds: 60 });
    const outcomes: string[] = [];
    events.on('notification-delivery', ({ outcome }) => outcomes.push(outcome));
    // offer is synchronous: it never waits for the receiver.
    for (let i = 0; i < 1000; i++) r.offer({ id: `n${i}`, kind: 'phase', pipeline: 'p', time: '', sequence: i });
    expect(r.queued).toBe(10);
    expect(outcomes.filter((o) => o === 'dropped')).toHaveLength(990);
    await r.close(10);
  });

  it('sends a receiver only the kinds it subscribed to', async () => {
    const hook = await receiver(() => 200);
    const { r } = webhook(hook.url, { events: ['error'] });
    r.offer({ id: 'a', kind: 'phase', pipeline: 'p', time: '', sequence: 1 });
    r.offer({ id: 'b', kind: 'error', pipeline: 'p', time: '', sequence: 2 });
    await until('the error to arrive', () => hook.got.length === 1);
    expect(hook.got.map((g) => g.n.id)).toEqual(['b']);
    await r.close(100);
  });

  it('never shows the secret: not in the config as JSON or inspected, nor in the receiver name', () => {
    const config = parseConfig({
      pipeline: 'p',
      source: { type: 'mysql', url: 'mysql://u:p@h:3306/d' },
      target: { type: 'postgres', url: 'postgres://u:p@h:5432/d' },
      notify: { webhooks: [{ url: 'https://user:pw@hooks.example/ferry?token=x', secret: SECRET }] },
    });
    expect(config.notify.webhooks[0]!.secret.reveal()).toBe(SECRET);
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(inspect(config, { depth: 10 })).not.toContain(SECRET);
    expect(`${config.notify.webhooks[0]!.secret}`).toBe('[redacted]');
    expect(receiverName(config.notify.webhooks[0]!.url)).toBe('https://hooks.example/ferry');
    expect(() =>
      parseConfig({
        pipeline: 'p',
        source: { type: 'mysql', url: 'mysql://u:p@h:3306/d' },
        target: { type: 'postgres', url: 'postgres://u:p@h:5432/d' },
        notify: { webhooks: [{ url: 'https://hooks.example/ferry', secret: 'short-secret' }] },
      }),
    ).toThrow(/notify\.webhooks\[0\]\.secret: use a secret of at least 16/);
  });
});
