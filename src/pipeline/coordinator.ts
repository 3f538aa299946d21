import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { sqlSource, sqlTarget, targetSchemaOf, type Config } from '../config.js';
import { targetEngine } from '../engines/registry.js';
import type { FerryEventBus } from '../core/events.js';
import { formatPosition, formatStartPosition, type Position } from '../core/position.js';
import { announceRetry, Backoff, STREAM_BACKOFF } from '../core/retry.js';
import type { Sink } from '../core/sink.js';
import type { TableSchema } from '../core/schema.js';
import { parseTableKey, tableKey, type Transaction } from '../core/change-event.js';
import { makeTableFilter } from '../core/table-mapping.js';
import { errorPolicyOf } from '../core/error-policy.js';
import type { CheckProblem } from '../core/check-problem.js';
import type { Source } from '../core/source.js';
import type { SourceCatalogue } from '../core/source-catalogue.js';
import { coerceError, FerryError } from '../core/errors.js';
import { applyStream } from './applier.js';
import { withoutHeldTables } from './held-tables.js';
import { quarantineTable } from './quarantine.js';
import { liftUnreplicatedHolds } from './unreplicated-holds.js';
import { RowOfQuarantineTable } from '../core/table-quarantine.js';
import { kafkaReferentialProblems } from './referential-check.js';
import { checkTarget, openSink, openSource, targetIdentity } from './endpoints.js';
import { startHeartbeat } from './heartbeat.js';
import type { PauseGate } from '../core/pause-gate.js';
import { BoundedQueue } from '../core/queue.js';
import { cutOverError, decideSnapshot } from './snapshot-decision.js';
import { runSnapshot, SnapshotInterrupted } from './snapshot.js';
import { ResyncRequests, resyncingTable } from './resync-requests.js';
import { runReplay, type ReplayRun } from './replay.js';
import { runResync, type ResyncRun } from './resync.js';
import { ResyncStage } from './resync-stage.js';
import { checkKafkaSource } from './kafka-applier.js';
import { planCheckProblems } from '../plan/plan.js';
import { targetNameCheck } from './target-names.js';
import { TableTransforms } from '../transforms/table-transforms.js';
import type { Transform } from '../transforms/transform.js';
import { checkRules, rulesTransform } from '../transforms/rules.js';

export interface RunOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly events: FerryEventBus;
  readonly signal: AbortSignal;
  /** 'snapshot' stops after the full load (DMS "full-load"); 'run' goes on streaming. */
  readonly until: 'snapshot' | 'stream';
  /** The admin API's pause switch. */
  readonly gate?: PauseGate;
  /** What the target holds of each table and row, snapshot and stream alike; by default the config's transforms.rules. */
  readonly transform?: Transform;
  /** The admin API's resync requests; without it, only a resync the checkpoint holds runs (it starts over). */
  readonly resyncs?: ResyncRequests;
  /** A scheduled refresh (snapshot.schedule): a fresh snapshot whatever the checkpoint holds. */
  readonly refresh?: boolean;
}

export function formatProblems(problems: readonly CheckProblem[]): string {
  return problems.map((p) => `  [${p.check}] ${p.message}\n      fix: ${p.hint}`).join('\n');
}

/** Everything `ferry check` reports, source and target; an unreachable source is one of the problems. */
export async function checkAll(config: Config, log: Logger, source?: SourceCatalogue): Promise<CheckProblem[]> {
  const target = await checkTarget(config, log);
  if (config.source.type === 'kafka') return [...(await checkKafkaSource(config.source, log)), ...target];
  const all = async (s: SourceCatalogue) => [
    ...(await s.check()),
    ...(await transformRuleCheck(config, s)),
    ...(await sameServerProblems(config, s)),
    ...(await kafkaReferentialProblems(config, s)),
    ...(await targetNameCheck(config, s)),
    ...(await planCheckProblems(config)),
    ...target,
  ];
  if (source) return all(source);
  let opened: Source;
  try {
    opened = await openSource(config, log);
  } catch (err) {
    const e = coerceError(err);
    return [{ check: 'source', message: e.message, hint: e.hint ?? 'check source.url and that the server is reachable' }, ...target];
  }
  try {
    return await all(opened);
  } finally {
    await opened.close();
  }
}

