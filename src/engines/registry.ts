import type { RowDataPacket } from 'mysql2/promise';
import type { Logger } from 'pino';
import type { TableId } from '../core/change-event.js';
import type { CheckpointTables } from '../core/checkpoint-store.js';
import type { ErrorPolicy } from '../core/error-policy.js';
import type { FerryEventBus } from '../core/events.js';
import type { UrlStyle } from '../core/endpoint-url.js';
import type { CatalogueReader } from '../core/plan-catalogue.js';
import type { PlanTarget, TargetProbe } from '../core/plan-target.js';
import type { Column, Engine, PartitionedTable, TargetEngine } from '../core/schema.js';
import type { DatabaseSink } from '../core/sink.js';
import type { CheckProblem } from '../core/check-problem.js';
import type { Source } from '../core/source.js';
import type { NameRules, TargetNaming } from '../core/target-naming.js';
import type { Assessment } from '../core/verdict.js';
import type { VerifySql } from '../core/verify-sql.js';
import type { Config, KafkaTargetConfig, MysqlSourceConfig, PostgresSourceConfig, SqlTargetConfig } from '../config.js';
import { ensureMssqlCheckpointTables, mssqlCheckpointStore } from '../checkpoint/mssql-checkpoint-table.js';
import { MssqlPipelineLock } from '../checkpoint/mssql-pipeline-lock.js';
import { ensureMysqlCheckpointTables, mysqlCheckpointStore } from '../checkpoint/mysql-checkpoint-table.js';
import { MysqlPipelineLock } from '../checkpoint/mysql-pipeline-lock.js';
import { ensureCheckpointTables, postgresCheckpointStore } from '../checkpoint/postgres-checkpoint-table.js';
import { PostgresPipelineLock } from '../checkpoint/postgres-pipeline-lock.js';
import { KafkaSink } from '../sinks/kafka/kafka-sink.js';
import { mssqlPlanTarget } from '../sinks/mssql/mssql-plan-target.js';
import { openMssqlSink } from '../sinks/mssql/mssql-sink.js';
import { checkMssqlTarget } from '../sinks/mssql/mssql-target-check.js';
import { openMssqlTargetProbe } from '../sinks/mssql/mssql-target-probe.js';
import { mysqlPlanTarget } from '../sinks/mysql/mysql-plan-target.js';
import { checkMysqlTarget, openMysqlSink } from '../sinks/mysql/mysql-sink.js';
import { openMysqlTargetProbe } from '../sinks/mysql/mysql-target-probe.js';
import { postgresPlanTarget } from '../sinks/postgres/postgres-plan-target.js';
import { checkPostgresTarget, openPostgresSink } from '../sinks/postgres/postgres-sink.js';
import { openPostgresTargetProbe } from '../sinks/postgres/postgres-target-probe.js';
import { mysqlColumnCaveat, openMysqlCatalogue } from '../sources/mysql/mysql-catalogue.js';
import { MysqlSource } from '../sources/mysql/mysql-source.js';
import { openPgCatalogue } from '../sources/postgres/pg-catalogue.js';
import { PostgresSource } from '../sources/postgres/postgres-source.js';
import { describeEndpoint as mssqlEndpoint, MSSQL_URL } from './mssql/connection.js';
import { isReadOnlyRefusal as mssqlReadOnly } from './mssql/errors.js';
import { mssqlNameRules, SCHEMA_WORD as MSSQL_SCHEMA_WORD } from './mssql/naming.js';
import { mssqlServerIdentity, mssqlTargetNaming } from './mssql/server.js';
import { mssqlVerifySql } from './mssql/verify-sql.js';
import { connect, describeEndpoint as mysqlEndpoint, MYSQL_URL, serverIdentity as mysqlServerIdentity } from './mysql/connection.js';
import { isReadOnlyRefusal as mysqlReadOnly } from './mysql/errors.js';
import { mysqlNameRules, SCHEMA_WORD as MYSQL_SCHEMA_WORD } from './mysql/naming.js';
import { mysqlVerifySql } from './mysql/verify-sql.js';
import { connectClient, describeEndpoint as pgEndpoint, POSTGRES_URL, serverIdentity as pgServerIdentity } from './postgres/connection.js';
import { isReadOnlyRefusal as pgReadOnly } from './postgres/errors.js';
import { postgresNameRules, SCHEMA_WORD as PG_SCHEMA_WORD } from './postgres/naming.js';
import { postgresVerifySql } from './postgres/verify-sql.js';
import { parseEnvelope } from './kafka/envelope.js';
import { KafkajsTransport } from './kafka/kafkajs-transport.js';
import { SchemaCatalog } from './kafka/schema-catalog.js';
import { Topics } from './kafka/topics.js';
import type { KafkaTransport } from './kafka/transport.js';

