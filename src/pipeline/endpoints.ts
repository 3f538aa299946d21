import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Sink } from '../core/sink.js';
import type { CheckProblem, Source } from '../core/source.js';
import { PostgresSink } from '../sinks/postgres/postgres-sink.js';
import { MysqlSource } from '../sources/mysql/mysql-source.js';
import { makeTableFilter } from './table-mapping.js';

/** The configured source. config.ts has already refused types this version does not build. */
export function openSource(config: Config, log: Logger): Promise<Source> {
  return MysqlSource.open({
    url: config.source.url,
    serverId: config.source.serverId,
    filter: makeTableFilter(config.tables.include, config.tables.exclude),
    targetSchema: config.target.schema,
    tinyint1: config.types.tinyint1,
    queueMaxEvents: config.apply.queueMaxEvents,
    pieceMaxEvents: config.apply.batchMaxRows,
    stallTimeoutSeconds: config.source.stallTimeoutSeconds,
    log,
  });
}

export function openSink(config: Config, log: Logger): Promise<Sink> {
  return PostgresSink.open({
    url: config.target.url,
    pipeline: config.pipeline,
    connections: config.snapshot.parallelism + 1,
    log,
  });
}

export function checkTarget(config: Config): Promise<CheckProblem[]> {
  return PostgresSink.check(config.target.url);
}
