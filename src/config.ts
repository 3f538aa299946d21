import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { readSecretFile, serverOf, TLS_MODES, urlProblem, withEndpointSettings } from './core/endpoint-url.js';
import { SQL_SOURCES, SQL_TARGETS } from './engines/registry.js';
import { parseConfigYaml } from './config-yaml.js';
import { configError, FerryError } from './core/errors.js';
import { FILTER_OPS, type TransformsConfig } from './core/transform-rules.js';
import { ERROR_POLICIES, policiesIn } from './core/error-policy.js';
import { Secret } from './core/secret.js';
import { NOTIFICATION_KINDS } from './notify/notification-kinds.js';
import { cronProblem } from './core/refresh-schedule.js';
import { checkPipelines } from './config-pipelines.js';

const url = (what: string) =>
  z.string({ error: `required: the ${what} connection URL` }).superRefine((v, ctx) => {
    const problem = urlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A database end's secrets and TLS (DESIGN §1.2), folded into its url by withEndpointSettings. */
const endpointKeys = {
  passwordFile: z
    .string()
    .min(1)
    .optional()
    .describe('read the password from this file (Docker/Kubernetes secrets; trailing newline trimmed); the url then has none'),
  tls: z
    .object({
      mode: z
        .enum(TLS_MODES)
        .describe('disable | require (encrypted, certificate not checked) | verify-ca (chain checked against ca) | verify-full (chain and host name)'),
      ca: z.string().min(1).optional().describe('PEM file of the CA that signed the server certificate (verify-ca, verify-full)'),
      cert: z.string().min(1).optional().describe('PEM file of a client certificate, with key'),
      key: z.string().min(1).optional().describe("PEM file of the client certificate's private key"),
    })
    .strict()
    .optional()
    .describe('TLS of every connection to this end, SQL and replication alike; the url may say it instead (sslmode… / ssl-mode…)'),
};

const brokers = z
  .array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'write each broker as host:port'), { error: 'required: the Kafka brokers, as a list of host:port' })
  .min(1, 'list at least one broker as host:port')
  .describe('Kafka bootstrap brokers, host:port each');
const topicPrefix = z
  .string({ error: 'required: the prefix of the Kafka topics, e.g. "orders"' })
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/, 'Kafka topic names allow letters, digits, ".", "_" and "-"')
  .describe('topics are <topicPrefix>.<schema>.<table>, plus <topicPrefix>.ferry.schema and <topicPrefix>.ferry.checkpoint');

/** admin.readyMaxLagSeconds by default; also the lag-above notification's threshold without an admin section. */
export const READY_MAX_LAG_DEFAULT = 60;

/** The source's stall timeout by default; a Kafka source's database target has its connections watched with it too. */
export const STALL_TIMEOUT_DEFAULT = 30;

/** What every database end takes besides its type: the url (`example` shows one), secrets and TLS. */
const databaseEnd = (what: 'source' | 'target', example: string) => ({ url: url(what).describe(example), ...endpointKeys });

/** What a database source takes on every engine. */
const databaseSource = (example: string) => ({
  ...databaseEnd('source', example),
  stallTimeoutSeconds: z
    .number()
    .int()
    .min(5)
    .max(3600)
    .default(STALL_TIMEOUT_DEFAULT)
    .describe('restart the change stream when not even a heartbeat arrived for this long (a dead connection)'),
  heartbeatSeconds: z
    .number()
    .int()
    .min(1)
    .max(300)
    .default(1)
    .describe(
      'how often ferry writes its heartbeat into the source log (postgres: a WAL message; mysql: a row in ferry.ferry_heartbeat), so lag stays honest and a slot advances on a quiet source',
    ),
});

