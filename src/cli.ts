#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { loadConfigs, pipelineOf, type Config } from './config.js';
import { FerryEventBus } from './core/events.js';
import { coerceError, type FerryError } from './core/errors.js';
import { configureLogger, envLogLevel, makeLogger, type LogLevel, type Logger } from './log.js';
import { checkAll, formatProblems } from './pipeline/coordinator.js';
import { startProcess } from './admin/process.js';
import { followCutover, followGroupCutover } from './admin/cutover-client.js';
import { type CutoverRequest, type CutoverView, cutoverRequestSchema } from './admin/cutover.js';
import { openSinkToRead, openSource } from './pipeline/endpoints.js';
import { holdLines, readStatus } from './pipeline/status.js';
import { logEvents } from './ui/event-log.js';
import { showSnapshotProgress } from './ui/snapshot-progress.js';
import { progressIntervalMs } from './ui/progress-interval.js';
import { readerOf } from './core/target-reader.js';
import { rulesTransform } from './transforms/rules.js';
import { verifyTables, type TableVerdict, type VerifyMode } from './verify/verify.js';
import { formatThroughput, formatVerdict } from './verify/report.js';
import { runDemo } from './demo/demo.js';
import { makePlan } from './plan/plan.js';
import { formatPlan } from './plan/plan-report.js';
import { planExitCode } from './plan/assemble.js';
import { VERSION } from './version.js';

/**
 * Exit codes (DESIGN §1.1): 0 success, 1 the answer is "no", 2 ferry could not do its work. A command
 * that answers a question (status, verify, check, plan) returns its own 0 or 1, so an error there
 * means it found no answer: `failed: 2`. run, snapshot and demo exit 1 when they stop on a failure.
 * Bad config is 2 everywhere.
 */
interface MainOptions {
  /** The level until the config is loaded (configureLogger); FERRY_LOG_LEVEL overrides it. */
  readonly level?: LogLevel;
  readonly failed?: 1 | 2;
}

/** Runs a command body; errors become one clear message and an exit code. */
async function main(body: (log: Logger) => Promise<number | undefined>, options: MainOptions = {}): Promise<void> {
  const log = makeLogger(options.level);
  try {
    log.level = envLogLevel() ?? log.level;
    process.exitCode = (await body(log)) ?? 0;
  } catch (err) {
    const e = logError(log, err);
    process.exitCode = e.kind === 'config' ? 2 : (options.failed ?? 1);
  }
  // The work is done and logs are written synchronously: a driver's idle timer must not keep the process.
  process.exit();
}

/** One clear message for an error that ended a command (or one pipeline's answer). */
function logError(log: Logger, err: unknown): FerryError {
  const e = coerceError(err);
  log.error({ kind: e.kind, err: e.message, hint: e.hint, cause: (e.cause as Error | undefined)?.message }, e.describe());
  return e;
}

/** A command that answers a question: an error means no answer, exit 2. */
const ANSWER: MainOptions = { failed: 2 };

/** A question's answer for one pipeline: its exit code, and with --json what it prints (its text it prints itself). */
interface Answer {
  readonly code: number;
  readonly json?: unknown;
}

interface QuestionOptions {
  readonly config: string;
  readonly pipeline?: string;
  readonly json?: boolean;
}

const pipelineOption = () => new Option('--pipeline <name>', 'in a file of several pipelines, only this one (default: each in turn)');

/**
 * A question (check, status, verify, plan) for the file's pipeline, or the one --pipeline names. A
 * `pipelines:` file without --pipeline is asked for each pipeline in turn: its text under
 * `== pipeline a ==`, its JSON as `{ "pipelines": { "a": … } }`, the exit code the worst; a pipeline
 * that finds no answer (exit 2) does not keep the next from answering.
 */
function question(o: QuestionOptions, answer: (config: Config, log: Logger) => Promise<Answer>): Promise<void> {
  return main((log) => answerEach(o, log, answer), ANSWER);
}

