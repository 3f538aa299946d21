import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { coerceError, FerryError } from '../core/errors.js';
import type { FerryMetrics } from '../metrics/metrics.js';
import type { LiveStatus } from '../pipeline/live-status.js';
import type { PauseGate } from '../core/pause-gate.js';
import type { StoredDeadLetter } from '../core/dead-letter.js';
import { cutoverRequestSchema, type CutoverController } from './cutover.js';
import { UnknownPipelineError, type GroupCutover } from './group-cutover.js';
import { z } from 'zod';
import { ResyncRefused, type ResyncRequests } from '../pipeline/resync-requests.js';
import { RECENT_EVENTS_MAX, type RecentEvents } from '../notify/recent-events.js';

/** What the admin API answers for one pipeline. */
export interface PipelineAdminDeps {
  readonly status: LiveStatus;
  readonly metrics: FerryMetrics;
  readonly gate: PauseGate;
  readonly cutover: CutoverController;
  readonly readyMaxLagSeconds: number;
  readonly log: Logger;
  /** POST /tables/{schema.table}/resync. */
  readonly resyncs: ResyncRequests;
  /** The last `limit` dead letters in the target; absent where nothing is dead-lettered (a kafka target). */
  readonly deadLetters?: (limit: number) => Promise<readonly StoredDeadLetter[]>;
  /** Cut over for good (in this run or before it): left out of a process's GET /readyz. */
  readonly done?: () => boolean;
}

/** The admin API of a process of one pipeline. */
export interface AdminDeps extends PipelineAdminDeps {
  /** When set, POST needs `Authorization: Bearer <token>`; without it, POST is loopback-only. */
  readonly token: string | undefined;
  /** GET /events: the last notifications. */
  readonly recentEvents: RecentEvents;
}

/** The admin API of a process of several pipelines (a file with `pipelines:`). */
export interface ProcessAdminDeps {
  readonly token: string | undefined;
  readonly log: Logger;
  /** GET /events: every pipeline's notifications, each naming its pipeline. */
  readonly recentEvents: RecentEvents;
  /** In the file's order. */
  readonly pipelines: readonly PipelineAdminDeps[];
  /** GET /metrics: every pipeline's series in one exposition, each with its `pipeline` label. */
  readonly metrics: { text(): Promise<string>; readonly contentType: string };
  /** POST /cutover {"pipelines": [...]}: the pipelines' cutover together. */
  readonly group: GroupCutover;
}

/**
 * POST /dead-letters/replay: `table` (`schema.table`) or every table; the answer waits up to
 * `timeoutSeconds` for the replay to commit (200 with its counts), else says it goes on (202 and its id).
 */
const replayRequestSchema = z
  .object({
    table: z
      .string()
      .regex(/^[^.]+\..+$/, 'a source table as schema.table')
      .optional(),
    timeoutSeconds: z.number().int().min(0).max(3600).default(60),
  })
  .strict();

/** GET /dead-letters answers this many rows unless `?limit=` asks for another number, up to DEAD_LETTERS_MAX. */
const DEAD_LETTERS_DEFAULT = 100;
const DEAD_LETTERS_MAX = 10_000;
/** GET /events answers this many unless `?limit=` asks for another number, up to the ones kept. */
const EVENTS_DEFAULT = 100;

/** `?limit=` of `req`: `fallback` when absent, else a whole number from 1 to `max` (400 otherwise, `example` the hint). */
function limitOf(req: IncomingMessage, fallback: number, max: number, example: string): number {
  const asked = new URL(req.url ?? '/', 'http://admin').searchParams.get('limit');
  const limit = asked === null ? fallback : Number(asked);
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new HttpError(400, `limit must be a whole number from 1 to ${max}, not ${asked}`, `e.g. ${example}`);
  return limit;
}

export interface AdminServer {
  /** http://host:port, with the port actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;

/** An answer with a status code; thrown by handlers, sent as JSON `{ error, hint }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(text);
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** POST is for operators: the token when one is configured, else only from this host. */
function authorize(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) {
    if (!isLoopback(req.socket.remoteAddress))
      throw new HttpError(
        403,
        'POST is accepted from this host only when no admin token is configured',
        'set admin.token in the config and send Authorization: Bearer <token>',
      );
    return;
  }
  const header = req.headers.authorization ?? '';
  const m = /^Bearer ([!-~]+)$/i.exec(header.trim());
  if (!m) throw new HttpError(401, 'missing Authorization: Bearer <token>', 'send the admin token configured in admin.token');
  if (!sameSecret(m[1]!, token)) throw new HttpError(401, 'wrong admin token', 'send the admin token configured in admin.token');
}