/** Every source type's keys: a key is accepted on its own engine only (`slot` on a postgres source, not a mysql one). */
const sourceKeys = {
  mysql: {
    type: z.literal('mysql').describe('MySQL 5.7/8 or MariaDB 10.5+, read from its binlog'),
    ...databaseSource('mysql://user:password@host:3306/database'),
    serverId: z
      .number()
      .int()
      .min(1)
      .max(4294967295)
      .optional()
      .describe("replica server id, unique among the server's replicas; default derived from the pipeline name"),
    startPosition: z
      .union(
        [
          z.strictObject({
            file: z.string().regex(/^[^\s/]+\.\d+$/, 'write the binlog file as SHOW BINARY LOGS names it, e.g. mysql-bin.000042'),
            pos: z.number().int().min(4, 'a binlog offset is at least 4 (after the file header)'),
          }),
          z.strictObject({
            gtid: z.string().regex(/^\d+-\d+-\d+(,\d+-\d+-\d+)*$/, 'write a MariaDB GTID position as domain-server-sequence, e.g. "0-1-9913"'),
          }),
          z.strictObject({
            gtidSet: z
              .string()
              .regex(/^[0-9a-fA-F-]{36}(:[\w-]+)*(:\d+(-\d+)?)+(,\s*[0-9a-fA-F-]{36}(:[\w-]+)*(:\d+(-\d+)?)+)*$/, 'write a MySQL GTID set as uuid:1-77'),
          }),
        ],
        { error: 'give { file, pos } (from CHANGE MASTER TO in the dump), { gtid: "0-1-9913" } (MariaDB) or { gtidSet: "uuid:1-77" } (MySQL)' },
      )
      .optional()
      .describe(
        "snapshot.mode never only: where the stream starts when the target has no checkpoint yet (a restored backup's position): { file, pos } | { gtid } (MariaDB) | { gtidSet } (MySQL); docs/operations.md has the runbook",
      ),
  },
  postgres: {
    type: z.literal('postgres').describe('Postgres 14+, read by logical decoding through a slot and a publication'),
    ...databaseSource('postgres://user:password@host:5432/database'),
    slot: z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, 'slot names are lower-case letters, digits and "_" (at most 63)')
      .optional()
      .describe('replication slot, created if missing; default ferry_<pipeline>'),
    publication: z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, 'publication names are lower-case letters, digits and "_" (at most 63)')
      .optional()
      .describe('publication, created if missing for the selected tables; default ferry_<pipeline>'),
    startPosition: z
      .strictObject(
        { lsn: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'write an LSN as Postgres prints it, e.g. "0/1A2B3C"') },
        { error: 'give { lsn: "0/1A2B3C" }' },
      )
      .optional()
      .describe(
        "snapshot.mode never only: the LSN the stream starts after when the target has no checkpoint yet (a restored backup's position); not before the slot's confirmed position; docs/operations.md has the runbook",
      ),
  },
  /** An applying process: reads the change topics a producing ferry writes, in a consumer group. */
  kafka: {
    type: z.literal('kafka').describe('an applying process: the change topics a producing ferry writes'),
    brokers,
    topicPrefix,
    group: z
      .string({ error: 'required: the consumer group the applying processes share, e.g. "orders-apply"' })
      .min(1)
      .describe('consumer group: the partitions are shared among the processes in it'),
  },
};

/** What a database target takes on every engine. */
const databaseTarget = (example: string) => ({
  ...databaseEnd('target', example),
  schema: z.string().min(1).optional().describe('put every table into this schema (mysql: database); default: the source database name'),
});

/** Every target type's keys, as sourceKeys. */
const targetKeys = {
  postgres: { type: z.literal('postgres').describe('Postgres'), ...databaseTarget('postgres://user:password@host:5432/database') },
  mysql: { type: z.literal('mysql').describe('MySQL or MariaDB'), ...databaseTarget('mysql://user:password@host:3306/database') },
  mssql: { type: z.literal('mssql').describe('SQL Server 2017+ or Azure SQL'), ...databaseTarget('mssql://user:password@host:1433/database') },
  /** The producing process: change events into one topic per table. */
  kafka: {
    type: z.literal('kafka').describe('a producing process: change events into one topic per table'),
    brokers,
    topicPrefix,
    idempotent: z.boolean().default(true).describe("Kafka's idempotent producer (no duplicates from the producer's own retries); off for brokers without it"),
    singleTopic: z
      .boolean()
      .default(false)
      .describe('every change into one topic, <topicPrefix>.changes, of one partition: total order and transaction boundaries, one applier at a time'),
  },
};

/**
 * One type's form of an end, unknown keys refused. A key another type takes is refused by name and
 * engine ("slot" on a mysql source is a postgres key), so the operator sees the mix-up, not a typo.
 */
function endOfType<T extends z.ZodRawShape & { type: z.ZodLiteral<string> }>(end: 'source' | 'target', shape: T, forms: Record<string, z.ZodRawShape>) {
  const type = shape.type.value;
  const ownersOf = (key: string) => Object.keys(forms).filter((t) => t !== type && key in forms[t]!);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code !== 'unrecognized_keys'
        ? undefined
        : issue.keys
            .map((key) => {
              const owners = ownersOf(key);
              return owners.length === 0
                ? `Unrecognized key: "${key}"`
                : `"${key}" is a key of ${owners.join(' and ')} ${end}s, not of a ${type} ${end}: remove it (or set ${end}.type: ${owners[0]})`;
            })
            .join('; '),
  });
}

const sourceSchema = z.discriminatedUnion('type', [
  endOfType('source', sourceKeys.mysql, sourceKeys),
  endOfType('source', sourceKeys.postgres, sourceKeys),
  endOfType('source', sourceKeys.kafka, sourceKeys),
]);

const targetSchema = z.discriminatedUnion('type', [
  endOfType('target', targetKeys.postgres, targetKeys),
  endOfType('target', targetKeys.mysql, targetKeys),
  endOfType('target', targetKeys.mssql, targetKeys),
  endOfType('target', targetKeys.kafka, targetKeys),
]);