/** Rules that do not fit the source's tables are a config error (exit 2), not a problem to weigh. */
async function transformRuleCheck(config: Config, source: SourceCatalogue): Promise<CheckProblem[]> {
  if (config.transforms.rules.length > 0) checkRules(config.transforms, await source.describeTables());
  return [];
}

/**
 * Source and target on one server (whatever their URLs call it): the target's tables must be
 * elsewhere than the source's, and never selected as source tables, or they would feed back.
 */
export async function sameServerProblems(config: Config, source: SourceCatalogue): Promise<CheckProblem[]> {
  if (config.source.type !== config.target.type) return [];
  const target = await targetIdentity(config);
  if (target === null || target !== (await source.serverIdentity())) return [];
  const schema = targetSchemaOf(config);
  const fix = `set target.schema to a ${targetEngine(sqlTarget(config)).schemaWord} of its own and exclude it (tables.exclude: ["${schema ?? 'copy'}.*"])`;
  if (!schema)
    return [{ check: 'target', message: 'the target is the source itself (same server and database): every table would be copied onto itself', hint: fix }];
  // Tables already there, or any the patterns would select once ferry creates them.
  const selected = makeTableFilter(config.tables.include, config.tables.exclude);
  const fed = (await source.describeTables()).filter((t) => t.source.schema === schema).map((t) => tableKey(t.source));
  if (fed.length === 0 && !selected({ schema, name: 'any_table' })) return [];
  return [
    {
      check: 'target',
      message: `the source and the target are one server, and the tables selected include the target schema ${schema}${fed.length ? ` (${fed.join(', ')})` : ''}: ferry would read back what it writes`,
      hint: fix,
    },
  ];
}

/** Preflight: refuses to start on any failed check, with the same messages as `ferry check`. */
async function preflight(config: Config, log: Logger, source: SourceCatalogue): Promise<void> {
  const problems = (await checkAll(config, log, source)).filter((p) => !p.warning);
  if (problems.length > 0) {
    throw new FerryError('config', `preflight failed:\n${formatProblems(problems)}`, {
      hint: 'run `ferry check -c FILE` after fixing; nothing was written to the target',
    });
  }
}

/** Runs one pipeline: preflight → snapshot (if the checkpoint says so) → stream until `signal`. */
export async function runPipeline(o: RunOptions): Promise<void> {
  try {
    const sink = await prepareAndSnapshot(o);
    try {
      if (sink && o.until === 'stream' && !o.signal.aborted) await streamWithRetry(o, sink);
    } finally {
      await sink?.close();
    }
    o.events.emit('phase', { phase: 'stopped' });
  } catch (err) {
    const error = coerceError(err);
    o.events.emit('failure', { kind: error.kind, message: error.message });
    o.events.emit('phase', { phase: 'failed' });
    throw error;
  }
}

