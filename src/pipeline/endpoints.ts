import type { RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import { sqlSource, sqlTarget, STALL_TIMEOUT_DEFAULT, targetSchemaOf, type Config } from '../config.js';
import type { FerryEventBus } from '../core/events.js';
import type { DatabaseSink, Sink } from '../core/sink.js';
import { KafkaSink } from '../sinks/kafka/kafka-sink.js';
import type { CheckProblem, Source } from '../core/source.js';
import { MysqlSink } from '../sinks/mysql/mysql-sink.js';
import { PostgresSink } from '../sinks/postgres/postgres-sink.js';
import { MysqlSource } from '../sources/mysql/mysql-source.js';
import { PostgresSource } from '../sources/postgres/postgres-source.js';
import { makeTableFilter } from '../core/table-mapping.js';
import { connect, serverIdentity as mysqlServerIdentity } from '../engines/mysql/connection.js';
import { connectClient, serverIdentity as pgServerIdentity } from '../engines/postgres/connection.js';
import type { TargetNaming } from './target-names.js';

/** The configured source. config.ts has already refused types this version does not build. */
export async function openSource(config: Config, log: Logger): Promise<Source> {
  const source = sqlSource(config);
  const common = {
    url: source.url,
    filter: makeTableFilter(config.tables.include, config.tables.exclude),
    targetSchema: targetSchemaOf(config),
    queueMaxEvents: config.apply.queueMaxEvents,
    pieceMaxEvents: config.apply.batchMaxRows,
    stallTimeoutSeconds: source.stallTimeoutSeconds,
    log,
  };
  if (source.type === 'postgres') {
    return PostgresSource.open({ ...common, slot: source.slot, publication: source.publication, targetType: config.target.type });
  }
  return MysqlSource.open({ ...common, pipeline: config.pipeline, serverId: source.serverId, tinyint1: config.types.tinyint1 });
}

export function openSink(config: Config, log: Logger, events?: FerryEventBus): Promise<Sink> {
  const target = config.target;
  if (target.type === 'kafka') return KafkaSink.open({ ...target, pipeline: config.pipeline, log, ...(events ? { events } : {}) });
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
  const options = { url: target.url, pipeline: config.pipeline, connections: config.snapshot.parallelism + 1, stallTimeoutSeconds, log, ...access };
  return target.type === 'mysql' ? MysqlSink.open(options) : PostgresSink.open(options);
}

export function checkTarget(config: Config, log: Logger): Promise<CheckProblem[]> {
  const target = config.target;
  if (target.type === 'kafka') return KafkaSink.check(target, log);
  return target.type === 'mysql' ? MysqlSink.check(target.url) : PostgresSink.check(target.url);
}

/** Which server the target is (see Source.serverIdentity); null when it cannot be reached, or is not a database. */
export async function targetIdentity(config: Config): Promise<string | null> {
  if (config.target.type === 'kafka') return null;
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

/**
 * How the target compares names (target-names.ts); null for Kafka, whose topics keep the source's
 * names. A MySQL target's lower_case_table_names is read from it: 0 (Linux's default) when it cannot
 * be reached, which checkTarget reports on its own.
 */
export async function targetNaming(config: Config): Promise<TargetNaming | null> {
  if (config.target.type === 'kafka') return null;
  if (config.target.type !== 'mysql') return { engine: 'postgres' };
  const conn = await connect(config.target.url, 'target').catch(() => null);
  if (!conn) return { engine: 'mysql', lowerCaseTableNames: 0 };
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT @@lower_case_table_names AS n');
    return { engine: 'mysql', lowerCaseTableNames: Number(rows[0]?.n ?? 0) };
  } finally {
    await conn.end().catch(() => {});
  }
}
