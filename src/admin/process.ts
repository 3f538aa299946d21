import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { serverOf } from '../core/endpoint-url.js';
import { coerceError, FerryError } from '../core/errors.js';
import { SQL_SOURCES } from '../engines/registry.js';
import { FerryEventBus } from '../core/events.js';
import { ProcessMetrics } from '../metrics/metrics.js';
import { closeReceivers, notifications } from '../notify/notifier.js';
import { RecentEvents } from '../notify/recent-events.js';
import { WebhookReceiver } from '../notify/webhook.js';
import type { LiveStatus } from '../pipeline/live-status.js';
import { PipelineCutOver } from '../pipeline/snapshot-decision.js';
import { startAdminServer, startProcessAdminServer, type AdminServer } from './admin-server.js';
import type { CutoverRequestBody } from './cutover.js';
import { GroupCutover } from './group-cutover.js';
import { PipelineUnit } from './pipeline-unit.js';

/** One pipeline of the process: its config, its logger (naming it) and its event bus. */
export interface ProcessPipeline {
  readonly config: Config;
  readonly log: Logger;
  readonly events: FerryEventBus;
}

export interface ProcessOptions {
  /** In the file's order. */
  readonly pipelines: readonly ProcessPipeline[];
  /** The file holds `pipelines:`: the admin API answers for several (/pipelines/{name}/…), even with one. */
  readonly multi: boolean;
  /** The process's logger. */
  readonly log: Logger;
  /** SIGTERM/SIGINT: every pipeline drains and stops. */
  readonly signal: AbortSignal;
  readonly until: 'snapshot' | 'stream';
}

/** How the process's pipelines ended. */
export interface ProcessOutcome {
  /** Those whose run ended with an error, in the order they failed. */
  readonly failed: readonly { readonly pipeline: string; readonly error: unknown }[];
  /** Those a cutover stopped (GET /cutover tells whether it completed). */
  readonly cutOver: readonly string[];
}

export interface FerryProcess {
  /** The admin API's address; null without an `admin` section. */
  readonly adminUrl: string | null;
  readonly pipelines: readonly PipelineUnit[];
  /** Settles when every pipeline has stopped; never rejects. */
  readonly done: Promise<ProcessOutcome>;
  /** Closes the admin API and the notifications (after `done`). */
  close(): Promise<void>;
}

/**
 * The pipelines of a file in one process (DESIGN §1.2): each with its status, metrics, pause and
 * cutover; one admin API, one GET /events and one set of webhook receivers for them all. The admin
 * API is up before any pipeline starts.
 */
export async function startProcess(o: ProcessOptions): Promise<FerryProcess> {
  // admin, log and notify are the process's: every pipeline's config carries the same.
  const { admin, notify } = o.pipelines[0]!.config;
  // The receivers' deliveries: on the one pipeline's bus as ever, else on the process's own.
  const processEvents = o.multi ? new FerryEventBus() : o.pipelines[0]!.events;
  const receivers = notify.webhooks.map((w) => new WebhookReceiver(w, processEvents, o.log));
  const names = receivers.map((r) => r.name);
  const units: PipelineUnit[] = [];
  const refuseFence = (members: readonly string[], fence: CutoverRequestBody['fence']) => refuseSharedFence(units, members, fence);
  for (const p of o.pipelines) {
    const own = { refuseFence: (fence: CutoverRequestBody['fence']) => refuseFence([p.config.pipeline], fence) };
    const routes = o.multi ? `/pipelines/${encodeURIComponent(p.config.pipeline)}` : '';
    units.push(new PipelineUnit({ ...p, receivers: o.multi ? [] : names, processMetrics: !o.multi, routes, ...own }));
  }
  const recentEvents = new RecentEvents();
  const offNotify = units.map((u) => notifications(u.name, u.events, recentEvents, receivers));
  const metrics = o.multi
    ? new ProcessMetrics(
        processEvents,
        names,
        units.map((u) => u.metrics),
      )
    : null;
  const group = new GroupCutover(new Map(units.map((u) => [u.name, u.cutover])), refuseFence);
  // A SIGTERM aborts a grouped cutover that has not started stopping the streams, every fence lifted (each pipeline settles its own too).
  const settleGroup = () => void group.settle('ferry received SIGTERM/SIGINT');
  o.signal.addEventListener('abort', settleGroup, { once: true });
  let server: AdminServer | null = null;
  if (admin) {
    const common = { token: admin.token, log: o.log, recentEvents };
    server = metrics
      ? await startProcessAdminServer(admin.listen, { ...common, metrics, group, pipelines: units.map((u) => u.adminDeps()) })
      : await startAdminServer(admin.listen, { ...common, ...units[0]!.adminDeps() });
  }
  const done = runPipelines(
    units.map((u) => ({ name: u.name, dependsOn: u.config.dependsOn, status: u.status, events: u.events, log: u.log, run: (s, until) => u.run(s, until) })),
    o,
  );
  return {
    adminUrl: server?.url ?? null,
    pipelines: units,
    done,
    async close() {
      o.signal.removeEventListener('abort', settleGroup);
      offNotify.forEach((off) => off());
      await closeReceivers(receivers);
      await server?.close();
      metrics?.close();
      units.forEach((u) => u.close());
    },
  };
}