/** Preflight and the snapshot phase. Returns the open sink, or null when the snapshot was interrupted. */
export async function prepareAndSnapshot(o: RunOptions): Promise<Sink | null> {
  const { config, events } = o;
  events.emit('phase', { phase: 'preflight' });
  const source = await openSource(config, o.log);
  let sink: Sink | null = null;
  try {
    await preflight(config, o.log, source);
    const target = (sink = await openSink(config, o.log, o.events));
    const decide = async () => {
      const checkpoint = await target.loadCheckpoint();
      const decision = decideSnapshot(o.refresh ? 'refresh' : config.snapshot.mode, checkpoint);
      if (decision === 'cut-over') throw cutOverError(config.pipeline, checkpoint!);
      return { checkpoint, decision };
    };
    // Before claim(), which writes this process's owner token into the checkpoint row: the target of a
    // cut-over pipeline is the application's. Again after it: another process may have moved on meanwhile.
    await decide();
    await target.claim?.();
    const tables = await source.describeTables();
    const transforms = new TableTransforms(o.transform ?? rulesTransform(config.transforms), tables);
    const { checkpoint, decision } = await decide();
    const start = sqlSource(config).startPosition;
    // Not worded "streaming from …": that line is the stream's own, once it has started.
    const plan = {
      fresh: 'a fresh snapshot',
      resume: 'resuming the interrupted snapshot',
      skip: checkpoint?.position
        ? `no snapshot; the stream resumes at the checkpoint${start ? ` ${formatPosition(checkpoint.position)}, not at source.startPosition ${formatStartPosition(start)} (used only before the first checkpoint)` : ''}`
        : `no snapshot (cdc-only); the stream starts at ${start ? `source.startPosition ${formatStartPosition(start)}` : 'the log head'}`,
    }[decision];
    o.log.info(
      { decision, checkpoint: checkpoint?.phase ?? 'none', tables: tables.length },
      `${tables.length} table${tables.length === 1 ? '' : 's'} selected; ${plan}`,
    );
    if (decision !== 'skip') {
      events.emit('phase', { phase: 'snapshot' });
      await runSnapshot({
        source,
        sink,
        events: o.events,
        tables,
        transforms,
        fresh: decision === 'fresh',
        tablePrep: config.snapshot.tablePrep,
        parallelism: config.snapshot.parallelism,
        chunkRows: config.snapshot.chunkRows,
        signal: o.signal,
      });
    } else if (!checkpoint?.position) {
      // cdc-only with no checkpoint yet: start from the operator's position (a restored backup's), else the log's head.
      const from = start ? await source.streamStartAt(start) : await source.streamStartNow();
      const targets = tables.map((t) => transforms.target(t));
      await sink.prepare(targets, config.snapshot.tablePrep === 'none' ? 'none' : 'create');
      await sink.finishSnapshot(targets, { phase: 'stream', position: from });
    }
    return sink;
  } catch (err) {
    await sink?.close();
    if (err instanceof SnapshotInterrupted) {
      o.log.info('stopped during the snapshot; the next start resumes it');
      return null;
    }
    throw err;
  } finally {
    await source.close();
  }
}

/**
 * The described tables the snapshot copied; any other is named in the log and left out, never
 * half-copied. A copied table the configuration still selects but the source no longer has was
 * dropped or renamed while ferry was not watching: that stops the stream.
 */
function snapshotted(tables: readonly TableSchema[], copied: readonly string[] | undefined, config: Config, log: Logger): TableSchema[] {
  if (!copied) return [...tables];
  const known = new Set(copied);
  const described = new Set(tables.map((t) => tableKey(t.source)));
  const selected = makeTableFilter(config.tables.include, config.tables.exclude);
  const gone = copied.filter((name) => !described.has(name) && selected(parseTableKey(name)));
  if (gone.length > 0) {
    throw new FerryError(
      'fatal',
      `replicated table${gone.length === 1 ? '' : 's'} ${gone.join(', ')} no longer exist${gone.length === 1 ? 's' : ''} at the source (dropped or renamed while ferry was stopped or behind)`,
      {
        hint: 'exclude the table (tables.exclude) to go on without it, or re-snapshot (snapshot.mode: always)',
      },
    );
  }
  const late = tables.filter((t) => !known.has(tableKey(t.source)));
  if (late.length > 0) {
    log.warn(
      { tables: late.map((t) => tableKey(t.source)) },
      `not replicating ${late.map((t) => tableKey(t.source)).join(', ')}: created after the snapshot; restart with snapshot.mode: always to copy it`,
    );
  }
  return tables.filter((t) => known.has(tableKey(t.source)));
}

/**
 * Streams from the target's checkpoint. A retriable failure (dropped connection, restarted server)
 * rolls back the open target transaction, backs off, and starts again from the checkpoint with new
 * connections: zongji does not reconnect, and the checkpoint is the only position that is durable.
 * A row the target rejects in a table whose error policy is quarantine-table quarantines that table
 * at the checkpoint, and the stream starts again from there at once, without it.
 */