async function answerEach(o: QuestionOptions, log: Logger, answer: (config: Config, log: Logger) => Promise<Answer>): Promise<number> {
  const print = (json: unknown) => process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  const loaded = loadConfigs(o.config);
  if (!loaded.multi || o.pipeline !== undefined) {
    const config = pipelineOf(loaded, o.pipeline);
    configureLogger(log, config);
    const { code, json } = await answer(config, log);
    if (o.json) print(json);
    return code;
  }
  const answers: Record<string, unknown> = {};
  let worst = 0;
  for (const [i, config] of loaded.configs.entries()) {
    if (!o.json) process.stdout.write(`${i > 0 ? '\n' : ''}== pipeline ${config.pipeline} ==\n`);
    const pipelineLog = log.child({});
    configureLogger(pipelineLog, config);
    try {
      const { code, json } = await answer(config, pipelineLog);
      answers[config.pipeline] = json;
      worst = Math.max(worst, code);
    } catch (err) {
      const e = logError(pipelineLog, err);
      answers[config.pipeline] = { error: e.message, kind: e.kind };
      worst = 2;
    }
  }
  if (o.json) print({ pipelines: answers });
  return worst;
}

/**
 * A commander parser for a numeric option, checked by `rule` as the command line is read: a value
 * such as `--timeout abc` stops ferry with exit 2 before it connects or sends anything.
 */
function numberArg(rule: z.ZodType<number>, expected: string): (text: string) => number {
  return (text) => {
    const parsed = rule.safeParse(text.trim() === '' ? Number.NaN : Number(text));
    if (!parsed.success) throw new InvalidArgumentError(`expected ${expected}.`);
    return parsed.data;
  };
}

/**
 * How long SIGTERM's drain may take. A healthy drain takes a second or two (the open batch commits or
 * rolls back); a database that stopped answering would hold it for as long as its connection takes to
 * be declared dead. 20 s stays inside Kubernetes' default 30 s grace period, so ferry ends itself,
 * saying why, before the SIGKILL.
 */
const DRAIN_BOUND_MS = 20_000;

/** SIGTERM/SIGINT drain and stop; a second signal exits at once, and so does a drain past its bound. The one place signals are handled. */
function stopSignal(log: Logger): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: string) => {
    if (controller.signal.aborted) {
      log.warn(`second ${name}: exiting now`);
      process.exit(130);
    }
    log.info(`${name}: draining and stopping`);
    controller.abort();
    setTimeout(() => {
      log.error(
        `the drain did not finish within ${DRAIN_BOUND_MS / 1000} s (a database is not answering): exiting without it. Nothing committed is lost: the target rolls back the open transaction when its connection closes, and the next start resumes from the checkpoint`,
      );
      process.exit(1);
    }, DRAIN_BOUND_MS).unref();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  return controller.signal;
}

async function runCommand(file: string, until: 'snapshot' | 'stream'): Promise<void> {
  await main(async (log) => {
    const { configs, multi } = loadConfigs(file);
    // Several pipelines: each one's lines name it (a child logger below), the process's lines none.
    configureLogger(log, multi ? { log: configs[0]!.log } : configs[0]!);
    const everyMs = progressIntervalMs();
    // Each pipeline's lines name it (on a terminal, which shows only the message, in front of it); several pipelines'
    // progress is logged, bars of each would draw over the others'.
    const pipelineLog = (name: string) => log.child({ pipeline: name }, process.stderr.isTTY ? { msgPrefix: `[${name}] ` } : {});
    const pipelines = configs.map((config) => ({ config, log: multi ? pipelineLog(config.pipeline) : log, events: new FerryEventBus() }));
    const offs = pipelines.flatMap(({ events, log: plog }) => [
      logEvents(events, plog, everyMs),
      showSnapshotProgress(events, { log: plog, everyMs, bars: !multi }),
    ]);
    const signal = stopSignal(log);
    const proc = await startProcess({ pipelines, multi, log, signal, until });
    try {
      const { failed, cutOver } = await proc.done;
      // One pipeline's failure is the command's, reported as any other (main).
      if (!multi && failed[0]) throw failed[0].error;
      if (cutOver.length > 0 && !signal.aborted) {
        const which = multi
          ? `pipeline(s) ${cutOver.join(', ')} (GET /cutover tells how a grouped cutover ended, GET /pipelines/{name}/cutover a pipeline's own)`
          : 'the stream (GET /cutover tells how it ended)';
        log.info(`the cutover stopped ${which}; the admin API answers until SIGTERM`);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      }
      if (failed.length > 0) {
        log.error({ failed: failed.map((f) => f.pipeline) }, `pipeline(s) ${failed.map((f) => f.pipeline).join(', ')} failed (their errors above)`);
        return 1;
      }
      log.info(signal.aborted ? 'stopped cleanly; the next start resumes from the checkpoint' : `${until} finished`);
    } finally {
      await proc.close();
      offs.reverse().forEach((off) => off());
    }
  });
}

