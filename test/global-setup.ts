import type { TestProject } from 'vitest/node';
import { startMariaDb, startPostgres, type LocalServer } from '../src/demo/local-databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mariadbUrl: string;
    postgresUrl: string;
  }
}

let servers: LocalServer[] = [];

/**
 * One private MariaDB and one private Postgres for a run's integration tests; each test makes its own
 * databases in them. The integration project's setup only (vitest.config.ts): a unit-only run starts neither.
 */
export async function setup(project: TestProject): Promise<void> {
  servers = await Promise.all([startMariaDb(), startPostgres()]);
  project.provide('mariadbUrl', servers[0]!.url());
  project.provide('postgresUrl', servers[1]!.url());
}

export async function teardown(): Promise<void> {
  await Promise.all(servers.map((s) => s.destroy()));
}