const filterValue = z.union([z.string(), z.number(), z.boolean()]);
const rowFilter = z
  .strictObject({
    column: z.string().min(1).describe('a source column'),
    op: z.enum(FILTER_OPS).describe('eq ne lt lte gt gte in between null notnull; a NULL value passes only null (as in SQL)'),
    value: z
      .union([filterValue, z.array(filterValue)])
      .optional()
      .describe('a value; in: a list; between: [low, high], both included; null, notnull: none'),
  })
  .superRefine((f, ctx) => {
    const list = Array.isArray(f.value);
    const problem =
      f.op === 'null' || f.op === 'notnull'
        ? f.value !== undefined && `${f.op} takes no value`
        : f.op === 'in'
          ? !(list && (f.value as unknown[]).length > 0) && 'in takes a list of values: value: [a, b]'
          : f.op === 'between'
            ? !(list && (f.value as unknown[]).length === 2) && 'between takes two bounds: value: [low, high]'
            : (f.value === undefined || list) && `${f.op} takes one value`;
    if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  });

const columnName = z.string().min(1);
const mask = z
  .union([z.enum(['hash', 'redact', 'null']), z.strictObject({ keepLast: z.number().int().min(1) }), z.strictObject({ keepFirst: z.number().int().min(1) })])
  .describe('hash (HMAC-SHA256 with transforms.salt, lower-case hex) | redact (the text \'REDACTED\') | "null" | { keepLast: N } | { keepFirst: N }');

const transformRule = z.strictObject({
  match: z.string().min(1).describe('glob on the source schema.table (`*` any run, `?` one character); the first rule that matches a table is its rule'),
  rename: z
    .string()
    .regex(/^([^.\s]+\.)?[^.\s]+$/, 'write the target as table or schema.table (schema.* keeps each table name)')
    .optional()
    .describe('the target table: table (in its target schema), schema.table, or schema.* (every matched table keeps its name)'),
  columns: z
    .strictObject({
      include: z.array(columnName).min(1).optional().describe('only these source columns reach the target (the primary key must be among them)'),
      exclude: z.array(columnName).min(1).optional().describe('these source columns do not reach the target'),
      rename: z.record(columnName, columnName).optional().describe('source column → target column name'),
    })
    .refine((c) => !(c.include && c.exclude), 'give include or exclude, not both')
    .optional(),
  mask: z
    .record(columnName, mask)
    .optional()
    .describe(
      'target column (after renames) → hash (HMAC-SHA256 with the salt over the canonical text of the value, docs/verify.md, lower-case hex) | redact (the text \'REDACTED\') | "null" | { keepLast: N } | { keepFirst: N } (N characters kept, the others \'*\'); NULL stays NULL but under "null"',
    ),
  filter: z
    .array(rowFilter)
    .min(1)
    .optional()
    .describe('the rows the target holds: all conditions true; evaluated by ferry on snapshot rows and streamed changes'),
});

const transformsSchema = z
  .strictObject({
    salt: z
      .string()
      .min(16, 'use a salt of at least 16 characters (e.g. openssl rand -hex 16)')
      .optional()
      .describe('key of the hash mask; never logged (write ${VAR})'),
    saltFile: z.string().min(1).optional().describe('read the salt from this file instead (trailing newline trimmed)'),
    rules: z.array(transformRule).default([]).describe('table mapping, column and masking rules, applied alike to snapshot rows and streamed changes'),
  })
  .superRefine((t, ctx) => {
    if (t.salt !== undefined && t.saltFile !== undefined) ctx.addIssue({ code: 'custom', path: ['saltFile'], message: 'give salt or saltFile, not both' });
    const hashed = t.rules.findIndex((r) => Object.values(r.mask ?? {}).includes('hash'));
    if (hashed >= 0 && t.salt === undefined && t.saltFile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['salt'],
        message: `rules[${hashed}] hashes a column: set transforms.salt (e.g. \${MASK_SALT}) or transforms.saltFile`,
      });
    }
  });

/** A pipeline name: the identity of its checkpoint, and part of its default slot and metrics label. */
const pipelineName = (text: z.ZodString) => text.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'use letters, digits, "_", "-" or "." (at most 100)');