/** A Host header or Origin as a URL (host and hostname lower case, IPv6 in brackets), or null when it is neither. */
function hostOf(value: string): URL | null {
  try {
    return new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    return null;
  }
}

/** The names a POST without a token may give its Host: loopback ones, and the listen host unless it is a wildcard. */
function namesThisHost(name: string | undefined, listenHost: string): boolean {
  if (name === undefined) return false;
  if (name === 'localhost' || isLoopback(name.replace(/^\[|\]$/g, ''))) return true;
  const listen = hostOf(listenHost)?.hostname;
  return name === listen && !['0.0.0.0', '[::]'].includes(listen);
}

/**
 * A web page open in a browser on the ferry host may send a "simple" cross-site POST (text/plain, no
 * CORS preflight), and a DNS name of the attacker's, rebound to 127.0.0.1, even makes it same-origin.
 * So POST needs: no Origin of another site; where the caller's address is its only credential (no
 * token), a Host that names this host (a loopback name or the listen host); and a JSON content type,
 * which a cross-site page can send only after a CORS preflight that ferry never answers. GETs are
 * read-only and named freely (Prometheus scrapes by container name).
 */
function refuseCrossSite(req: IncomingMessage, token: string | undefined, listenHost: string): void {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  const self = hostOf(host)?.host;
  if (origin !== undefined && (self === undefined || hostOf(origin)?.host !== self)) {
    throw new HttpError(
      403,
      `cross-site POST refused: Origin ${origin} is not this admin API (${host})`,
      'call the admin API from curl or `ferry cutover`, not from a web page',
    );
  }
  if (token === undefined && !namesThisHost(hostOf(host)?.hostname, listenHost)) {
    throw new HttpError(
      403,
      `POST naming host ${host || '(none)'} refused: without admin.token, POST must name this host by a loopback address or ${listenHost}`,
      'call http://127.0.0.1:<port> or http://localhost:<port>, or set admin.token',
    );
  }
}

/** POST bodies are JSON, and say so: the content type is what a cross-site page cannot send unasked. */
function requireJson(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(
      415,
      `POST needs Content-Type: application/json, not ${type || 'none'}`,
      "send -H 'Content-Type: application/json', also with an empty body",
    );
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`, 'send a JSON object, e.g. {"timeoutSeconds": 300}');
  }
}

type Answer = { status: number; body: unknown; contentType?: string };
/** `path`: the request's path within its table (under /pipelines/{name} for a pipeline's route). */
type Handler = (req: IncomingMessage, path: string) => Promise<Answer>;
type Routes = Record<string, Partial<Record<'GET' | 'POST', Handler>>>;

const json = (status: number, body: unknown): Answer => ({ status, body });
/** `view` (200), or 404 saying why there is none. */
const shown = (view: unknown, none: string, hint: string): Answer => {
  if (!view) throw new HttpError(404, none, hint);
  return json(200, view);
};

/** A cutover request's problems as a 400. */
function invalidCutover(issues: readonly z.core.$ZodIssue[], example: string): HttpError {
  const problems = issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  return new HttpError(400, `invalid cutover request: ${problems}`, `send ${example} (every key optional)`);
}
const CUTOVER_EXAMPLE = '{"timeoutSeconds": 300, "maxLagSeconds": 5, "fence": "read-only"|"none", "verify": "counts"|"checksums"|"none"}';

/** `body` without `pipelines` when it names just `name` (a group of one is the plain cutover); 400 when it names others. */
function ownCutover(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || !('pipelines' in body)) return body;
  const { pipelines, ...rest } = body as { pipelines: unknown };
  if (Array.isArray(pipelines) && pipelines.length === 1 && pipelines[0] === name) return rest;
  throw new HttpError(
    400,
    `this cutover is pipeline ${name}'s: "pipelines" may name only it, not ${JSON.stringify(pipelines)}`,
    `send {"pipelines": ["${name}"]} or leave "pipelines" out; a cutover of several pipelines is POST /cutover on the process`,
  );
}

