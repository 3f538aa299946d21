import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Sink } from '../core/sink.js';
import type { CheckProblem, Source } from '../core/source.js';
import { MysqlSink } from '../sinks/mysql/mysql-sink.js';
import { PostgresSink } from '../sinks/postgres/postgres-sink.js';
import { MysqlSource } from '../sources/mysql/mysql-source.js';
import { PostgresSource } from '../sources/postgres/postgres-source.js';
import { makeTableFilter } from './table-mapping.js';
import { connect, serverIdentity as mysqlServerIdentity } from '../sources/mysql/mysql-connection.js';
import { serverIdentity as pgServerIdentity } from '../sources/postgres/pg-connection.js';
import { connectClient } from '../sinks/postgres/postgres-connection.js';

/** The configured source. config.ts has already refused types this version does not build. */
export function openSource(config: Config, log: Logger): Promise<Source> {
  const common = {
    url: config.source.url,
    filter: makeTableFilter(config.tables.include, config.tables.exclude),
    targetSchema: config.target.schema,
    queueMaxEvents: config.apply.queueMaxEvents,
    pieceMaxEvents: config.apply.batchMaxRows,
    stallTimeoutSeconds: config.source.stallTimeoutSeconds,
    log,
  };
  if (config.source.type === 'postgres') {
    return PostgresSource.open({ ...common, slot: config.source.slot, publication: config.source.publication });
  }
  return MysqlSource.open({ ...common, pipeline: config.pipeline, serverId: config.source.serverId, tinyint1: config.types.tinyint1 });
}

export function openSink(config: Config, log: Logger): Promise<Sink> {
  const options = { url: config.target.url, pipeline: config.pipeline, connections: config.snapshot.parallelism + 1, log };
  return config.target.type === 'mysql' ? MysqlSink.open(options) : PostgresSink.open(options);
}

export function checkTarget(config: Config): Promise<CheckProblem[]> {
  return config.target.type === 'mysql' ? MysqlSink.check(config.target.url) : PostgresSink.check(config.target.url);
}

/** Which server the target is (see Source.serverIdentity); null when it cannot be reached. */
export async function targetIdentity(config: Config): Promise<string | null> {
  try {
    if (config.target.type === 'mysql') {
      const conn = await connect(config.target.url, 'target');
      try {
        return await mysqlServerIdentity(conn);
      } finally {
        await conn.end().catch(() => {});
      }
    }
    const client = await connectClient(config.target.url);
    try {
      return await pgServerIdentity(client);
    } finally {
      await client.end().catch(() => {});
    }
  } catch {
    return null;
  }
}