export const configSchema = z
  .object({
    pipeline: pipelineName(z.string({ error: 'required: a name for this pipeline, e.g. "orders"' })).describe(
      'identity of the checkpoint and the metrics label',
    ),
    dependsOn: z
      .array(pipelineName(z.string()))
      .default([])
      .describe(
        'in a `pipelines:` entry: the pipelines of the file this one waits for; it starts (preflight, snapshot) only once every one of them is streaming, and stops when one of them fails',
      ),
    source: sourceSchema,
    target: targetSchema,
    tables: z
      .object({
        include: z.array(z.string()).min(1).optional().describe('glob patterns on schema.table; default: the database in source.url, else all'),
        exclude: z.array(z.string()).default([]).describe('glob patterns on schema.table'),
      })
      .strict()
      .default({ exclude: [] }),
    snapshot: z
      .object({
        mode: z
          .enum(['initial', 'never', 'always'])
          .default('initial')
          .describe(
            "initial: copy the tables when the target has no checkpoint, then stream; never: stream only (cdc-only), from the log's head (or source.startPosition) at the first start; always: copy them again at every start",
          ),
        tablePrep: z
          .enum(['create', 'drop-and-create', 'truncate', 'none'])
          .default('create')
          .describe(
            'what a snapshot does to the target tables first: create (those missing; adds missing columns), drop-and-create, truncate, or none (the tables must exist)',
          ),
        parallelism: z.number().int().min(1).max(64).default(4).describe('tables copied at once (a Kafka applier: partitions applied at once)'),
        chunkRows: z
          .number()
          .int()
          .min(1)
          .max(10_000_000)
          .default(50_000)
          .describe('rows per snapshot chunk: each chunk commits with its progress, where an interrupted snapshot resumes'),
        schedule: z
          .string()
          .superRefine((v, ctx) => {
            const problem = cronProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional()
          .describe(
            'refreshes: a cron schedule (5 fields, or 6 with seconds first) at whose every tick `ferry run` reloads every selected table (tablePrep applied, transforms too), idle between ticks, e.g. "0 2 * * *" (02:00 every night, local time); needs snapshot.mode: always and tablePrep truncate or drop-and-create',
          ),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.schedule === undefined) return;
        if (s.mode !== 'always')
          ctx.addIssue({ code: 'custom', path: ['mode'], message: 'snapshot.schedule reloads every table at each tick: set snapshot.mode: always' });
        if (s.tablePrep === 'create' || s.tablePrep === 'none')
          ctx.addIssue({
            code: 'custom',
            path: ['tablePrep'],
            message: `snapshot.schedule reloads into tables that hold the last refresh's rows: set snapshot.tablePrep: truncate or drop-and-create (${s.tablePrep} keeps them)`,
          });
      })
      .default({ mode: 'initial', tablePrep: 'create', parallelism: 4, chunkRows: 50_000 }),
    apply: z
      .object({
        batchMaxRows: z
          .number()
          .int()
          .min(1)
          .default(10_000)
          .describe('changes per target transaction (whole source transactions; a larger one is streamed in pieces of this size into one target transaction)'),
        batchMaxMs: z
          .number()
          .int()
          .min(0)
          .default(200)
          .describe('the longest a batch stays open while transactions keep arriving; it closes at once when none is waiting'),
        queueMaxEvents: z.number().int().min(100).default(20_000).describe('events read ahead of the applier before the source is paused'),
      })
      .strict()
      .default({ batchMaxRows: 10_000, batchMaxMs: 200, queueMaxEvents: 20_000 }),
    types: z
      .object({
        tinyint1: z.enum(['smallint', 'boolean']).default('smallint').describe('how TINYINT(1) arrives in the target'),
      })
      .strict()
      .default({ tinyint1: 'smallint' }),
    admin: z
      .object({
        listen: z
          .string()
          .regex(/^[^:]+:\d+$/, 'write it as host:port')
          .default('127.0.0.1:8080')
          .describe('address of the admin HTTP API (/metrics, /healthz, /readyz, /status, /cutover); port 0 picks a free one'),
        token: z
          .string()
          .trim()
          .min(16, 'use a secret of at least 16 characters (e.g. openssl rand -hex 16), or leave admin.token out for loopback-only POST')
          .regex(/^[!-~]+$/, 'use printable ASCII without spaces (it travels in an HTTP header)')
          .optional()
          .describe('when set, POST requests need Authorization: Bearer <token>; without it POST is loopback-only'),
        readyMaxLagSeconds: z.number().positive().default(READY_MAX_LAG_DEFAULT).describe('/readyz turns red above this replication lag'),
      })
      .strict()
      .optional(),
    cutover: z
      .object({
        verify: z
          .enum(['checksums', 'counts', 'none'])
          .optional()
          .describe(
            "the cutover's verification when the request names none (POST /cutover, ferry cutover without --verify): checksums (default: counts miss changed values), counts, or none. A kafka target cannot be read back: none there, and the others refused",
          ),
      })
      .strict()
      .default({}),
    transforms: transformsSchema.default({ rules: [] }),
    errors: z
      .object({
        policy: z
          .enum(ERROR_POLICIES)
          .default('stop')
          .describe(
            'what a row the target rejects (a constraint, a value too long or out of range, NULL in a NOT NULL column) does: stop (the checkpoint stays before it), dead-letter (stored in ferry.ferry_dead_letters in the same transaction, the rest of its batch applied), quarantine-table (that table is held in the checkpoint as it was before the batch and its changes are no longer applied, while the other tables stream on, each change applied once; ferry_table_quarantined and /readyz say so, and POST /tables/{schema.table}/resync copies it again once the target is fixed). Lost connections, deadlocks and a full disk are retried, never rejected',
          ),
        tables: z
          .record(z.string().min(1), z.enum(ERROR_POLICIES))
          .default({})
          .describe(
            'glob on the source schema.table → its policy, e.g. { "shop.audit_*": dead-letter }; the first glob that matches, in the order written, wins',
          ),
      })
      .strict()
      .default({ policy: 'stop', tables: {} }),
    notify: z
      .object({
        webhooks: z
          .array(
            z
              .object({
                url: z
                  .url({ protocol: /^https?$/, error: 'write it as an http:// or https:// URL' })
                  .describe('where ferry POSTs each notification as JSON, signed in the X-Ferry-Signature header'),
                secret: z
                  .string()
                  .min(16, 'use a secret of at least 16 characters (e.g. openssl rand -hex 32)')
                  .optional()
                  .describe('the HMAC-SHA256 key of X-Ferry-Signature (write ${HOOK_SECRET}); never logged nor shown'),
                secretFile: z.string().min(1).optional().describe('read the secret from this file instead (trailing newline trimmed)'),
                events: z
                  .array(z.enum(['*', ...NOTIFICATION_KINDS]))
                  .min(1)
                  .default(['*'])
                  .describe('the kinds this receiver gets (docs/operations.md lists them), or "*" for every one'),
                timeoutSeconds: z.number().positive().max(300).default(10).describe('a POST not answered within this long is retried'),
                retryMaxSeconds: z
                  .number()
                  .positive()
                  .max(3600)
                  .default(60)
                  .describe('the longest wait between two tries of a notification (the wait doubles from 0.5 s)'),
                queueMax: z
                  .number()
                  .int()
                  .min(1)
                  .max(100_000)
                  .default(1000)
                  .describe('notifications waiting for this receiver at most; when full, the oldest is dropped (ferry_notifications_dropped_total)'),
              })
              .strict()
              .refine((w) => (w.secret === undefined) !== (w.secretFile === undefined), 'set exactly one of secret and secretFile'),
          )
          .default([])
          .describe('receivers of notifications (DMS-style event subscriptions): retried in order, never blocking the stream'),
      })
      .strict()
      .default({ webhooks: [] }),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info').describe('the log level; FERRY_LOG_LEVEL, when set, overrides it') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

/** The keys of a `pipelines:` file beside the list: the process's, one admin API, log and set of receivers for every pipeline. */
const PROCESS_KEYS = ['admin', 'log', 'notify'] as const;

/** A file of several pipelines run by one process (DESIGN §1.2); each entry is read by configSchema. */
export const pipelinesFileSchema = z.strictObject(
  {
    pipelines: z
      .array(z.looseObject({}), { error: 'list the pipelines: - pipeline: a …' })
      .min(1, 'list at least one pipeline')
      .describe(
        "instead of one pipeline's keys at the top level: several pipelines run by one process, each entry holding the keys of a one-pipeline file but admin, log and notify, which stay at the top level (one admin API, log and set of receivers for the process)",
      ),
    admin: configSchema.shape.admin,
    log: configSchema.shape.log,
    notify: configSchema.shape.notify,
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `a file with pipelines: holds only admin, log and notify beside it: move ${issue.keys.join(', ')} into each pipeline's entry`
        : undefined,
  },
);

type ParsedConfig = z.infer<typeof configSchema>;
/** A mysql source, its serverId filled in. */
export type MysqlSourceConfig = Extract<ParsedConfig['source'], { type: 'mysql' }> & { serverId: number };
/** A postgres source, its slot and publication filled in. */
export type PostgresSourceConfig = Extract<ParsedConfig['source'], { type: 'postgres' }> & { slot: string; publication: string };
export type SqlSourceConfig = MysqlSourceConfig | PostgresSourceConfig;
export type KafkaSourceConfig = Extract<ParsedConfig['source'], { type: 'kafka' }>;
export type SqlTargetConfig = Extract<ParsedConfig['target'], { type: 'postgres' | 'mysql' | 'mssql' }>;
export type KafkaTargetConfig = Extract<ParsedConfig['target'], { type: 'kafka' }>;
export type CutoverVerify = 'checksums' | 'counts' | 'none';
/** A webhook receiver, its secret read (from secretFile too) and kept as a Secret, shown nowhere. */
export type WebhookConfig = Omit<ParsedConfig['notify']['webhooks'][number], 'secret' | 'secretFile'> & { readonly secret: Secret };
export type Config = Readonly<
  Omit<ParsedConfig, 'source' | 'tables' | 'cutover' | 'transforms' | 'notify' | 'dependsOn'> & {
    /** The pipelines of the file this one waits for ([] in a one-pipeline file). */
    dependsOn: readonly string[];
    transforms: TransformsConfig;
    notify: { readonly webhooks: readonly WebhookConfig[] };
    source: SqlSourceConfig | KafkaSourceConfig;
    tables: ParsedConfig['tables'] & { include: string[] };
    cutover: { readonly verify: CutoverVerify };
  }
>;

/** Where a config problem is, as the operator writes it: `source.url`, `tables.include[0]`. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('') || '(top level)';
}

/**
 * Replaces ${NAME} and ${NAME:-default} in every string value. An unset variable stays as written and
 * is added to `unset`, so that it is reported together with every other problem of the file.
 */
function interpolate(value: unknown, path: readonly PropertyKey[], unset: { key: string; name: string }[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (written, name: string, fallback?: string) => {
      const v = process.env[name];
      // As in the shell: ${NAME:-default} takes the default when NAME is unset or empty.
      if (fallback !== undefined && !v) return fallback;
      if (v !== undefined) return v;
      unset.push({ key: keyPath(path), name });
      return written;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], unset));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], unset)]));
  }
  return value;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** An unset ${NAME}: the key it is in, as keyPath writes it, and the variable. */