/**
 * What a read-only fence on the source of `config` makes read-only for every client: a MySQL or MariaDB
 * server (read_only is global), a Postgres database (default_transaction_read_only); null for Kafka.
 */
export function fenceScope(config: Config): string | null {
  const { source } = config;
  if (source.type === 'kafka') return null;
  const server = serverOf(source.url, SQL_SOURCES[source.type].url.defaultPort);
  if (source.type === 'mysql') return `the MySQL/MariaDB server at ${server}`;
  return `the Postgres database ${decodeURIComponent(new URL(source.url).pathname.slice(1))} at ${server}`;
}

/**
 * A cutover of `members` whose read-only fence would also fence the source of a pipeline of the process
 * it does not cut over (one MySQL server, one Postgres database): that pipeline's applications would be
 * stopped with no cutover of theirs, and the one cutover lifting its fence (failed, aborted) would lift
 * the other's from under it. Refused, unless that pipeline is cut over already (in this run or before).
 */
function refuseSharedFence(units: readonly PipelineUnit[], members: readonly string[], fence: CutoverRequestBody['fence']): void {
  if (fence === 'none') return;
  const scopes = new Set(units.filter((u) => members.includes(u.name)).map((u) => fenceScope(u.config)));
  const others = units.filter((u) => !members.includes(u.name) && !u.cutOver && fenceScope(u.config) !== null && scopes.has(fenceScope(u.config)));
  if (others.length === 0) return;
  throw new FerryError(
    'config',
    `fence read-only would also fence ${others.map((u) => `pipeline ${u.name}'s source (${fenceScope(u.config)})`).join(' and ')}, which this cutover does not cut over`,
    {
      hint: `cut them over together: POST /cutover {"pipelines": ${JSON.stringify([...members, ...others.map((u) => u.name)])}}; or stop the applications' writes yourself and send {"fence": "none"}`,
    },
  );
}

/** A pipeline as runPipelines sees it. */
export interface Runnable {
  readonly name: string;
  readonly dependsOn: readonly string[];
  readonly status: LiveStatus;
  readonly events: FerryEventBus;
  readonly log: Logger;
  run(signal: AbortSignal, until: 'snapshot' | 'stream'): Promise<'stopped' | 'cut-over'>;
}

/**
 * Whether a pipeline others depend on lets them start: streaming; a refresh pipeline (snapshot.schedule)
 * once a refresh of this run succeeded (idle before its first, its target empty or stale until then).
 */
const startsDependents = (status: LiveStatus) => (status.refresh ? status.refresh.done > 0 : status.phase === 'streaming');

/** How a pipeline ended: 'cut-over' also when it was cut over before this run (refused at start), its rows in the target final. */
type Ended = 'stopped' | 'cut-over' | 'failed';

/**
 * Runs every pipeline, each once every pipeline it depends on streams (phase `waiting` until then;
 * with `until` snapshot, once their snapshots are done). A pipeline that fails stops those that
 * depend on it, transitively: they drain and stop, or never start. Settles when every pipeline has
 * stopped. In a one-pipeline process (not `multi`) the failure is the caller's to report.
 */
