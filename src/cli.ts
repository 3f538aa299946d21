#!/usr/bin/env node
import { Command, Option } from 'commander';
import { loadConfig, type Config } from './config.js';
import { FerryEventBus } from './core/events.js';
import { FerryError, coerceError } from './errors.js';
import { LOG_LEVEL_PRECEDENCE, configureLogger, envLogLevel, makeLogger, type LogLevel, type Logger } from './log.js';
import { checkAll, formatProblems } from './pipeline/coordinator.js';
import { startDaemon } from './admin/daemon.js';
import { followCutover } from './admin/cutover-client.js';
import { openSink, openSource } from './pipeline/endpoints.js';
import { readStatus } from './pipeline/status.js';
import { logEvents } from './ui/event-log.js';
import { showSnapshotProgress } from './ui/snapshot-progress.js';
import { progressIntervalMs } from './ui/progress-interval.js';
import { verifyTables, type TableVerdict, type VerifyMode } from './verify/verify.js';
import { formatThroughput, formatVerdict } from './verify/report.js';
import { runDemo } from './demo/demo.js';
import { makePlan } from './plan/plan.js';
import { formatPlan } from './plan/plan-report.js';
import { planExitCode } from './plan/assemble.js';

/** Exit codes: 0 done, 1 failed (or verify found differences), 2 bad config or failed checks. */
function exitCodeOf(err: FerryError): number {
  return err.kind === 'config' ? 2 : 1;
}

/** Runs a command body; errors become one clear message and an exit code. */
async function main(body: (log: Logger) => Promise<number | void>, level: LogLevel = 'info'): Promise<void> {
  const log = makeLogger(level);
  try {
    log.level = envLogLevel() ?? level;
    process.exitCode = (await body(log)) ?? 0;
  } catch (err) {
    const e = coerceError(err);
    log.error({ kind: e.kind, err: e.message, hint: e.hint, cause: (e.cause as Error | undefined)?.message }, e.describe());
    process.exitCode = exitCodeOf(e);
  }
  // The work is done and logs are written synchronously: a driver's idle timer must not keep the process.
  process.exit();
}

/** Loads the config and sets the logger by it: the pipeline on every line, and the level (configureLogger). */
function loadConfigFor(file: string, log: Logger): Config {
  const config = loadConfig(file);
  configureLogger(log, config);
  return config;
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
      log.error(`the drain did not finish within ${DRAIN_BOUND_MS / 1000} s (a database is not answering): exiting without it. Nothing committed is lost: the target rolls back the open transaction when its connection closes, and the next start resumes from the checkpoint`);
      process.exit(1);
    }, DRAIN_BOUND_MS).unref();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  return controller.signal;
}

async function runCommand(file: string, until: 'snapshot' | 'stream'): Promise<void> {
  await main(async (log) => {
    const cfg = loadConfigFor(file, log);
    const everyMs = progressIntervalMs();
    const events = new FerryEventBus();
    const offLog = logEvents(events, log, everyMs);
    const offBars = showSnapshotProgress(events, { log, everyMs });
    const signal = stopSignal(log);
    const daemon = await startDaemon({ config: cfg, log, events, signal, until });
    try {
      const outcome = await daemon.done;
      if (outcome === 'cut-over' && !signal.aborted) {
        log.info(`the cutover stopped the stream (GET /cutover tells how it ended); the admin API answers until SIGTERM`);
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      }
      log.info(signal.aborted ? 'stopped cleanly; the next start resumes from the checkpoint' : `${until} finished`);
    } finally {
      await daemon.close();
      offBars();
      offLog();
    }
  });
}