export type { Envelope, TableCodec } from './kafka/envelope.js';
export type { SchemaCatalog } from './kafka/schema-catalog.js';
export type { Topics } from './kafka/topics.js';
export type { BatchContext, KafkaTransport, PartitionBatch, TopicPartition } from './kafka/transport.js';

/** What every source reads from the config, whatever its engine (endpoints.ts fills it in). */
export interface SourceCommon {
  readonly url: string;
  readonly filter: (t: TableId) => boolean;
  readonly targetSchema: string | undefined;
  readonly pieceMaxEvents: number;
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
}

export interface SourceSettings {
  readonly pipeline: string;
  readonly targetType: Config['target']['type'];
  readonly tinyint1: Config['types']['tinyint1'];
  /** A refresh pipeline (snapshot.schedule): its snapshots never stream, so they keep nothing on the source. */
  readonly refresh: boolean;
}

export interface SinkOptions {
  readonly url: string;
  readonly pipeline: string;
  readonly connections: number;
  readonly stallTimeoutSeconds: number;
  readonly log: Logger;
  readonly readOnly?: boolean;
  /** The error policy of each source table (config `errors`). */
  readonly errorPolicy?: (table: string) => ErrorPolicy;
}

interface SourceConfigOf {
  mysql: MysqlSourceConfig;
  postgres: PostgresSourceConfig;
}

/** What either side of a pipeline reads of an engine: how its URLs are written and shown. */
interface EngineEndpoint {
  /** How this engine's URLs are written (schemes, TLS parameters), for config.ts. */
  readonly url: UrlStyle;
  /** The server `url` names, without credentials, for messages and reports. */
  describeEndpoint(url: string): string;
}

/** One target engine's adapters: the only place that picks a target's implementation (DESIGN §2). */
export interface SqlTargetEngine<T extends TargetEngine> extends EngineEndpoint {
  openSink(options: SinkOptions): Promise<DatabaseSink>;
  checkTarget(url: string): Promise<CheckProblem[]>;
  /** Which server the target at `url` is (see SourceCatalogue.serverIdentity). */
  serverIdentity(url: string): Promise<string>;
  /** How the target at `url` compares names (pipeline/target-names.ts). */
  targetNaming(url: string): Promise<TargetNaming>;
  /** The target's name rules, as `targetNaming` read them. */
  nameRules(naming: Extract<TargetNaming, { readonly engine: T }>): NameRules;
  /** What a schema is called on this engine, in messages ('database' on MySQL). */
  readonly schemaWord: string;
  readonly verifySql: VerifySql;
  /** Whether `err` is this engine refusing a write because the server is read-only. */
  isReadOnlyRefusal(err: unknown): boolean;
  /** ferry plan: a read-only session on a target of this engine that reads what it has. */
  openTargetProbe(url: string): Promise<TargetProbe>;
  /** ferry plan: what a target of this engine makes of a source table (DDL, types and their verdicts, constraints). */
  readonly planTarget: PlanTarget;
  /** What a target of this engine makes of a partitioned source table. */
  readonly partitionedTable: PartitionedTable;
}

/** One source engine's adapters: what only an engine ferry reads changes from has. */
export interface SqlSourceEngine<E extends Engine> extends EngineEndpoint {
  openSource(source: SourceConfigOf[E], common: SourceCommon, settings: SourceSettings): Promise<Source>;
  /** ferry plan: a read-only session on a source of this engine that reads its catalogue. */
  openCatalogue(url: string): Promise<CatalogueReader>;
  /** ferry plan: what a column of a source of this engine loses whatever the target (MySQL's zero dates), or null. */
  columnCaveat(c: Column): Assessment | null;
}