interface Unset {
  readonly key: string;
  readonly name: string;
}

/**
 * `value` (interpolated) as `schema` reads it; every problem, the unset variables among them, in one
 * config error naming each key as the operator writes it under `at` (`pipelines[1].source.url`).
 */
function validated<T extends z.ZodType>(schema: T, value: unknown, at: readonly PropertyKey[], unset: readonly Unset[]): z.output<T> {
  const result = schema.safeParse(value);
  // A key whose variable is unset is reported once, for the variable (its value is known to be wrong).
  const unsetKeys = new Set(unset.map((u) => u.key));
  const problems = [
    ...unset.map((u) => `  ${u.key}: environment variable ${u.name} is not set (export ${u.name}=… before starting ferry, or write \${${u.name}:-default})`),
    ...(result.error?.issues ?? [])
      .map((i) => ({ key: keyPath([...at, ...i.path]), i }))
      .filter(({ key }) => !unsetKeys.has(key))
      .map(({ key, i }) => `  ${key}: ${i.message}`),
  ];
  if (!result.success || problems.length > 0) {
    throw configError(`invalid config:\n${problems.join('\n')}`, 'correct the keys above; docs/config.md lists every key with its default and allowed values');
  }
  return result.data;
}

/** Validates an already-parsed one-pipeline document: the one way every config enters ferry (a `pipelines:` file, parseConfigs, by each entry). */
export function parseConfig(doc: unknown): Config {
  const unset: Unset[] = [];
  const config = pipelineConfig(interpolate(doc ?? {}, [], unset), [], unset);
  if (config.dependsOn.length > 0) {
    throw configError(
      'dependsOn: this file holds one pipeline, and dependsOn names other pipelines of the file',
      'list the pipelines under `pipelines:` (docs/config.md), or remove dependsOn',
    );
  }
  return config;
}

