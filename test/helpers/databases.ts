import mysql from 'mysql2/promise';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabases {
  /** Source database name (MySQL) and target database name (Postgres): the same. */
  readonly name: string;
  readonly mysqlUrl: string;
  readonly pgUrl: string;
  readonly mysqlServerUrl: string;
  readonly my: mysql.Connection;
  readonly pg: pg.Client;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A fresh source database `name` in the shared MariaDB and a fresh target database `name` in the
 * shared Postgres, with open admin connections to both.
 */
export async function testDatabases(name: string, servers = { mariadb: inject('mariadbUrl'), postgres: inject('postgresUrl') }): Promise<TestDatabases> {
  const admin = await mysql.createConnection({ uri: servers.mariadb, multipleStatements: true });
  await admin.query(`DROP DATABASE IF EXISTS \`${name}\`; CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.end();
  const pgAdmin = new pg.Client({ connectionString: servers.postgres });
  await pgAdmin.connect();
  await pgAdmin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await pgAdmin.query(`CREATE DATABASE "${name}"`);
  await pgAdmin.end();

  const mysqlUrl = withDatabase(servers.mariadb, name);
  const pgUrl = withDatabase(servers.postgres, name);
  const my = await mysql.createConnection({ uri: mysqlUrl, multipleStatements: true, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  // Tests kill servers: a dead connection must not surface as an unhandled error.
  my.on('error', () => {});
  const client = new pg.Client({ connectionString: pgUrl });
  client.on('error', () => {});
  await client.connect();
  return {
    name,
    mysqlUrl,
    pgUrl,
    mysqlServerUrl: servers.mariadb,
    my,
    pg: client,
    async close() {
      my.destroy();
      await client.end().catch(() => {});
    },
  };
}