/** Each SQL engine's checkpoint tables, handed to its sink (the checkpoint row commits in the sink's transaction, DESIGN §3.2). */
export const CHECKPOINT_TABLES = {
  mysql: { ensure: ensureMysqlCheckpointTables, store: mysqlCheckpointStore, lock: (url, pipeline) => new MysqlPipelineLock(url, pipeline) },
  postgres: { ensure: ensureCheckpointTables, store: postgresCheckpointStore, lock: (url, pipeline) => new PostgresPipelineLock(url, pipeline) },
  mssql: { ensure: ensureMssqlCheckpointTables, store: mssqlCheckpointStore, lock: (url, pipeline) => new MssqlPipelineLock(url, pipeline) },
} satisfies { readonly [T in TargetEngine]: CheckpointTables<never, never> };

const mysql: SqlSourceEngine<'mysql'> & SqlTargetEngine<'mysql'> = {
  url: MYSQL_URL,
  openSource: (source, common, s) => MysqlSource.open({ ...common, pipeline: s.pipeline, serverId: source.serverId, tinyint1: s.tinyint1 }),
  openSink: (options) => openMysqlSink({ ...options, checkpoint: CHECKPOINT_TABLES.mysql }),
  checkTarget: (url) => checkMysqlTarget(url),
  describeEndpoint: mysqlEndpoint,
  serverIdentity: async (url) => {
    const conn = await connect(url, 'target');
    try {
      return await mysqlServerIdentity(conn);
    } finally {
      await conn.end().catch(() => {});
    }
  },
  // lower_case_table_names: 0 (Linux's default) when the target cannot be reached, which checkTarget reports on its own.
  targetNaming: async (url) => {
    const conn = await connect(url, 'target').catch(() => null);
    if (!conn) return { engine: 'mysql', lowerCaseTableNames: 0 };
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT @@lower_case_table_names AS n');
      return { engine: 'mysql', lowerCaseTableNames: Number(rows[0]?.n ?? 0) };
    } finally {
      await conn.end().catch(() => {});
    }
  },
  nameRules: (naming) => mysqlNameRules(naming.lowerCaseTableNames),
  schemaWord: MYSQL_SCHEMA_WORD,
  verifySql: mysqlVerifySql,
  isReadOnlyRefusal: mysqlReadOnly,
  openCatalogue: openMysqlCatalogue,
  columnCaveat: mysqlColumnCaveat,
  openTargetProbe: openMysqlTargetProbe,
  planTarget: mysqlPlanTarget,
  partitionedTable: 'one table',
};

const postgres: SqlSourceEngine<'postgres'> & SqlTargetEngine<'postgres'> = {
  url: POSTGRES_URL,
  openSource: (source, common, s) =>
    PostgresSource.open({
      ...common,
      slot: source.slot,
      publication: source.publication,
      partitionedTable: partitionedTableOn(s.targetType),
      temporarySlot: s.refresh,
    }),
  openSink: (options) => openPostgresSink({ ...options, checkpoint: CHECKPOINT_TABLES.postgres }),
  checkTarget: (url) => checkPostgresTarget(url),
  describeEndpoint: pgEndpoint,
  serverIdentity: async (url) => {
    const client = await connectClient(url);
    try {
      return await pgServerIdentity(client);
    } finally {
      await client.end().catch(() => {});
    }
  },
  targetNaming: async () => ({ engine: 'postgres' }),
  nameRules: () => postgresNameRules,
  schemaWord: PG_SCHEMA_WORD,
  verifySql: postgresVerifySql,
  isReadOnlyRefusal: pgReadOnly,
  openCatalogue: openPgCatalogue,
  columnCaveat: () => null,
  openTargetProbe: openPostgresTargetProbe,
  planTarget: postgresPlanTarget,
  partitionedTable: 'partitions',
};