/**
 * Every pipeline of a parsed document, in file order: its one pipeline (parseConfig), or each entry of
 * `pipelines:`, checked on its own and then against the others (checkPipelines), with the top-level
 * admin, log and notify, the process's, copied into each.
 */
export function parseConfigs(doc: unknown): PipelineConfigs {
  if (!(doc && typeof doc === 'object' && 'pipelines' in doc)) return { configs: [parseConfig(doc)], multi: false };
  const unset: Unset[] = [];
  const value = interpolate(doc, [], unset);
  const inEntry = (at: string) => (u: Unset) => u.key === at || u.key.startsWith(`${at}.`) || u.key.startsWith(`${at}[`);
  const file = validated(
    pipelinesFileSchema,
    value,
    [],
    unset.filter((u) => !inEntry('pipelines')(u)),
  );
  const shared = { admin: file.admin, log: file.log, notify: { webhooks: file.notify.webhooks.map(webhookOf) } };
  const configs = file.pipelines.map((entry, i) => {
    const at = ['pipelines', i];
    const own = PROCESS_KEYS.find((k) => k in entry);
    if (own) {
      throw configError(
        `${keyPath([...at, own])}: ${own} is the process's, shared by every pipeline of the file`,
        `set ${own} at the top level of the file, beside pipelines:`,
      );
    }
    return deepFreeze({ ...pipelineConfig(entry, at, unset.filter(inEntry(keyPath(at)))), ...shared });
  });
  checkPipelines(configs);
  return { configs, multi: true };
}

/** Writes a key of the pipeline at `at` as the operator does: `source.url`, or `pipelines[1].source.url` in a `pipelines:` file. */
type KeyOf = (key: string) => string;