/** One pipeline's routes: a one-pipeline process's API, and under /pipelines/{name} in a process of several. */
function pipelineRoutes(d: PipelineAdminDeps, token: string | undefined, recent: (limit: number) => unknown[]): Routes {
  const own = d.status.routes;
  return {
    '/readyz': {
      GET: async () => {
        const r = d.status.readiness(d.readyMaxLagSeconds);
        return json(r.ready ? 200 : 503, r);
      },
    },
    '/metrics': { GET: async () => ({ status: 200, body: await d.metrics.text(), contentType: d.metrics.contentType }) },
    '/status': { GET: async () => json(200, d.status.toJSON()) },
    '/dead-letters': {
      GET: async (req) => {
        // Rows of the target, personal data perhaps: only for operators, as POST is.
        authorize(req, token);
        if (!d.deadLetters) throw new HttpError(404, 'a kafka target keeps no dead letters', 'ask the applying processes, whose target is a database');
        const limit = limitOf(req, DEAD_LETTERS_DEFAULT, DEAD_LETTERS_MAX, `GET ${own}/dead-letters?limit=50`);
        const rows = await d.deadLetters(limit);
        return json(200, { limit, rows });
      },
    },
    '/events': {
      GET: async (req) => {
        const limit = limitOf(req, EVENTS_DEFAULT, RECENT_EVENTS_MAX, `GET ${own}/events?limit=50`);
        return json(200, { limit, events: recent(limit) });
      },
    },
    '/dead-letters/replay': {
      GET: async (req) => {
        authorize(req, token);
        const last = d.resyncs.lastReplay;
        if (!last) throw new HttpError(404, 'no replay has run in this process', `POST ${own}/dead-letters/replay starts one`);
        return json(200, last);
      },
      POST: async (req) => {
        if (!d.deadLetters) throw new HttpError(404, 'a kafka target keeps no dead letters', 'ask the applying processes, whose target is a database');
        // The cutover checked the holds as it started: the rows a replay writes now would miss its verification.
        if (d.cutover.active)
          throw new HttpError(
            409,
            'a cutover is running: a replay now would write rows past its verification',
            `POST ${own}/cutover/abort first, or wait for it to end`,
          );
        const parsed = replayRequestSchema.safeParse(await readJson(req));
        if (!parsed.success) {
          const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
          throw new HttpError(400, `invalid replay request: ${problems}`, 'send {"table": "schema.table", "timeoutSeconds": 60} (both optional)');
        }
        try {
          const { done, view } = await d.resyncs.replay(parsed.data.table ?? null, parsed.data.timeoutSeconds * 1000);
          d.log.info({ id: view.id, table: view.table }, `replay of dead letters ${done ? 'done' : 'goes on'} (POST /dead-letters/replay)`);
          return json(done ? 200 : 202, done ? view : { ...view, status: `GET ${own}/dead-letters/replay shows it until it is done` });
        } catch (err) {
          if (err instanceof ResyncRefused) throw new HttpError(err.status, err.message, err.hint);
          throw err;
        }
      },
    },
    '/pause': {
      POST: async () => {
        refusePauseDuringCutover(d);
        d.gate.pause();
        d.log.info('paused through the admin API: no target transaction starts until POST /resume');
        return json(200, { paused: true });
      },
    },
    '/resume': {
      POST: async () => {
        d.gate.resume();
        d.log.info('resumed through the admin API');
        return json(200, { paused: false });
      },
    },
    '/cutover': {
      GET: async () => shown(d.cutover.view(), 'no cutover has been started', `POST ${own}/cutover starts one`),
      POST: async (req) => {
        const parsed = cutoverRequestSchema.safeParse(ownCutover(await readJson(req), d.status.pipeline));
        if (!parsed.success) throw invalidCutover(parsed.error.issues, CUTOVER_EXAMPLE);
        return json(202, d.cutover.start(parsed.data));
      },
    },
    '/cutover/abort': { POST: async () => json(200, await d.cutover.abort()) },
    [RESYNC_ROUTE]: {
      POST: async (_req, path) => {
        const name = decodeURIComponent(RESYNC_PATH.exec(path)![1]!);
        // The cutover checked the holds as it started: a table emptied for a resync now would be handed over half-copied.
        if (d.cutover.active)
          throw new HttpError(409, `a cutover is running: ${name} would be cut over half-copied`, `POST ${own}/cutover/abort first, or wait for it to end`);
        try {
          const run = d.resyncs.request(name);
          d.log.info({ table: run.table, id: run.id }, `resync of ${run.table} requested through the admin API`);
          return json(202, { ...run, status: `GET ${own}/status shows its progress (resync)` });
        } catch (err) {
          if (err instanceof ResyncRefused) throw new HttpError(err.status, err.message, err.hint);
          throw err;
        }
      },
    },
  };
}