const mssql: SqlTargetEngine<'mssql'> = {
  url: MSSQL_URL,
  openSink: (options) => openMssqlSink({ ...options, checkpoint: CHECKPOINT_TABLES.mssql }),
  checkTarget: checkMssqlTarget,
  describeEndpoint: mssqlEndpoint,
  serverIdentity: mssqlServerIdentity,
  targetNaming: mssqlTargetNaming,
  nameRules: (naming) => mssqlNameRules(naming.collation),
  schemaWord: MSSQL_SCHEMA_WORD,
  verifySql: mssqlVerifySql,
  isReadOnlyRefusal: mssqlReadOnly,
  openTargetProbe: openMssqlTargetProbe,
  planTarget: mssqlPlanTarget,
  // The Postgres source reads a partitioned table as its root (publish_via_partition_root): one table here.
  partitionedTable: 'one table',
};

/** Every source engine this version builds; an engine without an entry does not compile, so none falls back to another. */
export const SQL_SOURCES: { readonly [E in Engine]: SqlSourceEngine<E> } = { mysql, postgres };

/** Every database target engine this version builds, each with its own entry. */
export const SQL_TARGETS: { readonly [T in TargetEngine]: SqlTargetEngine<T> } = { mysql, postgres, mssql };

/** The engine of a database target. */
export function targetEngine(target: SqlTargetConfig): { readonly [T in TargetEngine]: SqlTargetEngine<T> }[TargetEngine] {
  return SQL_TARGETS[target.type];
}

/** The name rules of a target whose naming `targetNaming` read. */
export function nameRules<T extends TargetEngine>(naming: Extract<TargetNaming, { readonly engine: T }>): NameRules {
  const engine: SqlTargetEngine<T> = SQL_TARGETS[naming.engine as T];
  return engine.nameRules(naming);
}

/** The configured database source, through its engine's adapters. */
export function openSqlSource<E extends Engine>(
  source: SourceConfigOf[E] & { readonly type: E },
  common: SourceCommon,
  settings: SourceSettings,
): Promise<Source> {
  const engine: SqlSourceEngine<E> = SQL_SOURCES[source.type];
  return engine.openSource(source, common, settings);
}

/** The Kafka target: a stream of envelopes, not a database (nothing to verify, name or identify). */
export const KAFKA_TARGET = {
  openSink: (target: KafkaTargetConfig, o: { readonly pipeline: string; readonly log: Logger; readonly events?: FerryEventBus }): Promise<KafkaSink> =>
    KafkaSink.open({ ...target, ...o }),
  checkTarget: (target: KafkaTargetConfig, log: Logger): Promise<CheckProblem[]> => KafkaSink.check(target, log),
  partitionedTable: 'one topic' as const satisfies PartitionedTable,
};

/** What the configured target makes of a partitioned source table. */
function partitionedTableOn(type: Config['target']['type']): PartitionedTable {
  return type === 'kafka' ? KAFKA_TARGET.partitionedTable : SQL_TARGETS[type].partitionedTable;
}

/**
 * The Kafka engine as an applying process reads it (pipeline/kafka-applier.ts): the consumer
 * transport, the topics of a prefix, the producer's schema catalogue and its envelopes.
 */
export const KAFKA_SOURCE = {
  transport: (brokers: readonly string[], log: Logger): KafkaTransport => new KafkajsTransport(brokers, log),
  topics: (prefix: string): Topics => new Topics(prefix),
  /** The schemas the producer published in `topics`, as codecs whose tables land in `targetSchema`. */
  schemaCatalog: (transport: KafkaTransport, topics: Topics, targetSchema: string | undefined): SchemaCatalog =>
    new SchemaCatalog(transport, topics.schema, targetSchema),
  parseEnvelope,
};

/** The SQL `ferry verify` writes on a side of this engine (a source's engine is a target engine too). */
export function verifySql(engine: TargetEngine): VerifySql {
  return SQL_TARGETS[engine].verifySql;
}

/** Whether `err` is a SQL server refusing a write because it is read-only, whichever engine it came from. */
export function isReadOnlyRefusal(err: unknown): boolean {
  return Object.values(SQL_TARGETS).some((engine) => engine.isReadOnlyRefusal(err));
}