async function streamWithRetry(o: RunOptions, sink: Sink): Promise<void> {
  const { config, events, log } = o;
  const backoff = new Backoff(STREAM_BACKOFF);
  const resyncs = o.resyncs ?? new ResyncRequests(log);
  let from: Position | null = null;
  while (!o.signal.aborted) {
    const inner = new AbortController();
    const stop = () => inner.abort();
    o.signal.addEventListener('abort', stop, { once: true });
    let source: Source | undefined;
    let stopHeartbeat = () => {};
    let detachResyncs = () => {};
    try {
      await sink.claim?.();
      const checkpoint = await sink.loadCheckpoint();
      if (checkpoint?.phase === 'cut-over') throw cutOverError(config.pipeline, checkpoint);
      from = checkpoint?.position ?? null;
      if (!from) throw new FerryError('fatal', 'no stream position in the checkpoint', { hint: 'run with snapshot.mode: initial' });
      source = await openSource(config, log);
      const tables = snapshotted(await source.describeTables(), checkpoint?.tables, config, log);
      const transforms = new TableTransforms(o.transform ?? rulesTransform(config.transforms), tables);
      const holds = await liftUnreplicatedHolds(sink, checkpoint?.holds, tables, from, log);
      await sink.prepare(
        tables.map((t) => transforms.target(t)),
        config.snapshot.tablePrep === 'none' ? 'none' : 'create',
      );
      events.emit('phase', { phase: 'streaming' });
      const policy = errorPolicyOf(config.errors);
      const names = tables.map((t) => tableKey(t.source));
      events.emit('stream-started', {
        from,
        deadLetterTables: names.filter((t) => policy(t) === 'dead-letter'),
        tables: names,
        holds,
      });
      // One queue per attempt, weighed by events: memory stays bounded by apply.queueMaxEvents whatever the
      // transactions' sizes, and an empty one (a heartbeat, a schema change) still counts.
      const queue = new BoundedQueue<Transaction>(config.apply.queueMaxEvents, (t) => Math.max(1, t.events.length));
      source.stream(from, tables, queue, inner.signal);
      stopHeartbeat = startHeartbeat(source, events, log, sqlSource(config).heartbeatSeconds * 1000);
      const held = resyncingTable(holds);
      const stage = new ResyncStage(tables.find((t) => tableKey(t.source) === held) ?? null, tables);
      const resyncSource = source;
      const walk = { source: resyncSource, stage, events, log, chunkRows: config.snapshot.chunkRows, signal: inner.signal };
      const letters = () => sink.unreplayedLetters?.() ?? Promise.resolve([]);
      const run = (r: ResyncRun | ReplayRun, restarted: boolean) =>
        ('replay' in r
          ? runReplay(r, { ...walk, letters, tables, holds, sourceKey: (t) => transforms.sourceKey(t) }, restarted)
          : runResync(r, walk, restarted).then(() => {})
        ).catch((err: unknown) => {
          // The stream attempt fails with its resync or replay; the next one starts it over.
          queue.fail(err);
          throw err;
        });
      detachResyncs = resyncs.attach({ tables, run }, holds);
      await applyStream(transforms.stream(withoutHeldTables(stage.stream(queue), holds)), {
        source,
        sink,
        events,
        gate: o.gate,
        signal: inner.signal,
        limits: { maxRows: config.apply.batchMaxRows, maxMs: config.apply.batchMaxMs },
        onCommit: (position) => {
          backoff.reset();
          from = position;
        },
      });
    } catch (err) {
      let error = coerceError(err);
      if (err instanceof RowOfQuarantineTable && from && !o.signal.aborted) {
        // The table is held from the checkpoint on, and the stream starts again there at once: no backoff, nothing failed.
        try {
          await quarantineTable(sink, err, from, events);
          continue;
        } catch (failed) {
          error = coerceError(failed);
        }
      }
      if (error.kind !== 'retriable' || o.signal.aborted) throw error;
      // `from` is the last commit, where the next attempt's checkpoint will be (not where this one began).
      const delayMs = announceRetry(events, error, backoff, from);
      await sleep(delayMs, undefined, { signal: o.signal }).catch(() => {});
    } finally {
      detachResyncs();
      stopHeartbeat();
      inner.abort();
      o.signal.removeEventListener('abort', stop);
      await source?.close();
    }
  }
}
