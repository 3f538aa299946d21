import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessAdminServer, type AdminServer } from '../../src/admin/admin-server.js';
import { CutoverController } from '../../src/admin/cutover.js';
import { GroupCutover } from '../../src/admin/group-cutover.js';
import { runPipelines, startProcess, type Runnable } from '../../src/admin/process.js';
import { parseConfigs } from '../../src/config.js';
import { PauseGate } from '../../src/core/pause-gate.js';
import { FerryEventBus, type Phase } from '../../src/core/events.js';
import { FerryError } from '../../src/core/errors.js';
import { FerryMetrics, ProcessMetrics } from '../../src/metrics/metrics.js';
import { RecentEvents } from '../../src/notify/recent-events.js';
import { notifications } from '../../src/notify/notifier.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';
import { ResyncRequests } from '../../src/pipeline/resync-requests.js';
import { samples, typesOf } from '../helpers/exposition.js';
import { cutOverError } from '../../src/pipeline/snapshot-decision.js';

/** A logger whose lines are kept, each as its level and message. */
function memoryLog(): { log: pino.Logger; lines: { level: number; msg: string; pipeline?: string }[] } {
  const lines: { level: number; msg: string; pipeline?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { log, lines };
}

/** A pipeline whose run the test drives: it enters `phase` when told, and ends as told. */
interface FakePipeline extends Runnable {
  started: boolean;
  signal: AbortSignal | null;
  enter(phase: Phase): void;
  finish(outcome?: 'stopped' | 'cut-over'): void;
  fail(message: string): void;
  reject(err: Error): void;
}

function fake(name: string, dependsOn: string[], log: pino.Logger): FakePipeline {
  const events = new FerryEventBus();
  let end = (_: 'stopped' | 'cut-over') => {};
  let fail = (_: Error) => {};
  const p: FakePipeline = {
    name,
    dependsOn,
    events,
    status: new LiveStatus(name, events),
    log: log.child({ pipeline: name }),
    started: false,
    signal: null,
    run(signal) {
      p.started = true;
      p.signal = signal;
      events.emit('phase', { phase: 'starting' });
      return new Promise((resolve, reject) => {
        end = resolve;
        fail = reject;
        // As a real pipeline does: SIGTERM (or a pipeline it depends on failing) drains and stops it.
        signal.addEventListener('abort', () => {
          events.emit('phase', { phase: 'stopped' });
          resolve('stopped');
        });
      });
    },
    enter: (phase) => events.emit('phase', { phase }),
    finish: (outcome = 'stopped') => end(outcome),
    fail: (message) => fail(new FerryError('fatal', message)),
    reject: (err) => {
      // As runPipeline does: the phase failed, then the error.
      events.emit('phase', { phase: 'failed' });
      fail(err);
    },
  };
  return p;
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('dependsOn: the order pipelines start in', () => {
  it('starts a pipeline once every pipeline it depends on streams, waiting (phase waiting, waitingFor) until then', async () => {
    const { log } = memoryLog();
    const stop = new AbortController();
    const [a, c, b] = [fake('a', [], log), fake('c', [], log), fake('b', ['a', 'c'], log)];
    const done = runPipelines([a, c, b], { signal: stop.signal, until: 'stream', multi: true });
    await tick();
    expect([a.started, c.started, b.started]).toEqual([true, true, false]);
    expect(b.status.phase).toBe('waiting');
    expect(b.status.toJSON().waitingFor).toEqual(['a', 'c']);
    expect(a.status.toJSON().waitingFor, 'a depends on none: no waitingFor').toBeUndefined();
    a.enter('streaming');
    await tick();
    expect(b.started).toBe(false);
    expect(b.status.toJSON().waitingFor).toEqual(['c']);
    c.enter('snapshot');
    c.enter('streaming');
    await tick();
    expect(b.started).toBe(true);
    expect(b.status.toJSON().waitingFor).toEqual([]);
    stop.abort();
    expect(await done).toEqual({ failed: [], cutOver: [] });
  });

  it('with ferry snapshot, starts a pipeline once the snapshots of those it depends on are done', async () => {
    const { log } = memoryLog();
    const [a, b] = [fake('a', [], log), fake('b', ['a'], log)];
    const done = runPipelines([a, b], { signal: new AbortController().signal, until: 'snapshot', multi: true });
    a.enter('snapshot');
    await tick();
    expect(b.started).toBe(false);
    a.finish();
    await tick();
    expect(b.started).toBe(true);
    b.finish();
    expect(await done).toEqual({ failed: [], cutOver: [] });
  });

  it('a failed pipeline stops those that depend on it, transitively, with an ERROR line naming why; the others go on', async () => {
    const { log, lines } = memoryLog();
    const [a, b, c, d] = [fake('a', [], log), fake('b', ['a'], log), fake('c', ['b', 'd'], log), fake('d', [], log)];
    const done = runPipelines([a, b, c, d], { signal: new AbortController().signal, until: 'stream', multi: true });
    a.enter('streaming');
    await tick();
    expect([b.started, c.started]).toEqual([true, false]);
    a.fail('the source went away');
    await tick();
    expect(b.signal?.aborted, 'b drains and stops').toBe(true);
    expect(c.started, 'c, waiting, never starts').toBe(false);
    expect(c.status.phase).toBe('stopped');
    expect(d.signal?.aborted, 'd depends on none of them').toBe(false);
    const errors = lines.filter((l) => l.level === 50).map((l) => `${l.pipeline}: ${l.msg}`);
    expect(errors).toEqual([
      expect.stringMatching(/^a: .*the source went away/),
      'b: stopping pipeline b: it depends on a, which failed',
      'c: pipeline c will not start: it depends on b, which depends on a, which failed',
    ]);
    d.finish();
    const outcome = await done;
    expect(outcome.failed.map((f) => f.pipeline)).toEqual(['a']);
    expect(outcome.cutOver).toEqual([]);
  });

  it('a pipeline cut over before (ferry restarted after its cutover) is done, not failed: those depending on it start, the others go on', async () => {
    const { log, lines } = memoryLog();
    const stop = new AbortController();
    const [a, b, c] = [fake('a', [], log), fake('b', ['a'], log), fake('c', ['b'], log)];
    const done = runPipelines([a, b, c], { signal: stop.signal, until: 'stream', multi: true });
    await tick();
    a.reject(cutOverError('a', { phase: 'cut-over', position: null, cutOverAt: new Date('2026-12-04T18:00:00Z') }));
    await tick();
    expect(b.started, 'a’s rows in the target are final: b may start').toBe(true);
    expect(a.status.phase).toBe('stopped');
    expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    b.enter('streaming');
    await tick();
    expect(c.started).toBe(true);
    stop.abort();
    expect(await done).toEqual({ failed: [], cutOver: [] });
  });

  it('a pipeline cut over in this run lets one still waiting for it start', async () => {
    const { log } = memoryLog();
    const stop = new AbortController();
    const [a, c, b] = [fake('a', [], log), fake('c', [], log), fake('b', ['a', 'c'], log)];
    const done = runPipelines([a, c, b], { signal: stop.signal, until: 'stream', multi: true });
    a.enter('streaming');
    await tick();
    a.finish('cut-over');
    await tick();
    c.enter('streaming');
    await tick();
    expect(b.started).toBe(true);
    stop.abort();
    expect(await done).toEqual({ failed: [], cutOver: ['a'] });
  });

  it('a refresh pipeline (snapshot.schedule) lets those depending on it start once its first refresh succeeded, not while idle before it', async () => {
    const { log } = memoryLog();
    const stop = new AbortController();
    const [a, b] = [fake('a', [], log), fake('b', ['a'], log)];
    const done = runPipelines([a, b], { signal: stop.signal, until: 'stream', multi: true });
    await tick();
    const startedAt = new Date();
    a.enter('idle');
    a.events.emit('refresh-scheduled', { next: new Date(Date.now() + 60_000) });
    await tick();
    expect(b.started, 'idle before the first refresh: the target is empty').toBe(false);
    a.events.emit('refresh-started', { startedAt });
    a.enter('snapshot');
    a.events.emit('refresh-failed', { startedAt, endedAt: new Date(), kind: 'retriable', message: 'the source went away' });
    a.enter('idle');
    await tick();
    expect(b.started, 'its first refresh failed').toBe(false);
    a.events.emit('refresh-started', { startedAt });
    a.enter('snapshot');
    a.events.emit('refresh-done', { startedAt, endedAt: new Date(), rows: 3, tables: 1 });
    a.enter('idle');
    await tick();
    expect(b.started).toBe(true);
    stop.abort();
    expect(await done).toEqual({ failed: [], cutOver: [] });
  });

  it('a dependent stopped because its dependency failed passes that reason on (its cutover is aborted for it), not SIGTERM', async () => {
    const { log } = memoryLog();
    const [a, b] = [fake('a', [], log), fake('b', ['a'], log)];
    const done = runPipelines([a, b], { signal: new AbortController().signal, until: 'stream', multi: true });
    a.enter('streaming');
    await tick();
    a.fail('the source went away');
    await done;
    expect(b.signal?.reason).toBe('it depends on a, which failed');
  });

  it('SIGTERM stops every pipeline, and one still waiting never starts', async () => {
    const { log } = memoryLog();
    const stop = new AbortController();
    const [a, b] = [fake('a', [], log), fake('b', ['a'], log)];
    const done = runPipelines([a, b], { signal: stop.signal, until: 'stream', multi: true });
    await tick();
    stop.abort();
    expect(await done).toEqual({ failed: [], cutOver: [] });
    expect([a.signal?.aborted, b.started, b.status.phase]).toEqual([true, false, 'stopped']);
  });
});

/** The admin deps of pipeline `name`, streaming or not. */
function adminPipeline(name: string, log: pino.Logger) {
  const events = new FerryEventBus();
  const status = new LiveStatus(name, events);
  status.routes = `/pipelines/${name}`;
  const p = { cutOver: false };
  const resyncs = new ResyncRequests(log);
  const unused = async () => Promise.reject(new Error('not in this test'));
  return {
    events,
    get cutOver() {
      return p.cutOver;
    },
    set cutOver(v: boolean) {
      p.cutOver = v;
    },
    deps: {
      status,
      done: () => p.cutOver,
      metrics: new FerryMetrics(name, events, status, { source: false, target: false }, [], false),
      gate: new PauseGate(events),
      cutover: new CutoverController({
        events,
        status,
        log,
        openSource: unused,
        openSink: unused,
        stopStream: async () => {},
        defaultVerify: 'checksums',
        resyncs,
      }),
      resyncs,
      readyMaxLagSeconds: 5,
      log,
    },
  };
}

describe('the admin API of a process of several pipelines', () => {
  const { log } = memoryLog();
  log.level = 'silent';
  const a = adminPipeline('a', log);
  const b = adminPipeline('b', log);
  const recent = new RecentEvents();
  const offs = [notifications('a', a.events, recent, []), notifications('b', b.events, recent, [])];
  let server: AdminServer;
  let url: string;
  const JSON_TYPE = { 'content-type': 'application/json' };
  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    return [res.status, await res.json()] as const;
  };
  const post = async (path: string, body = '{}') => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: JSON_TYPE, body });
    return [res.status, await res.json()] as const;
  };

  beforeAll(async () => {
    const metrics = new ProcessMetrics(new FerryEventBus(), [], [a.deps.metrics, b.deps.metrics]);
    const group = new GroupCutover(new Map([a, b].map((p) => [p.deps.status.pipeline, p.deps.cutover])));
    server = await startProcessAdminServer('127.0.0.1:0', { token: undefined, log, recentEvents: recent, pipelines: [a.deps, b.deps], metrics, group });
    url = server.url;
  });
  afterAll(async () => {
    offs.forEach((off) => off());
    await server?.close();
  });

  it('GET /status, /readyz and /healthz answer for every pipeline; /pipelines/{name}/… for one', async () => {
    a.events.emit('phase', { phase: 'streaming' });
    b.events.emit('phase', { phase: 'waiting' });
    const [, status] = await get('/status');
    expect(Object.keys(status.pipelines)).toEqual(['a', 'b']);
    expect([status.pipelines.a.phase, status.pipelines.b.phase]).toEqual(['streaming', 'waiting']);
    const [code, ready] = await get('/readyz');
    expect([code, ready.ready, ready.pipelines.b.reason]).toEqual([503, false, 'phase is waiting, not streaming']);
    expect(await get('/healthz')).toEqual([200, { alive: true, phases: { a: 'streaming', b: 'waiting' } }]);
    expect(await get('/pipelines/b/status')).toEqual([200, expect.objectContaining({ pipeline: 'b', phase: 'waiting' })]);
    expect((await get('/pipelines/a/readyz'))[1]).toEqual({ ready: false, reason: 'nothing applied yet since the stream started' });
    expect(await get('/pipelines')).toEqual([200, { pipelines: ['a', 'b'] }]);
  });

  it('GET /readyz leaves a pipeline cut over out (listed as done); a refresh pipeline is ready while its last refresh succeeded', async () => {
    const startedAt = new Date('2026-12-04T18:00:00Z');
    const endedAt = new Date('2026-12-04T18:01:00Z');
    const refresh = (e: FerryEventBus, how: 'done' | 'failed' | 'started') => {
      if (how === 'started') return e.emit('refresh-started', { startedAt });
      if (how === 'done') e.emit('refresh-done', { startedAt, endedAt, rows: 3, tables: 1 });
      else e.emit('refresh-failed', { startedAt, endedAt, kind: 'retriable', message: 'lost' });
      e.emit('phase', { phase: 'idle' });
    };
    // b: a refresh pipeline; a: cut over.
    b.events.emit('phase', { phase: 'idle' });
    b.events.emit('refresh-scheduled', { next: null });
    let [code, body] = await get('/readyz');
    expect([code, body.pipelines.b]).toEqual([503, { ready: false, reason: 'no refresh has succeeded yet' }]);
    refresh(b.events, 'started');
    b.events.emit('phase', { phase: 'snapshot' });
    refresh(b.events, 'done');
    expect((await get('/pipelines/b/readyz'))[0], 'idle after a refresh that succeeded').toBe(200);
    refresh(b.events, 'started');
    b.events.emit('phase', { phase: 'snapshot' });
    expect(await get('/pipelines/b/readyz')).toEqual([200, { ready: true, reason: `refreshed at ${endedAt.toISOString()}; refreshing again` }]);
    refresh(b.events, 'failed');
    expect((await get('/pipelines/b/readyz'))[0]).toBe(503);
    refresh(b.events, 'started');
    expect((await get('/pipelines/b/readyz'))[0], 'refreshing again after a failed one').toBe(503);
    refresh(b.events, 'done');
    a.cutOver = true;
    a.events.emit('phase', { phase: 'stopped' });
    [code, body] = await get('/readyz');
    expect([code, body]).toEqual([
      200,
      { ready: true, pipelines: { a: { done: true, reason: 'cut over: left out of readiness' }, b: expect.objectContaining({ ready: true }) }, done: ['a'] },
    ]);
    expect((await get('/pipelines/a/readyz'))[0], 'its own readyz: stopped').toBe(503);
    a.cutOver = false;
    a.events.emit('phase', { phase: 'streaming' });
    b.events.emit('phase', { phase: 'waiting' });
  });

  it('a hint names the pipeline’s own route (/pipelines/{name}/…)', async () => {
    a.deps.status.holds = { 'shop.orders': { state: 'quarantined' } as never };
    expect((await get('/pipelines/a/readyz'))[1].reason).toMatch(/then POST \/pipelines\/a\/tables\/\{schema\.table\}\/resync$/);
    a.deps.status.holds = {};
    expect((await get('/pipelines/a/cutover'))[1].hint).toBe('POST /pipelines/a/cutover starts one');
  });

  it('an unknown pipeline or endpoint is a 404 that lists what there is', async () => {
    expect(await get('/pipelines/x/status')).toEqual([404, { error: 'no pipeline x in this process', hint: 'pipelines: a, b' }]);
    const [code, body] = await get('/pipelines/a/nope');
    expect([code, body.error]).toEqual([404, 'no such endpoint: /pipelines/a/nope']);
    expect(body.hint).toMatch(/^endpoints: \/pipelines\/a\/readyz, \/pipelines\/a\/metrics, \/pipelines\/a\/status, /);
    expect(body.hint).toContain('/pipelines/a/tables/{schema.table}/resync');
    expect((await get('/dead-letters'))[0], 'a pipeline route is not at the top').toBe(404);
  });

  it('POST /pause and /resume act on every pipeline; /pipelines/{name}/pause on one', async () => {
    expect(await post('/pause')).toEqual([200, { paused: true, pipelines: ['a', 'b'] }]);
    expect([a.deps.status.paused, b.deps.status.paused]).toEqual([true, true]);
    expect(await post('/resume')).toEqual([200, { paused: false, pipelines: ['a', 'b'] }]);
    expect(await post('/pipelines/b/pause')).toEqual([200, { paused: true }]);
    expect([a.deps.status.paused, b.deps.status.paused]).toEqual([false, true]);
    await post('/pipelines/b/resume');
  });

  it('POST /cutover must name its pipelines (400), known ones; a pipeline’s own cutover takes only its name', async () => {
    const [code, body] = await post('/cutover', '{"verify": "none"}');
    expect([code, body.error]).toEqual([400, 'this process runs pipelines a, b: name them: {"pipelines": [...]}']);
    expect((await post('/cutover', '{"pipelines": ["a", "x"]}'))[1].error).toBe('no pipeline x in this process');
    expect((await post('/cutover', '{"pipelines": ["a"], "fence": "maybe"}'))[1].error).toMatch(/^invalid cutover request: fence/);
    expect((await post('/pipelines/a/cutover', '{"pipelines": ["b"]}'))[0]).toBe(400);
    expect(await get('/cutover')).toEqual([404, expect.objectContaining({ error: 'no grouped cutover has been started' })]);
    const [refused, why] = await post('/cutover', '{"pipelines": ["a", "b"]}');
    expect([refused, why.error]).toEqual([409, expect.stringMatching(/^pipeline b: .*not streaming/)]);
    const [started, view] = await post('/pipelines/a/cutover', '{"pipelines": ["a"], "verify": "none"}');
    expect([started, view.request.verify]).toEqual([202, 'none']);
  });

  it('GET /events lists every pipeline’s notifications; /pipelines/{name}/events its own', async () => {
    const [, all] = await get('/events');
    const kinds = (events: { pipeline: string; kind: string }[]) => events.map((e) => `${e.pipeline} ${e.kind}`);
    expect(kinds(all.events)).toEqual(expect.arrayContaining(['a phase', 'b phase']));
    const [, own] = await get('/pipelines/b/events');
    expect(new Set(own.events.map((e: { pipeline: string }) => e.pipeline))).toEqual(new Set(['b']));
  });

  it('GET /metrics: one exposition, each family once, every pipeline series labelled with it, the process’s own once', async () => {
    const res = await fetch(`${url}/metrics`);
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(text.match(/^# TYPE ferry_phase gauge$/gm)).toHaveLength(1);
    const phases = samples(text).filter((s) => s.name === 'ferry_phase' && s.value === 1);
    expect(phases.map((s) => `${s.labels.pipeline} ${s.labels.phase}`).sort()).toEqual(['a streaming', 'b waiting']);
    const ownSeries = samples(text).filter((s) => s.name.startsWith('ferry_'));
    expect(ownSeries.every((s) => s.labels.pipeline === 'a' || s.labels.pipeline === 'b')).toBe(true);
    const cpu = samples(text).filter((s) => s.name === 'process_cpu_user_seconds_total');
    expect(cpu.map((s) => s.labels)).toEqual([{}]);
    expect(typesOf(text).get('process_start_time_seconds'), 'kept, not averaged away').toBe('gauge');
  });
});

