import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../core/errors.js';
import type { CutoverRequest, CutoverView } from './cutover.js';
import type { GroupCutoverView } from './group-cutover.js';

export interface CutoverClientOptions {
  readonly admin: string;
  readonly token?: string;
  readonly request: Partial<CutoverRequest>;
  /** Called with each state as it is first seen (its entry in the history), and the cutover as it stood then. */
  readonly onState: (entry: CutoverView['history'][number], view: CutoverView) => void;
}

export interface GroupCutoverClientOptions {
  readonly admin: string;
  readonly token?: string;
  readonly request: Partial<CutoverRequest> & { readonly pipelines: readonly string[] };
  /** Called with each member's state as it is first seen, in the order they were entered, and the member as it stood then. */
  readonly onState: (pipeline: string, entry: CutoverView['history'][number], view: CutoverView) => void;
}

const POLL_MS = 200;
const ENDED: ReadonlySet<string> = new Set(['completed', 'failed', 'aborted']);

async function call<T>(admin: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
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
  const answer = (await res.json().catch(() => ({}))) as T & { error?: string; hint?: string };
  if (!res.ok) {
    // Refused requests (auth, body, a cutover already running) are the caller's to fix: exit 2.
    throw new FerryError(res.status < 500 ? 'config' : 'fatal', `${path}: ${res.status} ${answer.error ?? res.statusText}`, {
      hint: answer.hint ?? 'see the ferry log',
    });
  }
  return answer;
}

/** Polls GET /cutover from the answer `first` on, showing each answer, until that cutover has ended; returns its last view. */
async function follow<V extends { id: string; state: string }>(
  o: { readonly admin: string; readonly token?: string },
  first: unknown,
  read: (answer: unknown) => V,
  show: (view: V) => void,
): Promise<V> {
  let view = read(first);
  const id = view.id;
  for (;;) {
    show(view);
    if (ENDED.has(view.state)) return view;
    await sleep(POLL_MS);
    view = read(await call(o.admin, '/cutover', o.token));
    if (view.id !== id) throw new FerryError('fatal', `another cutover (${view.id}) replaced ${id}`);
  }
}

/** Triggers a cutover through the admin API and follows it to its end; returns the final view. */
export async function followCutover(o: CutoverClientOptions): Promise<CutoverView> {
  let seen = 0;
  const answer = await call<CutoverView>(o.admin, '/cutover', o.token, o.request);
  return follow(
    o,
    answer,
    (v) => v as CutoverView,
    (view) => {
      for (const entry of view.history.slice(seen)) o.onState(entry, view);
      seen = view.history.length;
    },
  );
}

/**
 * Triggers a grouped cutover (`{"pipelines": [...]}`) and follows it to its end; returns the final
 * view. A one-pipeline ferry answers a group of its one pipeline with that pipeline's cutover.
 */
export async function followGroupCutover(o: GroupCutoverClientOptions): Promise<GroupCutoverView> {
  const seen = new Map<string, number>();
  const asGroup = (answer: unknown): GroupCutoverView => {
    const v = answer as GroupCutoverView | CutoverView;
    if ('pipelines' in v) return v;
    return { id: v.id, state: v.state, pipelines: { [o.request.pipelines[0] ?? '']: v }, ...(v.reason ? { reason: v.reason } : {}) };
  };
  const answer = await call<unknown>(o.admin, '/cutover', o.token, o.request);
  return follow(o, answer, asGroup, (group) => {
    const entries = Object.entries(group.pipelines).flatMap(([name, view]) => view.history.slice(seen.get(name) ?? 0).map((entry) => ({ name, entry, view })));
    for (const [name, view] of Object.entries(group.pipelines)) seen.set(name, view.history.length);
    for (const { name, entry, view } of entries.sort((x, y) => x.entry.ms - y.entry.ms)) o.onState(name, entry, view);
  });
}
