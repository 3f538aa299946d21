import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, blockTarget, cutoverEnd, startWithAdmin, waitReady } from '../helpers/admin.js';
import { waitFor, type RunningCli } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';

/**
 * The admin API of a running ferry (Postgres → Postgres): authentication and bodies, pause and
 * resume, and the cutover's failure paths, each of which must leave the source writable.
 */
describe('admin API and cutover failure paths (Postgres → Postgres)', () => {
  let db: RouteDatabases;
  let ferry: RunningCli;
  let admin: string;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'postgres', target: 'postgres', label: 'Postgres → Postgres' }, 'admin_api');
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 2000)}`);
    ({ ferry, admin } = await startWithAdmin(db.config()));
    await waitReady(admin);
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    await db?.source.query('ALTER DATABASE admin_api RESET default_transaction_read_only').catch(() => {});
    await db?.close();
  });

  /** A new session, as an application would open after the cutover failed: it must be able to write. */
  async function sourceWritable(id: number): Promise<void> {
    const client = new pg.Client({ connectionString: db.source.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO items VALUES (${id}, 1, 'after a failed cutover', 1)`);
    } finally {
      await client.end();
    }
  }

  it('refuses POST without the token or with a wrong one (401), and malformed bodies (400) with a message', async () => {
    const none = await adminCall(admin, '/pause', { method: 'POST', token: null });
    expect(none.status).toBe(401);
    expect(String(none.body.error)).toMatch(/Bearer/);
    expect((await adminCall(admin, '/cutover', { method: 'POST', token: 'wrong', body: '{}' })).status).toBe(401);
    const garbled = await adminCall(admin, '/cutover', { method: 'POST', body: '{"timeoutSeconds": ' });
    expect(garbled.status).toBe(400);
    expect(String(garbled.body.error)).toMatch(/not JSON/);
    const wrongValue = await adminCall(admin, '/cutover', { method: 'POST', body: '{"fence": "maybe", "timeoutSeconds": -1}' });
    expect(wrongValue.status).toBe(400);
    expect(String(wrongValue.body.error)).toMatch(/fence/);
    expect(String(wrongValue.body.error)).toMatch(/timeoutSeconds/);
    const unknownKey = await adminCall(admin, '/cutover', { method: 'POST', body: '{"timeout": 5}' });
    expect(unknownKey.status).toBe(400);
    expect((await adminCall(admin, '/cutover')).status, 'nothing was started').toBe(404);
    expect((await adminCall(admin, '/status', { method: 'POST' })).status).toBe(405);
    expect((await adminCall(admin, '/nope')).status).toBe(404);
  });

  it('refuses, even with the token, a POST from another site (403) and one that is not JSON (415)', async () => {
    const crossSite = await adminCall(admin, '/cutover', {
      method: 'POST',
      body: '{"fence":"none","verify":"counts"}',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
    });
    expect(crossSite.status).toBe(403);
    expect(String(crossSite.body.error)).toMatch(/cross-site/);
    const plain = await adminCall(admin, '/pause', { method: 'POST', headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(415);
    expect(String(plain.body.error)).toMatch(/application\/json/);
    expect((await adminCall(admin, '/cutover')).status, 'nothing was started').toBe(404);
    expect((await adminCall(admin, '/status')).body.paused, 'nothing was paused').toBe(false);
  });

  it('serves /healthz, /readyz, /status and /metrics', async () => {
    expect((await adminCall(admin, '/healthz')).status).toBe(200);
    expect((await adminCall(admin, '/readyz')).status).toBe(200);
    const status = (await adminCall(admin, '/status')).body;
    expect(status).toMatchObject({ pipeline: 'admin_api', phase: 'streaming', paused: false });
    expect(status.appliedPosition).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^ferry_phase\{phase="streaming",pipeline="admin_api"\} 1$/m);
    expect(metrics).toMatch(/^ferry_replication_lag_seconds\{pipeline="admin_api"\} [\d.e-]+$/m);
    expect(metrics).toMatch(/^ferry_snapshot_rows_total\{table="public.items",pipeline="admin_api"\} 2000$/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes\{pipeline="admin_api"\} \d+/m);
  });

  it('pauses: nothing is applied until resumed', async () => {
    expect((await adminCall(admin, '/pause', { method: 'POST' })).body).toEqual({ paused: true });
    await db.source.query("INSERT INTO items VALUES (500001, 1, 'while paused', 1)");
    await sleep(2000);
    expect(await db.target.query('SELECT 1 FROM items WHERE id = 500001')).toHaveLength(0);
    expect((await adminCall(admin, '/status')).body.paused).toBe(true);
    expect((await adminCall(admin, '/resume', { method: 'POST' })).body).toEqual({ paused: false });
    await waitFor('the row written while paused', async () => (await db.target.query('SELECT 1 FROM items WHERE id = 500001')).length === 1);
  });

  it('a verify mismatch fails the cutover and leaves the source writable', async () => {
    await db.target.query("INSERT INTO items VALUES (900001, 1, 'only on the target', 1)");
    const started = await adminCall(admin, '/cutover', { method: 'POST', body: JSON.stringify({ verify: 'counts', timeoutSeconds: 60 }) });
    expect(started.status).toBe(202);
    const end = await cutoverEnd(admin);
    expect(end.state).toBe('failed');
    expect(String(end.reason)).toMatch(/public\.items/);
    expect(String(end.reason)).toMatch(/writable again/);
    await sourceWritable(600001);
    await db.target.query('DELETE FROM items WHERE id = 900001');
    await waitReady(admin);
  });

  it('a step past its timeout fails the cutover and unfences the source', async () => {
    const release = await blockTarget(db);
    try {
      await db.source.query("INSERT INTO items VALUES (600002, 1, 'blocked', 1)");
      const started = await adminCall(admin, '/cutover', { method: 'POST', body: JSON.stringify({ timeoutSeconds: 3, maxLagSeconds: 30, verify: 'none' }) });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const end = await cutoverEnd(admin);
      expect(end.state).toBe('failed');
      expect(String(end.reason)).toMatch(/draining.*timeoutSeconds/);
      await sourceWritable(600003);
    } finally {
      await release();
    }
    await waitReady(admin);
  });

  it('POST /cutover/abort stops a cutover and unfences the source', async () => {
    const release = await blockTarget(db);
    try {
      await db.source.query("INSERT INTO items VALUES (600004, 1, 'blocked', 1)");
      expect((await adminCall(admin, '/cutover', { method: 'POST', body: JSON.stringify({ timeoutSeconds: 120, maxLagSeconds: 30 }) })).status).toBe(202);
      await waitFor('the cutover to drain', async () => (await adminCall(admin, '/cutover')).body.state === 'draining');
      const conflict = await adminCall(admin, '/cutover', { method: 'POST', body: '{}' });
      expect(conflict.status, 'one cutover at a time').toBe(409);
      const aborted = await adminCall(admin, '/cutover/abort', { method: 'POST' });
      expect(aborted.status).toBe(200);
      expect(aborted.body.state).toBe('aborted');
      await sourceWritable(600005);
    } finally {
      await release();
    }
    await waitReady(admin);
    expect((await adminCall(admin, '/cutover/abort', { method: 'POST' })).status, 'nothing left to abort').toBe(409);
    expect(ferry.child.exitCode, 'ferry streams on after failed and aborted cutovers').toBeNull();
  });
});