describe('a cutover’s fence and the other pipelines of the process', () => {
  // Nothing listens on port 1: the pipelines fail at once; the admin API answers on.
  const source = (database: string, type = 'mysql') => ({ type, url: `${type}://ferry:secret@127.0.0.1:1/${database}` });
  const target = { type: 'postgres', url: 'postgres://ferry:secret@127.0.0.1:1/dw' };
  const started = async (doc: object) => {
    const { log } = memoryLog();
    log.level = 'silent';
    const { configs } = parseConfigs({ admin: { listen: '127.0.0.1:0' }, ...doc });
    const proc = await startProcess({
      pipelines: configs.map((config) => ({ config, log, events: new FerryEventBus() })),
      multi: true,
      log,
      signal: AbortSignal.abort(),
      until: 'stream',
    });
    await proc.done;
    const post = async (path: string, body: object) => {
      const res = await fetch(`${proc.adminUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return [res.status, ((await res.json()) as { error: string }).error] as const;
    };
    return { proc, post };
  };

  it('refuses a read-only fence that would fence another pipeline’s source too (one MySQL server, one Postgres database), unless cut over with it', async () => {
    const { proc, post } = await started({
      pipelines: [
        { pipeline: 'a', source: source('shop'), target },
        { pipeline: 'b', source: source('billing'), target },
        { pipeline: 'c', source: source('crm', 'postgres'), target },
        { pipeline: 'd', source: source('crm', 'postgres'), target },
        { pipeline: 'e', source: source('hr', 'postgres'), target },
      ],
    });
    try {
      const [code, error] = await post('/pipelines/a/cutover', { verify: 'none' });
      expect([code, error]).toEqual([409, expect.stringMatching(/fence read-only would also fence .*pipeline b/)]);
      expect((await post('/pipelines/c/cutover', { verify: 'none' }))[1]).toMatch(/pipeline d/);
      expect((await post('/cutover', { pipelines: ['a', 'c'], verify: 'none' }))[1]).toMatch(/pipeline b.*pipeline d|pipeline d.*pipeline b/s);
      // Its own database on the Postgres server: nobody else's source is fenced.
      expect((await post('/pipelines/e/cutover', { verify: 'none' }))[0]).toBe(202);
      // No fence: the operator stops the writes.
      expect((await post('/pipelines/a/cutover', { verify: 'none', fence: 'none' }))[0]).toBe(202);
    } finally {
      await proc.close();
    }
  });
});