const program = new Command()
  .name('ferry')
  .description('Change-data-capture replicator: snapshot a live MySQL/MariaDB or Postgres database into Postgres or MySQL/MariaDB, then stream every committed change.')
  .showHelpAfterError()
  .addHelpText('after', `
Environment:
  FERRY_LOG_LEVEL             trace, debug, info, warn or error; ${LOG_LEVEL_PRECEDENCE}
  FERRY_PROGRESS_INTERVAL_MS  how often the periodic log lines are written (streaming summary, a
                              table copy's progress off a terminal); default 10000`);

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
  .action((o: { config: string }) =>
    main(async (log) => {
      const cfg = loadConfigFor(o.config, log);
      const problems = await checkAll(cfg, log);
      const errors = problems.filter((p) => !p.warning);
      if (problems.length > 0) process.stdout.write(`${formatProblems(problems.map((p) => (p.warning ? { ...p, check: `warning: ${p.check}` } : p)))}\n`);
      process.stdout.write(errors.length === 0 ? 'check passed\n' : `check failed: ${errors.length} problem(s)\n`);
      return errors.length === 0 ? 0 : 2;
    }));

program
  .command('plan')
  .description('the assessment before a migration: every table and column with its target type and a verdict (exact, documented, lossy, unsupported), the target DDL, and what ferry will not carry with the action for each; reads both databases, writes nothing; exit 0 nothing unsupported, 1 something unsupported, 2 bad config or a database unreachable')
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .option('--json', 'print JSON')
  .action((o: { config: string; json?: boolean }) =>
    main(async () => {
      const report = await makePlan(loadConfig(o.config));
      process.stdout.write(`${o.json ? JSON.stringify(report, null, 2) : formatPlan(report)}\n`);
      return planExitCode(report);
    }));

