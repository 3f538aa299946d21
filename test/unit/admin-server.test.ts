import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import { CutoverController } from '../../src/admin/cutover.js';
import { FerryEventBus } from '../../src/core/events.js';
import { makeLogger } from '../../src/log.js';
import { FerryMetrics } from '../../src/metrics/metrics.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';
import { PauseGate } from '../../src/pipeline/pause-gate.js';

/** This host's first address that is not loopback: a request from it is a remote one. */
function outsideAddress(): string {
  const address = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address;
  if (!address) throw new Error('this host has no non-loopback IPv4 address to test remote requests from');
  return address;
}

/** Without admin.token, POST is for this host only; GET is for anyone (metrics, health). */
describe('admin API without a token', () => {
  let server: AdminServer;
  let port: string;
  beforeAll(async () => {
    const events = new FerryEventBus();
    const status = new LiveStatus('p', events);
    const log = makeLogger('error');
    const unused = async () => Promise.reject(new Error('not in this test'));
    server = await startAdminServer('0.0.0.0:0', {
      status, metrics: new FerryMetrics('p', events, status), gate: new PauseGate(events), log, token: undefined, readyMaxLagSeconds: 5,
      cutover: new CutoverController({ events, status, log, openSource: unused, openSink: unused, stopStream: async () => {}, defaultVerify: 'checksums' }),
    });
    port = new URL(server.url).port;
  });
  afterAll(() => server?.close());

  it('accepts POST from loopback', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/pause`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ paused: true });
  });

  it('refuses POST from another address with 403 and says how to allow it, but serves GET', async () => {
    const res = await fetch(`http://${outsideAddress()}:${port}/resume`, { method: 'POST' });
    expect(res.status).toBe(403);
    expect((await res.json()).hint).toMatch(/admin\.token/);
    expect((await fetch(`http://${outsideAddress()}:${port}/healthz`)).status).toBe(200);
  });

  it('answers a cutover that cannot start (not streaming) with its reason', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/cutover`, { method: 'POST', body: '{"verify": "none"}' });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 50));
    const view = await (await fetch(`http://127.0.0.1:${port}/cutover`)).json();
    expect(view).toMatchObject({ state: 'failed', reason: expect.stringMatching(/not streaming/) });
    expect(view.reason).not.toMatch(/writable again/); // nothing was fenced
  });
});