/** One pipeline's config from its interpolated document at `at` (the file itself, or an entry of `pipelines:`). */
function pipelineConfig(value: unknown, at: readonly PropertyKey[], unset: readonly Unset[]): Config {
  const c = validated(configSchema, value, at, unset);
  const key: KeyOf = (k) => (at.length === 0 ? k : `${keyPath(at)}.${k}`);
  if (c.snapshot.schedule !== undefined && c.source.type === 'kafka') {
    throw configError(
      `${key('snapshot.schedule')}: an applying process (source type kafka) has no tables to reload`,
      'schedule the refreshes on a pipeline whose source is a database',
    );
  }
  if (c.source.type === 'kafka' && c.target.type === 'kafka') {
    throw configError(
      `${key('source.type')} and target.type are both kafka: an applying process writes into a database`,
      'set target.type: postgres, mysql or mssql',
    );
  }
  for (const [end, endKey, style] of [
    [c.source, 'source', c.source.type === 'kafka' ? null : SQL_SOURCES[c.source.type].url],
    [c.target, 'target', c.target.type === 'kafka' ? null : SQL_TARGETS[c.target.type].url],
  ] as const) {
    if (end.type === 'kafka' || !style) continue;
    const scheme = new URL(end.url).protocol.replace(/:$/, '');
    if (!style.schemes.includes(scheme)) {
      throw configError(
        `${key(`${endKey}.url`)}: a ${end.type} endpoint needs a ${style.schemes[0]}:// URL, not ${scheme}://`,
        `write ${endKey}.url as ${style.schemes[0]}://user:password@host:port/database`,
      );
    }
    end.url = withEndpointSettings(end.url, style, end, key(endKey));
  }
  checkErrorPolicies(c, key);
  if (c.source.type !== 'kafka' && c.source.startPosition && c.snapshot.mode !== 'never') {
    throw configError(
      `${key('source.startPosition')}: a start position is for a cdc-only pipeline, and snapshot.mode is ${c.snapshot.mode}`,
      'set snapshot.mode: never (the target already holds the data, e.g. a restored backup), or remove source.startPosition',
    );
  }
  const exclude = [...c.tables.exclude, ...ownTargetTables(c, key)];
  const cutover = { verify: cutoverVerify(c, key) };
  const transforms = transformsOf(c.transforms, key);
  const notify = { webhooks: c.notify.webhooks.map(webhookOf) };
  if (c.source.type === 'kafka') {
    return deepFreeze({ ...c, cutover, transforms, notify, source: c.source, tables: { ...c.tables, include: c.tables.include ?? ['*.*'], exclude } });
  }
  const ferryName = defaultSlotName(c.pipeline);
  const source: SqlSourceConfig =
    c.source.type === 'mysql'
      ? { ...c.source, serverId: c.source.serverId ?? defaultServerId(c.pipeline) }
      : { ...c.source, slot: c.source.slot ?? ferryName, publication: c.source.publication ?? ferryName };
  // A MySQL database named in the source URL is what the user means to move, unless include says
  // otherwise; a Postgres URL names the database, whose user tables are all candidates.
  const database = decodeURIComponent(new URL(c.source.url).pathname.slice(1));
  const include = c.tables.include ?? [c.source.type === 'mysql' && database ? `${database}.*` : '*.*'];
  return deepFreeze({
    ...c,
    cutover,
    transforms,
    notify,
    source,
    tables: { ...c.tables, include, exclude },
  });
}

/** The rules with their salt, read from saltFile when it names one (the return type holds the schema to the core's rule types). */
function transformsOf(t: ParsedConfig['transforms'], key: KeyOf): TransformsConfig {
  const salt = t.saltFile !== undefined ? readSecretFile(t.saltFile, key('transforms.saltFile'), 'salt') : t.salt;
  return { rules: t.rules, ...(salt !== undefined ? { salt } : {}) };
}

/** A webhook with its secret, read from secretFile when it names one. */
function webhookOf({ secret, secretFile, ...w }: ParsedConfig['notify']['webhooks'][number], i: number): WebhookConfig {
  return { ...w, secret: new Secret(secretFile !== undefined ? readSecretFile(secretFile, `notify.webhooks[${i}].secretFile`, 'secret') : secret!) };
}

/**
 * The error policies this version builds for the configured pipeline: dead-letter and
 * quarantine-table need a SQL target (a kafka target rejects no rows: its appliers' target does);
 * quarantine-table also needs the one source checkpoint a table's hold is kept in, which the Kafka
 * appliers, applying partitions at offsets of their own, do not have.
 */
function checkErrorPolicies(c: ParsedConfig, key: KeyOf): void {
  const policies = policiesIn(c.errors);
  for (const policy of ['dead-letter', 'quarantine-table'] as const) {
    if (policies.has(policy) && c.target.type === 'kafka') {
      throw configError(
        `${key('errors')}: the ${policy} policy is not built for a kafka target`,
        'a kafka target rejects no rows: remove errors, or set it on the applying processes',
      );
    }
  }
  if (policies.has('quarantine-table') && c.source.type === 'kafka') {
    throw configError(
      `${key('errors')}: the quarantine-table policy is not built for the Kafka appliers (source type kafka)`,
      'each partition keeps its own offset, and a table held in one would hold back the others: use stop or dead-letter there',
    );
  }
}