function refusePauseDuringCutover(d: PipelineAdminDeps): void {
  if (d.cutover.active)
    throw new HttpError(409, 'a cutover is running: pausing would stall its drain', `POST ${d.status.routes}/cutover/abort first, or wait for it to end`);
}

/** A process of several pipelines: what is asked of the process, each pipeline's own routes under /pipelines/{name}. */
function processRoutes(d: ProcessAdminDeps): Routes {
  const names = d.pipelines.map((p) => p.status.pipeline);
  const each = <T>(f: (p: PipelineAdminDeps) => T) => Object.fromEntries(d.pipelines.map((p) => [p.status.pipeline, f(p)]));
  return {
    '/healthz': { GET: async () => json(200, { alive: true, phases: each((p) => p.status.phase) }) },
    '/readyz': {
      GET: async () => {
        // A pipeline cut over is done: its target is the applications' now, nothing of ferry's to wait for.
        const done = d.pipelines.filter((p) => p.done?.()).map((p) => p.status.pipeline);
        const pipelines = each((p) =>
          done.includes(p.status.pipeline) ? { done: true, reason: 'cut over: left out of readiness' } : p.status.readiness(p.readyMaxLagSeconds),
        );
        const ready = Object.values(pipelines).every((r) => 'done' in r || r.ready);
        return json(ready ? 200 : 503, { ready, pipelines, ...(done.length > 0 ? { done } : {}) });
      },
    },
    '/metrics': { GET: async () => ({ status: 200, body: await d.metrics.text(), contentType: d.metrics.contentType }) },
    '/status': { GET: async () => json(200, { pipelines: each((p) => p.status.toJSON()) }) },
    '/events': {
      GET: async (req) => {
        const limit = limitOf(req, EVENTS_DEFAULT, RECENT_EVENTS_MAX, 'GET /events?limit=50');
        return json(200, { limit, events: d.recentEvents.last(limit) });
      },
    },
    '/pipelines': { GET: async () => json(200, { pipelines: names }) },
    '/pause': {
      POST: async () => {
        d.pipelines.forEach(refusePauseDuringCutover);
        for (const p of d.pipelines) p.gate.pause();
        d.log.info(`paused every pipeline (${names.join(', ')}) through the admin API: no target transaction starts until POST /resume`);
        return json(200, { paused: true, pipelines: names });
      },
    },
    '/resume': {
      POST: async () => {
        for (const p of d.pipelines) p.gate.resume();
        d.log.info(`resumed every pipeline (${names.join(', ')}) through the admin API`);
        return json(200, { paused: false, pipelines: names });
      },
    },
    '/cutover': {
      GET: async () => shown(d.group.view(), 'no grouped cutover has been started', 'POST /cutover {"pipelines": [...]} starts one'),
      POST: async (req) => {
        const parsed = cutoverRequestSchema.safeParse(await readJson(req));
        if (!parsed.success) throw invalidCutover(parsed.error.issues, `{"pipelines": ${JSON.stringify(names)}, ${CUTOVER_EXAMPLE.slice(1)}`);
        if (!parsed.data.pipelines)
          throw new HttpError(
            400,
            `this process runs pipelines ${names.join(', ')}: name them: {"pipelines": [...]}`,
            `send e.g. {"pipelines": ${JSON.stringify(names)}}`,
          );
        try {
          return json(202, d.group.start(parsed.data));
        } catch (err) {
          if (err instanceof UnknownPipelineError) throw new HttpError(400, err.message, err.hint);
          throw err;
        }
      },
    },
    '/cutover/abort': { POST: async () => json(200, await d.group.abort()) },
  };
}