const program = new Command()
  .name('ferry')
  .description(
    'Change-data-capture replicator: snapshot a live MySQL/MariaDB or Postgres database into Postgres or MySQL/MariaDB, then stream every committed change.',
  )
  .version(VERSION, '-V, --version', "print ferry's version")
  .showHelpAfterError()
  // Usage errors (an unknown option, a bad number) exit 2 like bad config; commander would exit 1.
  .exitOverride()
  .addHelpText(
    'after',
    `
Config file: every key, with its default and allowed values, is listed in docs/config.md (in
ferry's repository).
Exit codes: 0 success, 1 the answer is "no" (tables differ, cutover failed), 2 ferry could not do
its work (bad config or option, unreachable database, refused request).

Environment:
  FERRY_LOG_LEVEL             trace, debug, info, warn or error; when set, it overrides the config's
                              log.level (default info)
  FERRY_PROGRESS_INTERVAL_MS  how often the periodic log lines are written (streaming summary, a
                              table copy's progress off a terminal); default 10000`,
  );

program
  .command('run')
  .description('snapshot if needed, then stream changes until SIGTERM/SIGINT (which drains and exits 0)')
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .action((o: { config: string }) => runCommand(o.config, 'stream'));

program
  .command('snapshot')
  .description('full load only (DMS "full-load"), then exit; a later `ferry run` streams from where it ended')
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .action((o: { config: string }) => runCommand(o.config, 'snapshot'));

program
  .command('check')
  .description('preflight: connectivity, grants, binlog or WAL settings, replication slot and publication, primary keys; exit 2 on problems')
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .addOption(pipelineOption())
  .action((o: QuestionOptions) =>
    question(o, async (cfg, log) => {
      const problems = await checkAll(cfg, log);
      const errors = problems.filter((p) => !p.warning);
      if (problems.length > 0) process.stdout.write(`${formatProblems(problems.map((p) => (p.warning ? { ...p, check: `warning: ${p.check}` } : p)))}\n`);
      process.stdout.write(errors.length === 0 ? 'check passed\n' : `check failed: ${errors.length} problem(s)\n`);
      return { code: errors.length === 0 ? 0 : 2 };
    }),
  );

program
  .command('plan')
  .description(
    'the assessment before a migration: every table and column with its target type and a verdict (exact, documented, lossy, unsupported), the target DDL, and what ferry will not carry with the action for each; reads both databases, writes nothing; exit 0 nothing unsupported, 1 something unsupported, 2 bad config or a database unreachable',
  )
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .addOption(pipelineOption())
  .option('--json', 'print JSON')
  .action((o: QuestionOptions) =>
    question(o, async (cfg) => {
      const report = await makePlan(cfg);
      if (!o.json) process.stdout.write(`${formatPlan(report)}\n`);
      return { code: planExitCode(report), json: report };
    }),
  );