/** cutover.verify: checksums unless set; a kafka target has nothing to compare with, so none there, and only none. */
function cutoverVerify(c: ParsedConfig, key: KeyOf): CutoverVerify {
  if (c.target.type !== 'kafka') return c.cutover.verify ?? 'checksums';
  if (c.cutover.verify && c.cutover.verify !== 'none') {
    throw configError(
      `${key('cutover.verify')}: ${c.cutover.verify} needs a target ferry can read back, and a kafka target cannot be`,
      'set cutover.verify: none, and once the appliers caught up run ferry verify with a config naming the source and their database',
    );
  }
  return 'none';
}

/**
 * When source and target are one database server (MariaDB → MariaDB, or one Postgres database), the
 * target's tables must never be read back as source tables: they would feed back into the stream.
 * Without target.schema they would even be the source's own tables.
 */
function ownTargetTables(c: ParsedConfig, key: KeyOf): string[] {
  if (c.source.type === 'kafka' || c.target.type === 'kafka' || c.source.type !== c.target.type) return [];
  // A MySQL server is one namespace; a Postgres database is one (logical decoding reads one database).
  const port = SQL_SOURCES[c.source.type].url.defaultPort;
  const where = (url: string) => `${serverOf(url, port)}${c.source.type === 'postgres' ? new URL(url).pathname : ''}`;
  if (where(c.source.url) !== where(c.target.url)) return [];
  if (!c.target.schema) {
    throw configError(
      `${key('target.url')}: the target is the source itself (same server and database), so every table would be copied onto itself`,
      `set target.schema to a ${c.target.type === 'mysql' ? 'database' : 'schema'} of its own`,
    );
  }
  return [`${c.target.schema}.*`];
}

/** A file's pipelines in file order: `multi` when it holds `pipelines:`. */
export interface PipelineConfigs {
  readonly configs: readonly Config[];
  readonly multi: boolean;
}

/** The pipelines a config file holds (parseConfigs). */
export function loadConfigs(file: string): PipelineConfigs {
  return parseConfigs(readConfigFile(file));
}

/**
 * The config of one pipeline of a file: its only one, or in a `pipelines:` file the one named
 * `pipeline` (--pipeline NAME), which such a file needs.
 */
export function loadConfig(file: string, pipeline?: string): Config {
  return pipelineOf(loadConfigs(file), pipeline);
}

/** The pipeline named `pipeline` among `loaded`; unnamed, the file's one pipeline (loadConfig). */
export function pipelineOf({ configs, multi }: PipelineConfigs, pipeline?: string): Config {
  const names = configs.map((c) => c.pipeline).join(', ');
  if (pipeline === undefined) {
    if (!multi) return configs[0]!;
    throw configError(`this file holds pipelines ${names}: pass --pipeline NAME`, 'name the one pipeline this command is for');
  }
  const named = configs.find((c) => c.pipeline === pipeline);
  if (!named) throw configError(`--pipeline ${pipeline}: this file holds no pipeline of that name, only ${names}`, 'pass one of the names above');
  return named;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FerryError('config', `cannot read config file ${file}: ${(err as Error).message}`, {
      cause: err,
      hint: 'pass an existing YAML file with -c FILE',
    });
  }
  return parseConfigYaml(text, file);
}

/**
 * `ferry_<pipeline>` as Postgres names allow; when the pipeline name had to change for that (case,
 * punctuation), a short hash of it keeps `a-b` and `A_B` apart (slot names are server-wide).
 */
function defaultSlotName(pipeline: string): string {
  const plain = pipeline.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const hash = plain === pipeline ? '' : `_${createHash('sha256').update(pipeline).digest('hex').slice(0, 6)}`;
  return `ferry_${plain.slice(0, 63 - 'ferry_'.length - hash.length)}${hash}`;
}

/** A stable server id from the pipeline name, away from the small ids servers usually take. */
function defaultServerId(pipeline: string): number {
  return 100_000 + (createHash('sha256').update(pipeline).digest().readUInt32BE(0) % 1_000_000_000);
}

/** The database source of `config`: commands that read one (run, snapshot, verify, status) refuse an applying process's kafka source. */
export function sqlSource(config: Config): SqlSourceConfig {
  if (config.source.type === 'kafka') {
    throw configError(
      'source.type kafka: this reads a database source, and an applying process has none',
      "run it with the producing process's config (source: mysql or postgres)",
    );
  }
  return config.source;
}

/** `target.schema` of a database target; a kafka target keeps the source's names in its topics. */
export function targetSchemaOf(config: Config): string | undefined {
  return config.target.type === 'kafka' ? undefined : config.target.schema;
}

/** The database target of `config`: an applying process writes into one, and `verify` reads one. */
export function sqlTarget(config: Config): SqlTargetConfig {
  if (config.target.type === 'kafka') {
    throw configError(
      'target.type kafka: this needs a database target, and a producing process has none',
      'run it with a config whose target is the database (postgres, mysql or mssql)',
    );
  }
  return config.target;
}