export function runPipelines(units: readonly Runnable[], o: Pick<ProcessOptions, 'signal' | 'until' | 'multi'>): Promise<ProcessOutcome> {
  const byName = new Map(units.map((u) => [u.name, u]));
  const ended = new Map<string, Ended>();
  const stops = new Map(units.map((u) => [u.name, new AbortController()]));
  const failed: { pipeline: string; error: unknown }[] = [];
  const cutOver: string[] = [];
  /** Those waiting, told whenever a phase changes or a pipeline ends. */
  const waiters = new Set<() => void>();
  const wake = () => [...waiters].forEach((w) => w());
  const offs = units.map((u) => u.events.on('phase', wake));
  const dependents = (name: string) => units.filter((u) => u.dependsOn.includes(name));

  /** Stops the pipelines that depend on `name`, and theirs: `why` tells what became of `name`. */
  const stopDependents = (name: string, why: string) => {
    for (const d of dependents(name)) {
      const stop = stops.get(d.name)!;
      if (ended.has(d.name) || stop.signal.aborted) continue;
      const started = d.status.phase !== 'waiting';
      const reason = `it depends on ${name}, which ${why}`;
      d.log.error({ dependsOn: name }, started ? `stopping pipeline ${d.name}: ${reason}` : `pipeline ${d.name} will not start: ${reason}`);
      // The reason: what its cutover, if one runs, is aborted for (PipelineUnit.run).
      stop.abort(reason);
      stopDependents(d.name, `depends on ${name}, which ${why}`);
    }
  };

  /** Waits until every pipeline `u` depends on lets it start: true, or false when it must not start. */
  const dependencies = (u: Runnable, signal: AbortSignal) =>
    new Promise<boolean>((resolve) => {
      const deps = u.dependsOn.map((n) => byName.get(n)!);
      // A pipeline cut over has its rows in the target for good: those depending on it may start.
      const ready = (d: Runnable) =>
        ended.get(d.name) === 'cut-over' || (o.until === 'snapshot' ? ended.get(d.name) === 'stopped' : !ended.has(d.name) && startsDependents(d.status));
      const check = () => {
        const waiting = deps.filter((d) => !ready(d));
        u.status.waitingFor = waiting.map((d) => d.name);
        const gone = o.until === 'stream' ? waiting.find((d) => ended.has(d.name)) : waiting.find((d) => ended.has(d.name) && ended.get(d.name) !== 'stopped');
        if (waiting.length > 0 && !signal.aborted && !gone) return;
        waiters.delete(check);
        if (gone && !signal.aborted)
          u.log.warn({ dependsOn: gone.name }, `pipeline ${u.name} will not start: ${gone.name}, which it depends on, stopped before it streamed`);
        resolve(waiting.length === 0 && !signal.aborted);
      };
      waiters.add(check);
      signal.addEventListener('abort', check, { once: true });
      check();
      if (waiters.has(check))
        u.log.info({ waitingFor: u.status.waitingFor }, `pipeline ${u.name} waits for ${u.status.waitingFor!.join(', ')} to stream before it starts`);
    });

  const runOne = async (u: Runnable) => {
    const signal = AbortSignal.any([o.signal, stops.get(u.name)!.signal]);
    try {
      if (u.dependsOn.length > 0) {
        u.events.emit('phase', { phase: 'waiting' });
        if (!(await dependencies(u, signal))) {
          u.events.emit('phase', { phase: 'stopped' });
          ended.set(u.name, 'stopped');
          return;
        }
      }
      const outcome = await u.run(signal, o.until);
      ended.set(u.name, outcome);
      if (outcome === 'cut-over') cutOver.push(u.name);
    } catch (err) {
      if (o.multi && err instanceof PipelineCutOver) {
        // Restarted after its cutover: done, as one a cutover stopped in this run is; the others go on.
        u.log.warn({ kind: err.kind, hint: err.hint }, `${err.message}; the other pipelines go on`);
        u.events.emit('phase', { phase: 'stopped' });
        ended.set(u.name, 'cut-over');
        return;
      }
      ended.set(u.name, 'failed');
      failed.push({ pipeline: u.name, error: err });
      if (o.multi) {
        const e = coerceError(err);
        u.log.error({ kind: e.kind, err: e.message, hint: e.hint, cause: (e.cause as Error | undefined)?.message }, e.describe());
      }
      stopDependents(u.name, 'failed');
    } finally {
      wake();
    }
  };
  return Promise.all(units.map(runOne)).then(() => {
    offs.forEach((off) => off());
    return { failed, cutOver };
  });
}
