import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../core/errors.js';
import type { CutoverRequest, CutoverView } from './cutover.js';

export interface CutoverClientOptions {
  readonly admin: string;
  readonly token?: string;
  readonly request: Partial<CutoverRequest>;
  /** Called with each state as it is first seen (its entry in the history), and the cutover as it stood then. */
  readonly onState: (entry: CutoverView['history'][number], view: CutoverView) => void;
}

const POLL_MS = 200;

async function call(admin: string, path: string, token: string | undefined, body?: unknown): Promise<CutoverView> {
  let res: Response;
  try {
    res = await fetch(new URL(path, admin), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND …).
    const cause = (err as Error).cause as Error | undefined;
    throw new FerryError('config', `cannot reach the admin API at ${admin}: ${cause?.message ?? (err as Error).message}`, {
      hint: 'pass the admin.listen address of the running ferry, e.g. --admin http://127.0.0.1:8080',
    });
  }
  const answer = (await res.json().catch(() => ({}))) as CutoverView & { error?: string; hint?: string };
  if (!res.ok) {
    // Refused requests (auth, body, a cutover already running) are the caller's to fix: exit 2.
    throw new FerryError(res.status < 500 ? 'config' : 'fatal', `${path}: ${res.status} ${answer.error ?? res.statusText}`, {
      hint: answer.hint ?? 'see the ferry log',
    });
  }
  return answer;
}

/** Triggers a cutover through the admin API and follows it to its end; returns the final view. */
export async function followCutover(o: CutoverClientOptions): Promise<CutoverView> {
  let view = await call(o.admin, '/cutover', o.token, o.request);
  const id = view.id;
  let seen = 0;
  for (;;) {
    for (const entry of view.history.slice(seen)) o.onState(entry, view);
    seen = view.history.length;
    if (view.state === 'completed' || view.state === 'failed' || view.state === 'aborted') return view;
    await sleep(POLL_MS);
    view = await call(o.admin, '/cutover', o.token);
    if (view.id !== id) throw new FerryError('fatal', `another cutover (${view.id}) replaced ${id}`);
  }
}
