import mysql from 'mysql2/promise';
import pg from 'pg';
import { startCli, waitFor, writeConfig, type RunningCli } from './ferry.js';
import type { RouteDatabases } from './routes.js';

export const ADMIN_TOKEN = 'test-admin-token';

/** `ferry run` with its admin API on a free port and a token; resolves once the API answers. */
export async function startWithAdmin(
  config: Record<string, unknown>,
  admin: Record<string, unknown> = {},
): Promise<{ ferry: RunningCli; admin: string; configFile: string }> {
  const configFile = writeConfig({ ...config, admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN, ...admin } });
  const ferry = startCli(['run', '-c', configFile]);
  const url = await waitFor('the admin API address in the log', async () => /admin API on (http:\/\/[\d.:]+)/.exec(ferry.output())?.[1]);
  return { ferry, admin: url, configFile };
}

/** A JSON request to the admin API; POSTs carry the token unless `token` says otherwise; `headers` add to or replace ferry's own. */
export async function adminCall(
  admin: string,
  path: string,
  options: { method?: string; body?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const method = options.method ?? 'GET';
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  const res = await fetch(`${admin}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

/** Waits until GET /readyz answers 200: streaming, lag known and below the threshold. */
export function waitReady(admin: string, ms = 90_000): Promise<true> {
  return waitFor('ferry to be ready (/readyz 200)', async () => (await adminCall(admin, '/readyz')).status === 200, ms);
}

export async function lagSeconds(admin: string): Promise<number | null> {
  return (await adminCall(admin, '/status')).body.lagSeconds as number | null;
}

/** Polls GET /cutover until the cutover reaches a final state. */
export function cutoverEnd(admin: string, ms = 90_000): Promise<Record<string, unknown>> {
  return waitFor(
    'the cutover to end',
    async () => {
      const { body } = await adminCall(admin, '/cutover');
      return ['completed', 'failed', 'aborted'].includes(String(body.state)) ? body : null;
    },
    ms,
  );
}

/** Holds a lock on the target's `table` on a connection of its own, so the applier stops at the next change to it; returns the release. */
export async function blockTarget(db: RouteDatabases, table = 'items'): Promise<() => Promise<void>> {
  if (db.route.target === 'postgres') {
    const client = new pg.Client({ connectionString: db.target.url });
    await client.connect();
    await client.query(`BEGIN; LOCK TABLE ${db.targetSchema}.${table} IN ACCESS EXCLUSIVE MODE`);
    return async () => {
      await client.query('ROLLBACK');
      await client.end();
    };
  }
  const conn = await mysql.createConnection({ uri: db.target.url });
  await conn.query(`LOCK TABLES \`${db.targetSchema}\`.${table} WRITE`);
  return async () => {
    await conn.query('UNLOCK TABLES');
    await conn.end();
  };
}
