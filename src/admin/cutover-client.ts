import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../errors.js';
import type { CutoverRequest, CutoverView } from './cutover.js';

export interface CutoverClientOptions {
  readonly admin: string;
  readonly token?: string;
  readonly request: Partial<CutoverRequest>;
  /** Called with each state as it is first seen. */
  readonly onState: (view: CutoverView) => void;
  readonly pollMs?: number;
}

async function call(admin: string, path: string, token: string | undefined, body?: unknown): Promise<CutoverView> {
  let res: Response;
  try {
    res = await fetch(new URL(path, admin), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new FerryError('config', `cannot reach the admin API at ${admin}: ${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message}`, { hint: 'pass the admin.listen address of the running ferry, e.g. --admin http://127.0.0.1:8080' });
  }
  const answer = (await res.json().catch(() => ({}))) as CutoverView & { error?: string; hint?: string };
  if (!res.ok) throw new FerryError(res.status === 401 || res.status === 403 || res.status === 400 ? 'config' : 'fatal', `${path}: ${res.status} ${answer.error ?? res.statusText}`, { hint: answer.hint ?? 'see the ferry log' });
  return answer;
}

/** Triggers a cutover through the admin API and follows it to its end; returns the final view. */
export async function followCutover(o: CutoverClientOptions): Promise<CutoverView> {
  let view = await call(o.admin, '/cutover', o.token, o.request);
  const id = view.id;
  let seen = 0;
  for (;;) {
    for (const h of view.history.slice(seen)) o.onState({ ...view, state: h.state });
    seen = view.history.length;
    if (view.state === 'completed' || view.state === 'failed' || view.state === 'aborted') return view;
    await sleep(o.pollMs ?? 200);
    view = await call(o.admin, '/cutover', o.token);
    if (view.id !== id) throw new FerryError('fatal', `another cutover (${view.id}) replaced ${id}`);
  }
}