program
  .command('status')
  .description('checkpoint, phase, positions and snapshot progress of the pipeline')
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .option('--json', 'print JSON')
  .action((o: { config: string; json?: boolean }) =>
    main(async (log) => {
      const status = await readStatus(loadConfigFor(o.config, log), log);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      const lines = [
        `pipeline:         ${status.pipeline}`,
        `phase:            ${status.phase}`,
        ...(status.cutover ? [
          `cut over at:      ${status.cutover.completedAt ?? '-'} (final source position ${status.cutover.finalPosition ?? '-'})`,
          '                  done for good: ferry run and ferry snapshot refuse this pipeline; a fresh pipeline name replicates again',
        ] : []),
        `applied position: ${status.appliedPosition ?? '-'}`,
        `source head:      ${status.sourceHead ?? '-'}`,
        `behind (bytes):   ${status.lagBytes ?? '-'}`,
        ...(status.slotRetainedBytes === null ? [] : [`slot WAL kept:    ${status.slotRetainedBytes} bytes`]),
        ...status.snapshot.map((t) => `snapshot ${t.table}: ${t.rows} rows${t.done ? ', done' : ''}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }));

program
  .command('verify')
  .description('compare source and target table by table; exit 0 when equal, 1 when they differ')
  .addHelpText('after', `
checksums: each table is cut into chunks of --chunk-rows rows by its primary key; both databases
compute every chunk's row count and a checksum of its rows, and a chunk that differs is read row by
row to name the keys that differ. Columns whose text MySQL and Postgres print differently (float,
double, json, arrays) make a table compare row by row throughout. counts: exact COUNT(*) per table.

Against a live source (ferry still streaming) the target may only be behind: a differing chunk is
compared again up to --recheck times, a second apart, and only a lasting difference counts. Against
a quiet or fenced source (after a cutover's fence) the result is exact.`)
  .requiredOption('-c, --config <file>', 'pipeline config (YAML)')
  .addOption(new Option('--mode <mode>', 'counts (exact COUNT(*)) or checksums').choices(['counts', 'checksums']).default('checksums'))
  .option('--chunk-rows <n>', 'rows per checksum chunk', '100000')
  .option('--recheck <n>', 'comparisons again of a differing chunk before it counts (0 for a quiet source)', '3')
  .option('--json', 'print JSON')
  .action((o: { config: string; mode: VerifyMode; chunkRows: string; recheck: string; json?: boolean }) =>
    main(async (log) => {
      const cfg = loadConfigFor(o.config, log);
      const chunkRows = Number(o.chunkRows);
      const recheck = Number(o.recheck);
      if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new FerryError('config', `--chunk-rows ${o.chunkRows}: expected a whole number of at least 1`);
      if (!Number.isInteger(recheck) || recheck < 0) throw new FerryError('config', `--recheck ${o.recheck}: expected a whole number of at least 0`);
      const source = await openSource(cfg, log);
      const sink = await openSink(cfg, log);
      try {
        const started = performance.now();
        const print = (v: TableVerdict) => !o.json && process.stdout.write(`${formatVerdict(v).join('\n')}\n`);
        const verdicts = await verifyTables(source, sink, await source.describeTables(), o.mode, { chunkRows, recheck, onTable: print });
        const ms = performance.now() - started;
        const rows = verdicts.reduce((n, v) => n + v.rows, 0);
        const equal = verdicts.every((v) => v.equal);
        if (o.json) process.stdout.write(`${JSON.stringify({ equal, mode: o.mode, rows, seconds: ms / 1000, tables: verdicts }, null, 2)}\n`);
        else {
          process.stdout.write(equal ? `all ${verdicts.length} tables equal (${o.mode})\n` : 'source and target differ\n');
          process.stdout.write(`${formatThroughput(rows, ms)}\n`);
        }
        return equal ? 0 : 1;
      } finally {
        await sink.close();
        await source.close();
      }
    }));

program
  .command('cutover')
  .description('trigger a cutover through a running ferry\'s admin API and follow it, printing each state; exit 0 when completed, 1 when failed or aborted')
  .requiredOption('--admin <url>', 'the admin API, e.g. http://127.0.0.1:8080')
  .option('--token <token>', 'the admin token (admin.token); default: $FERRY_ADMIN_TOKEN')
  .option('--timeout <seconds>', 'fail (and unfence) when not completed within this many seconds', '300')
  .option('--max-lag <seconds>', 'refuse to start when replication lag is above this', '5')
  .addOption(new Option('--fence <fence>', 'read-only: ferry makes the source read-only; none: you have stopped the writers').choices(['read-only', 'none']).default('read-only'))
  .addOption(new Option('--verify <mode>', 'compare source and target after draining; default: the running ferry\'s cutover.verify (checksums; counts miss changed values)').choices(['counts', 'checksums', 'none']))
  .action((o: { admin: string; token?: string; timeout: string; maxLag: string; fence: 'read-only' | 'none'; verify?: 'counts' | 'checksums' | 'none' }) =>
    main(async () => {
      // Without --verify the request names none, and the running ferry's cutover.verify decides.
      const request = { timeoutSeconds: Number(o.timeout), maxLagSeconds: Number(o.maxLag), fence: o.fence, ...(o.verify ? { verify: o.verify } : {}) };
      const view = await followCutover({
        admin: o.admin, token: o.token ?? process.env.FERRY_ADMIN_TOKEN, request,
        onState: (entry, v) => {
          const ended = entry.state === 'failed' || entry.state === 'aborted';
          process.stdout.write(`${(entry.ms / 1000).toFixed(1).padStart(6)}s  ${entry.state}${ended && v.reason ? `: ${v.reason}` : ''}\n`);
        },
      });
      if (view.state === 'completed') {
        process.stdout.write(`cutover ${view.id} completed; final source position ${view.finalPosition ?? '-'}; fence to completed ${((view.fencedToCompletedMs ?? 0) / 1000).toFixed(1)} s\n`);
        return 0;
      }
      return 1;
    }));

program
  .command('demo')
  .description('the embedded demo: private throwaway MariaDB + Postgres, live replication under load, verified with checksums')
  .option('--rows <n>', 'rows in the sample metadata table', '105827')
  .action((o: { rows: string }) => main((log) => runDemo({ log, metadataRows: Number(o.rows) }), 'warn'));

await program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 2;
});
