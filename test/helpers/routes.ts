import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { waitFor } from './ferry.js';
import { freshMssqlDatabase, MSSQL_TEST_URL, NO_MSSQL, openMssqlDatabase } from './mssql.js';

export type Engine = 'mysql' | 'postgres';
/** An engine ferry writes into: the two it also reads, and SQL Server. */
export type TargetEngine = Engine | 'mssql';

export interface Route<T extends TargetEngine = Engine> {
  readonly source: Engine;
  readonly target: T;
  readonly label: string;
}

/** The four routes between the two engines. MariaDB→MariaDB and Postgres→Postgres use one server each: two databases on it. */
export const ROUTES: readonly Route[] = [
  { source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' },
  { source: 'postgres', target: 'postgres', label: 'Postgres → Postgres' },
  { source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' },
  { source: 'mysql', target: 'mysql', label: 'MariaDB → MariaDB' },
];

/** The two routes across engines (MariaDB → Postgres, Postgres → MariaDB): each source engine and each target engine once. */
export const CROSS_ROUTES: readonly Route[] = ROUTES.filter((r) => r.source !== r.target);

/**
 * The routes into SQL Server, run where FERRY_TEST_MSSQL_URL names one (test/helpers/mssql.ts): apart
 * from ROUTES, whose tests run everywhere.
 */
export const MSSQL_ROUTES: readonly Route<'mssql'>[] = [
  { source: 'mysql', target: 'mssql', label: 'MariaDB → SQL Server' },
  { source: 'postgres', target: 'mssql', label: 'Postgres → SQL Server' },
];

/**
 * `body`'s cases once per route of `routes` (all of MSSQL_ROUTES unless told), named `title, <route>`:
 * they run where FERRY_TEST_MSSQL_URL names a SQL Server, and elsewhere are reported skipped with
 * the reason in their name, never as passed.
 */
export function describeMssqlRoutes(title: string, body: (route: Route<'mssql'>) => void, routes: readonly Route<'mssql'>[] = MSSQL_ROUTES): void {
  for (const route of routes) describe.skipIf(!MSSQL_TEST_URL)(`${title}, ${route.label}${MSSQL_TEST_URL ? '' : ` (${NO_MSSQL})`}`, () => body(route));
}

/** One database on one of the test servers, with a connection that runs multi-statement SQL. */
export interface Endpoint<E extends TargetEngine = Engine> {
  readonly engine: E;
  readonly url: string;
  /** Runs SQL (several statements allowed); returns the rows of the last result. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A connection the server dropped (killed, restarted): the query is retried once on a new one. */
const CONNECTION_LOST = /not queryable|Connection terminated|closed state|ECONNRESET|PROTOCOL_CONNECTION_LOST|terminating connection|Can't add new command/i;

/** An Endpoint over `open()`, reconnecting once when a query finds its connection gone. */
function endpoint<E extends TargetEngine>(
  engine: E,
  url: string,
  open: () => Promise<{ run(sql: string): Promise<Record<string, unknown>[]>; close(): Promise<void> }>,
): Promise<Endpoint<E>> {
  return open().then((first) => {
    let conn = first;
    return {
      engine,
      url,
      async query(sql) {
        try {
          return await conn.run(sql);
        } catch (err) {
          if (!CONNECTION_LOST.test((err as Error).message)) throw err;
          await conn.close().catch(() => {});
          conn = await open();
          return conn.run(sql);
        }
      },
      close: () => conn.close(),
    };
  });
}

/** A fresh, empty database `name` on the shared server of `engine` (SQL Server's: FERRY_TEST_MSSQL_URL's). */
export async function freshDatabase<E extends TargetEngine>(
  engine: E,
  name: string,
  servers: Servers = { mariadb: inject('mariadbUrl'), postgres: inject('postgresUrl') },
): Promise<Endpoint<E>> {
  if (engine === 'mssql') {
    const created = await freshMssqlDatabase(name);
    await created.close();
    return endpoint(engine, created.url, async () => {
      const db = await openMssqlDatabase(created.url);
      return { run: (sql) => db.query(sql), close: () => db.close() };
    });
  }
  if (engine === 'mysql') {
    const admin = await mysql.createConnection({ uri: servers.mariadb, multipleStatements: true });
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\`; CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    await admin.end();
    const url = withDatabase(servers.mariadb, name);
    return endpoint(engine, url, async () => {
      const conn = await mysql.createConnection({ uri: url, multipleStatements: true, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
      conn.on('error', () => {});
      return {
        async run(sql) {
          const [result] = await conn.query(sql);
          const results = Array.isArray(result) && Array.isArray(result[0]) ? result : [result];
          const last = results[results.length - 1];
          return Array.isArray(last) ? (last as Record<string, unknown>[]) : [];
        },
        close: async () => conn.destroy(),
      };
    });
  }
  const admin = new pg.Client({ connectionString: servers.postgres });
  await admin.connect();
  await admin.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, [name]);
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = withDatabase(servers.postgres, name);
  return endpoint(engine, url, async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    return {
      async run(sql) {
        const result = await client.query(sql);
        const last = Array.isArray(result) ? result[result.length - 1] : result;
        return last.rows;
      },
      close: () => client.end().catch(() => {}),
    };
  });
}

/** The source and target of one route, named after the test, and the pipeline config between them. */
export interface RouteDatabases<T extends TargetEngine = Engine> {
  readonly name: string;
  readonly route: Route<T>;
  readonly source: Endpoint;
  readonly target: Endpoint<T>;
  /** Where the route's tables land in the target: a MySQL database, or a Postgres schema. */
  readonly targetSchema: string;
  /** Where the source's tables are: the MySQL database, or the Postgres schema public. */
  readonly sourceSchema: string;
  config(extra?: Record<string, unknown>): Record<string, unknown>;
  checkpoint(pipeline?: string): Promise<{ phase: string; position: Record<string, unknown> | null } | null>;
  /** Rows the snapshot has committed so far (0 before it starts). */
  snapshotRows(): Promise<number>;
  /** Waits until the target's checkpoint (of `pipeline`, default the route's) has reached the source log's head as it is now. */
  waitCaughtUp(ms?: number, pipeline?: string): Promise<void>;
  close(): Promise<void>;
}

/** Table `name` of the route's target schema as the target's SQL names it (PUBLIC is a T-SQL keyword). */
export function targetTable(db: RouteDatabases<TargetEngine>, name: string): string {
  return db.route.target === 'mssql' ? `[${db.targetSchema}].[${name}]` : `${db.targetSchema}.${name}`;
}

type Servers = { mariadb: string; postgres: string };

export async function routeDatabases<T extends TargetEngine = Engine>(route: Route<T>, name: string, servers?: Servers): Promise<RouteDatabases<T>> {
  const source = await freshDatabase(route.source, name, servers);
  // One server for both ends: the target gets a database of its own next to the source's.
  const sameServer = route.source === route.target;
  const target = await freshDatabase(route.target, sameServer ? `${name}_t` : name, servers);
  const sourceSchema = route.source === 'mysql' ? name : 'public';
  const targetSchema = route.target === 'mysql' ? `${name}_t` : route.source === 'mysql' ? name : 'public';
  if (route.target === 'mysql' && !sameServer) await target.query(`CREATE DATABASE IF NOT EXISTS \`${targetSchema}\``);
  const readCheckpoint = async (pipeline = name) => {
    const rows = await target.query(`SELECT phase, position FROM ferry.ferry_checkpoint WHERE pipeline = '${pipeline}'`).catch(() => []);
    const row = rows[0];
    if (!row) return null;
    const position = typeof row.position === 'string' ? JSON.parse(row.position) : row.position;
    return { phase: String(row.phase), position: position as Record<string, unknown> | null };
  };
  return {
    name,
    route,
    source,
    target,
    targetSchema,
    sourceSchema,
    config(extra = {}) {
      return {
        pipeline: name,
        source: { type: route.source, url: source.url, ...(route.source === 'postgres' ? { heartbeatSeconds: 1 } : {}) },
        target: { type: route.target, url: target.url, ...(route.target === 'mysql' ? { schema: targetSchema } : {}) },
        tables: { include: [`${sourceSchema}.*`] },
        apply: { batchMaxMs: 50 },
        ...extra,
      };
    },
    checkpoint: readCheckpoint,
    async snapshotRows() {
      const column = route.target === 'postgres' ? 'rows' : 'row_count';
      const rows = await target.query(`SELECT coalesce(sum(${column}), 0) AS n FROM ferry.ferry_snapshot_progress WHERE pipeline = '${name}'`).catch(() => []);
      return Number(rows[0]?.n ?? 0);
    },
    async waitCaughtUp(ms = 90_000, pipeline = name) {
      if (route.source === 'mysql') {
        const [head] = await source.query('SHOW MASTER STATUS');
        const file = String(head!.File);
        const pos = Number(head!.Position);
        const seq = (f: string) => Number(f.split('.').pop());
        await waitFor(
          `${pipeline} to reach ${file}:${pos}`,
          async () => {
            const c = await readCheckpoint(pipeline);
            const p = c?.phase === 'stream' ? (c.position as { file: string; pos: number } | null) : null;
            return p !== null && (seq(p.file) > seq(file) || (p.file === file && p.pos >= pos));
          },
          ms,
        );
        return;
      }
      const [head] = await source.query("SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn");
      const lsn = BigInt(String(head!.lsn));
      await waitFor(
        `${pipeline} to reach LSN ${lsn}`,
        async () => {
          const c = await readCheckpoint(pipeline);
          return c?.phase === 'stream' && c.position !== null && BigInt(String(c.position.lsn)) >= lsn;
        },
        ms,
      );
    },
    async close() {
      await source.close();
      await target.close();
    },
  };
}

/** Inserts rows 1..n into `items (id, grp, val, amount)` on either engine. */
export function seedItemsSql(engine: Engine, n: number): string {
  return engine === 'mysql'
    ? `INSERT INTO items SELECT seq, seq % 17, CONCAT('seed', seq), seq % 1000 FROM seq_1_to_${n}`
    : `INSERT INTO items SELECT g, g % 17, 'seed' || g, g % 1000 FROM generate_series(1, ${n}) g`;
}

export const ITEMS_DDL = 'CREATE TABLE items (id INT PRIMARY KEY, grp INT NOT NULL, val VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL)';
