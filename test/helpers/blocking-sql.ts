import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Engine } from './routes.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** A node script that runs $FERRY_TEST_SQL on $FERRY_TEST_URL with the project's own driver for `engine`, then exits. */
const SCRIPTS: Record<Engine, string> = {
  postgres: `const pg = require('pg');
    const c = new pg.Client({ connectionString: process.env.FERRY_TEST_URL });
    c.connect().then(() => c.query(process.env.FERRY_TEST_SQL)).then(() => c.end())`,
  mysql: `require('mysql2/promise').createConnection({ uri: process.env.FERRY_TEST_URL, multipleStatements: true })
    .then((c) => c.query(process.env.FERRY_TEST_SQL).then(() => c.end()))`,
};

/**
 * Runs `sql` to its commit while this process waits, its event loop included: called from an event
 * listener of an in-process pipeline, it lands exactly between what the pipeline did before the
 * event and what it does after, with no timing involved.
 */
export function runSqlBlocking(engine: Engine, url: string, sql: string): void {
  const script = `${SCRIPTS[engine]}.catch((err) => { console.error(err.message); process.exit(1); });`;
  execFileSync(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, FERRY_TEST_URL: url, FERRY_TEST_SQL: sql }, stdio: 'pipe' });
}