/** POST /tables/{schema.table}/resync: one route for every table, the name percent-decoded. */
const RESYNC_PATH = /^\/tables\/([^/]+)\/resync$/;
const RESYNC_ROUTE = '/tables/{schema.table}/resync';
/** A pipeline's routes in a process of several. */
const PIPELINE_PATH = /^\/pipelines\/([^/]+)(\/.*)?$/;

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://admin').pathname.replace(/\/+$/, '') || '/';
}

/** The route for `path` in `table` (whose paths follow `prefix`), or a 404 listing them. */
function routeIn(table: Routes, path: string, prefix = ''): Partial<Record<'GET' | 'POST', Handler>> {
  const route = table[RESYNC_PATH.test(path) ? RESYNC_ROUTE : path];
  if (!route)
    throw new HttpError(
      404,
      `no such endpoint: ${prefix}${path}`,
      `endpoints: ${Object.keys(table)
        .map((k) => `${prefix}${k}`)
        .join(', ')}`,
    );
  return route;
}

/** Finds the route of a request path: the route, and the path within its table. */
type Router = (path: string) => { route: Partial<Record<'GET' | 'POST', Handler>>; path: string };

/** The admin HTTP API (DESIGN §1.3) of a process of one pipeline on `listen` (host:port; port 0 picks a free one). */
export function startAdminServer(listen: string, deps: AdminDeps): Promise<AdminServer> {
  const table: Routes = {
    '/healthz': { GET: async () => json(200, { alive: true, phase: deps.status.phase }) },
    ...pipelineRoutes(deps, deps.token, (limit) => deps.recentEvents.last(limit)),
  };
  return serve(listen, deps.token, deps.log, (path) => ({ route: routeIn(table, path), path }));
}

/** The admin HTTP API of a process of several pipelines: the process's routes, and each pipeline's under /pipelines/{name}. */
export function startProcessAdminServer(listen: string, deps: ProcessAdminDeps): Promise<AdminServer> {
  const top = processRoutes(deps);
  const tables = new Map(
    deps.pipelines.map((p) => {
      const name = p.status.pipeline;
      const own = (limit: number) =>
        deps.recentEvents
          .last(RECENT_EVENTS_MAX)
          .filter((n) => n.pipeline === name)
          .slice(-limit);
      return [name, pipelineRoutes(p, deps.token, own)];
    }),
  );
  return serve(listen, deps.token, deps.log, (path) => {
    const m = PIPELINE_PATH.exec(path);
    if (!m) return { route: routeIn(top, path), path };
    const name = decodeURIComponent(m[1]!);
    const table = tables.get(name);
    if (!table) throw new HttpError(404, `no pipeline ${name} in this process`, `pipelines: ${[...tables.keys()].join(', ')}`);
    const within = m[2] ?? '/';
    return { route: routeIn(table, within, `/pipelines/${m[1]}`), path: within };
  });
}

async function serve(listen: string, token: string | undefined, log: Logger, router: Router): Promise<AdminServer> {
  const sep = listen.lastIndexOf(':');
  const host = listen.slice(0, sep);
  const port = Number(listen.slice(sep + 1));
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const { route, path } = router(pathOf(req));
        const method = req.method === 'HEAD' ? 'GET' : req.method;
        const handler = route[method as 'GET' | 'POST'];
        if (!handler) throw new HttpError(405, `${req.method} is not allowed on ${pathOf(req)}`, `use ${Object.keys(route).join(' or ')}`);
        if (method === 'POST') {
          refuseCrossSite(req, token, host);
          authorize(req, token);
          requireJson(req);
        }
        const { status, body, contentType } = await handler(req, path);
        send(res, status, body, contentType);
      } catch (err) {
        if (err instanceof HttpError) return send(res, err.status, { error: err.message, ...(err.hint ? { hint: err.hint } : {}) });
        const e = coerceError(err);
        // A refused request (a cutover already running, nothing to abort) is the caller's conflict, not ours.
        const status = e instanceof FerryError && e.kind === 'config' ? 409 : 500;
        send(res, status, { error: e.message, ...(e.hint ? { hint: e.hint } : {}) });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new FerryError('config', `admin API cannot listen on ${listen}: ${err.message}`, { cause: err, hint: 'set admin.listen to a free host:port' })),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  log.info({ url }, `admin API on ${url}`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