program
  .command('status')
  .description(
    "checkpoint, phase, positions, snapshot progress and held tables (quarantined, or being resynced, with the running ferry's resync progress from its admin API at admin.listen) of the pipeline; reads both databases, writes nothing; exit 2 when the target cannot be read",
  )
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .addOption(pipelineOption())
  .option('--json', 'print JSON')
  .action((o: QuestionOptions) =>
    question(o, async (cfg, log) => {
      const status = await readStatus(cfg, log);
      if (o.json) return { code: 0, json: status };
      const lines = [
        `pipeline:         ${status.pipeline}`,
        `phase:            ${status.phase}`,
        ...(status.phase === 'new' ? ['checkpoint:       none yet (ferry run or ferry snapshot has not started this pipeline on this target)'] : []),
        ...(status.cutover
          ? [
              `cut over at:      ${status.cutover.completedAt ?? '-'} (final source position ${status.cutover.finalPosition ?? '-'})`,
              '                  done for good: ferry run and ferry snapshot refuse this pipeline; a fresh pipeline name replicates again',
            ]
          : []),
        `applied position: ${status.appliedPosition ?? '-'}`,
        `source head:      ${status.sourceHead ?? '-'}`,
        `behind (bytes):   ${status.lagBytes ?? '-'}`,
        ...(status.slotRetainedBytes === null ? [] : [`slot WAL kept:    ${status.slotRetainedBytes} bytes`]),
        ...status.snapshot.map((t) => `snapshot ${t.table}: ${t.rows} rows${t.done ? ', done' : ''}`),
        ...holdLines(status),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return { code: 0 };
    }),
  );

program
  .command('verify')
  .description(
    'compare source and target table by table; reads both databases, writes nothing; exit 0 when equal, 1 when they differ, 2 when they cannot be compared (bad config, a database unreachable)',
  )
  .addHelpText(
    'after',
    `
checksums: each table is cut into chunks of --chunk-rows rows by its primary key; both databases
compute every chunk's row count and a checksum of its rows, and a chunk that differs is read row by
row to name the keys that differ. Columns whose text MySQL and Postgres print differently (float,
double, json, arrays) make a table compare row by row throughout. counts: exact COUNT(*) per table.

Against a live source (ferry still streaming) the target may only be behind: a differing chunk is
compared again up to --recheck times, a second apart, and only a lasting difference counts. Against
a quiet or fenced source (after a cutover's fence) the result is exact.`,
  )
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .addOption(new Option('--mode <mode>', 'counts (exact COUNT(*)) or checksums').choices(['counts', 'checksums']).default('checksums'))
  .option('--chunk-rows <n>', 'rows per checksum chunk', numberArg(z.number().int().min(1), 'a whole number of at least 1'), 100_000)
  .option(
    '--recheck <n>',
    'comparisons again of a differing chunk before it counts (0 for a quiet source)',
    numberArg(z.number().int().min(0), 'a whole number of at least 0'),
    3,
  )
  .addOption(pipelineOption())
  .option('--json', 'print JSON')
  .action((o: QuestionOptions & { mode: VerifyMode; chunkRows: number; recheck: number }) =>
    question(o, async (cfg, log) => {
      const { chunkRows, recheck } = o;
      const source = await openSource(cfg, log);
      const sink = await openSinkToRead(cfg, log);
      try {
        const started = performance.now();
        const print = (v: TableVerdict) => !o.json && process.stdout.write(`${formatVerdict(v).join('\n')}\n`);
        const verdicts = await verifyTables(source, readerOf(sink), await source.describeTables(), o.mode, {
          chunkRows,
          recheck,
          onTable: print,
          transform: rulesTransform(cfg.transforms),
        });
        const ms = performance.now() - started;
        const rows = verdicts.reduce((n, v) => n + v.rows, 0);
        const equal = verdicts.every((v) => v.equal);
        if (!o.json) {
          process.stdout.write(equal ? `all ${verdicts.length} tables equal (${o.mode})\n` : 'source and target differ\n');
          process.stdout.write(`${formatThroughput(rows, ms)}\n`);
        }
        return { code: equal ? 0 : 1, json: { equal, mode: o.mode, rows, seconds: ms / 1000, tables: verdicts } };
      } finally {
        await sink.close();
        await source.close();
      }
    }),
  );

program
  .command('cutover')
  .description("trigger a cutover through a running ferry's admin API and follow it, printing each state; exit 0 when completed, 1 when failed or aborted")
  .requiredOption('--admin <url>', 'the admin API, e.g. http://127.0.0.1:8080')
  .option('--token <token>', 'the admin token (admin.token); default: $FERRY_ADMIN_TOKEN')
  .option(
    '--timeout <seconds>',
    'fail (and unfence) when not completed within this many seconds',
    numberArg(cutoverRequestSchema.shape.timeoutSeconds, 'a whole number of seconds from 1 to 86400'),
    300,
  )
  .option(
    '--max-lag <seconds>',
    'refuse to start when replication lag is above this',
    numberArg(cutoverRequestSchema.shape.maxLagSeconds, 'a number of seconds above 0'),
    5,
  )
  .addOption(
    new Option('--fence <fence>', 'read-only: ferry makes the source read-only; none: you have stopped the writers')
      .choices(['read-only', 'none'])
      .default('read-only'),
  )
  .addOption(
    new Option(
      '--verify <mode>',
      "compare source and target after draining; default: the running ferry's cutover.verify (checksums; counts miss changed values)",
    ).choices(['counts', 'checksums', 'none']),
  )
  .option(
    '--pipelines <names>',
    'cut these pipelines of a multi-pipeline ferry over together (comma-separated): every one verified and ready before any stream stops, else all fail and are unfenced',
    pipelineNames,
  )
  .action(
    (o: {
      admin: string;
      token?: string;
      timeout: number;
      maxLag: number;
      fence: 'read-only' | 'none';
      verify?: 'counts' | 'checksums' | 'none';
      pipelines?: string[];
    }) =>
      main(async () => {
        // Without --verify the request names none, and the running ferry's cutover.verify decides.
        const request = { timeoutSeconds: o.timeout, maxLagSeconds: o.maxLag, fence: o.fence, ...(o.verify ? { verify: o.verify } : {}) };
        return o.pipelines ? cutOverGroup(o.admin, o.token, { ...request, pipelines: o.pipelines }) : cutOver(o.admin, o.token, request);
      }),
  );

/** `--pipelines a,b,c`: the names, each once. */
function pipelineNames(text: string): string[] {
  const parsed = cutoverRequestSchema.shape.pipelines.safeParse(text.split(',').map((n) => n.trim()));
  if (!parsed.success || !parsed.data) throw new InvalidArgumentError('expected pipeline names separated by commas, each once (e.g. a,b,c).');
  return parsed.data;
}

const token = (given: string | undefined) => given ?? process.env.FERRY_ADMIN_TOKEN;

async function cutOver(admin: string, given: string | undefined, request: Partial<CutoverRequest>): Promise<number> {
  const view = await followCutover({
    admin,
    token: token(given),
    request,
    onState: (entry, v) => process.stdout.write(`${stateLine(entry, v)}\n`),
  });
  if (view.state === 'completed') {
    process.stdout.write(`cutover ${view.id} completed; ${cutOverAt(view)}\n`);
    return 0;
  }
  return 1;
}

async function cutOverGroup(admin: string, given: string | undefined, request: Partial<CutoverRequest> & { pipelines: string[] }): Promise<number> {
  const view = await followGroupCutover({
    admin,
    token: token(given),
    request,
    onState: (name, entry, v) => process.stdout.write(`${stateLine(entry, v, name)}\n`),
  });
  if (view.state !== 'completed') {
    process.stdout.write(`grouped cutover ${view.id} ${view.state}${view.reason ? `: ${view.reason}` : ''}\n`);
    return 1;
  }
  process.stdout.write(`grouped cutover ${view.id} completed\n`);
  for (const [name, v] of Object.entries(view.pipelines)) process.stdout.write(`  ${name}: ${cutOverAt(v)}\n`);
  return 0;
}

/** `  3.1s  a: draining`, and why when it failed or was aborted. */
function stateLine(entry: CutoverView['history'][number], view: CutoverView, pipeline?: string): string {
  const ended = entry.state === 'failed' || entry.state === 'aborted';
  return `${(entry.ms / 1000).toFixed(1).padStart(6)}s  ${pipeline ? `${pipeline}: ` : ''}${entry.state}${ended && view.reason ? `: ${view.reason}` : ''}`;
}

function cutOverAt(view: CutoverView): string {
  return `final source position ${view.finalPosition ?? '-'}; fence to completed ${((view.fencedToCompletedMs ?? 0) / 1000).toFixed(1)} s`;
}

program
  .command('demo')
  .description('the embedded demo: private throwaway MariaDB + Postgres, live replication under load, verified with checksums')
  .option('--rows <n>', 'rows in the sample metadata table', numberArg(z.number().int().min(1), 'a whole number of at least 1'), 105_827)
  .action((o: { rows: number }) => main((log) => runDemo({ log, metadataRows: o.rows }), { level: 'warn' }));

await program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander has printed its own message (or the help, or the version) already.
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 2;
});
