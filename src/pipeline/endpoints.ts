import type { Logger } from 'pino';
import { sqlSource, sqlTarget, STALL_TIMEOUT_DEFAULT, targetSchemaOf, type Config } from '../config.js';
import type { FerryEventBus } from '../core/events.js';
import type { DatabaseSink, Sink } from '../core/sink.js';
import type { CheckProblem } from '../core/check-problem.js';
import type { Source } from '../core/source.js';
import { makeTableFilter } from '../core/table-mapping.js';
import { KAFKA_TARGET, openSqlSource, targetEngine } from '../engines/registry.js';
import type { TargetNaming } from '../core/target-naming.js';
import { errorPolicyOf } from '../core/error-policy.js';

/** The configured source. config.ts has already refused types this version does not build. */
export async function openSource(config: Config, log: Logger): Promise<Source> {
  const source = sqlSource(config);
  const common = {
    url: source.url,
    filter: makeTableFilter(config.tables.include, config.tables.exclude),
    targetSchema: targetSchemaOf(config),
    pieceMaxEvents: config.apply.batchMaxRows,
    stallTimeoutSeconds: source.stallTimeoutSeconds,
    log,
  };
  return openSqlSource(source, common, {
    pipeline: config.pipeline,
    targetType: config.target.type,
    tinyint1: config.types.tinyint1,
    refresh: config.snapshot.schedule !== undefined,
  });
}

export function openSink(config: Config, log: Logger, events?: FerryEventBus): Promise<Sink> {
  const target = config.target;
  if (target.type === 'kafka') return KAFKA_TARGET.openSink(target, { pipeline: config.pipeline, log, ...(events ? { events } : {}) });
  return openDatabaseSink(config, log);
}

/** The configured target for a read-only command (status, verify): it creates nothing there (DESIGN §1.1). */
export function openSinkToRead(config: Config, log: Logger): Promise<Sink> {
  return config.target.type === 'kafka' ? openSink(config, log) : openDatabaseSink(config, log, { readOnly: true });
}

/** The configured database target (an applying process writes through it too). */
export function openDatabaseSink(config: Config, log: Logger, access: { readonly readOnly?: boolean } = {}): Promise<DatabaseSink> {
  const target = sqlTarget(config);
  const stallTimeoutSeconds = config.source.type === 'kafka' ? STALL_TIMEOUT_DEFAULT : config.source.stallTimeoutSeconds;
  const options = {
    url: target.url,
    pipeline: config.pipeline,
    connections: config.snapshot.parallelism + 1,
    stallTimeoutSeconds,
    log,
    errorPolicy: errorPolicyOf(config.errors),
    ...access,
  };
  return targetEngine(target).openSink(options);
}

export function checkTarget(config: Config, log: Logger): Promise<CheckProblem[]> {
  const target = config.target;
  if (target.type === 'kafka') return KAFKA_TARGET.checkTarget(target, log);
  return targetEngine(target).checkTarget(target.url);
}

/** Which server the target is (see SourceCatalogue.serverIdentity); null when it cannot be reached, or is not a database. */
export async function targetIdentity(config: Config): Promise<string | null> {
  if (config.target.type === 'kafka') return null;
  return targetEngine(config.target)
    .serverIdentity(config.target.url)
    .catch(() => null);
}

/**
 * How the target compares names (target-names.ts); null for Kafka, whose topics keep the source's
 * names. A MySQL target's lower_case_table_names is read from it: 0 (Linux's default) when it cannot
 * be reached, which checkTarget reports on its own.
 */
export async function targetNaming(config: Config): Promise<TargetNaming | null> {
  if (config.target.type === 'kafka') return null;
  return targetEngine(config.target).targetNaming(config.target.url);
}
