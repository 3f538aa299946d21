import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../helpers/ferry.js';
import { routeDatabases, type Route, type RouteDatabases } from '../helpers/routes.js';

/**
 * Two source objects that would land on one target name (issue 14): `ferry check` and the preflight
 * of `ferry run` refuse the mapping before anything is written, naming both objects and the fix.
 */

const PG_TO_PG: Route = { source: 'postgres', target: 'postgres', label: 'Postgres → Postgres' };
const MY_TO_PG: Route = { source: 'mysql', target: 'postgres', label: 'MariaDB → Postgres' };
const PG_TO_MY: Route = { source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' };

/** The messages of the JSON log lines ferry wrote. */
function logged(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => {
      try {
        return String((JSON.parse(line) as { msg?: unknown }).msg ?? line);
      } catch {
        return line;
      }
    })
    .join('\n');
}

/** check exits 2 with exactly `problems` problems matching `expected`; run refuses with the same; nothing lands in the target. */
async function expectRefused(
  db: RouteDatabases,
  config: Record<string, unknown>,
  problems: number,
  expected: RegExp[],
  targetUntouched: () => Promise<void>,
): Promise<void> {
  const file = writeConfig(config);
  const check = await runCli(['check', '-c', file]);
  expect(check.code, check.stdout + check.stderr).toBe(2);
  for (const e of expected) expect(check.stdout).toMatch(e);
  expect(check.stdout).toContain(`check failed: ${problems} problem(s)`);
  const run = await runCli(['run', '-c', file]);
  expect(run.code, run.stderr).toBe(2);
  expect(logged(run.stderr)).toMatch(/preflight failed/);
  for (const e of expected) expect(logged(run.stderr)).toMatch(e);
  expect(await db.checkpoint()).toBeNull();
  await targetUntouched();
}

describe('target name collisions are refused before the first row moves', () => {
  it('target.schema with same-named tables of two source schemas', async () => {
    const db = await routeDatabases(PG_TO_PG, 'names_schema');
    try {
      await db.source.query(`CREATE SCHEMA s1; CREATE SCHEMA s2;
        CREATE TABLE s1.t (id int PRIMARY KEY, v text); CREATE TABLE s2.t (id int PRIMARY KEY, v text); CREATE TABLE s2.u (id int PRIMARY KEY);
        INSERT INTO s1.t VALUES (1, 's1-a'), (2, 's1-b'); INSERT INTO s2.t VALUES (3, 's2-a'), (4, 's2-b');`);
      const config = db.config({ tables: { include: ['s1.*', 's2.*'] }, target: { type: 'postgres', url: db.target.url, schema: 'coll' } });
      await expectRefused(
        db,
        config,
        1,
        [
          /\[target names\] tables s1\.t and s2\.t land on one table coll\.t on the target \(target\.schema puts every table in coll\)/,
          /fix: exclude one of the tables \(tables\.exclude: \["s2\.t"\]\) or rename one at the source, or leave target\.schema unset/,
        ],
        async () => {
          expect(await db.target.query("SELECT to_regnamespace('ferry') AS ferry, to_regnamespace('coll') AS coll")).toEqual([{ ferry: null, coll: null }]);
        },
      );
      const plan = await runCli(['plan', '-c', writeConfig(config)]);
      expect(plan.code).toBe(1);
      expect(plan.stdout).toMatch(/PROBLEM target name s1\.t, s2\.t\n\s+tables s1\.t and s2\.t land on one table coll\.t/);
    } finally {
      await db.close();
    }
  });

  it('64-character MySQL names into Postgres, which cuts names to 63 bytes', async () => {
    const db = await routeDatabases(MY_TO_PG, 'names_long');
    try {
      const prefix = 'orders_archive_'.padEnd(63, 'x');
      const column = 'customer_reference_'.padEnd(64, 'y');
      await db.source.query(`CREATE TABLE \`${prefix}a\` (id INT PRIMARY KEY); CREATE TABLE \`${prefix}b\` (id INT PRIMARY KEY);
        CREATE TABLE wide (id INT PRIMARY KEY, \`${column}\` INT); INSERT INTO wide VALUES (1, 1);`);
      const schema = db.sourceSchema;
      await expectRefused(
        db,
        db.config(),
        2,
        [
          new RegExp(
            `tables ${schema}\\.${prefix}a and ${schema}\\.${prefix}b land on one table ${schema}\\.${prefix} on the target \\(Postgres cuts names to 63 bytes\\)`,
          ),
          new RegExp(`column ${schema}\\.wide\\.${column}: its name is 64 bytes long; Postgres cuts names to 63 bytes`),
        ],
        async () => {
          expect(await db.target.query(`SELECT to_regnamespace('ferry') AS ferry, to_regnamespace('${db.targetSchema}') AS target`)).toEqual([
            { ferry: null, target: null },
          ]);
        },
      );
    } finally {
      await db.close();
    }
  });

  it('Postgres columns a and A into MySQL, which compares column names without case', async () => {
    const db = await routeDatabases(PG_TO_MY, 'names_case');
    try {
      await db.source.query('CREATE TABLE t (id int PRIMARY KEY, a int, "A" int); INSERT INTO t VALUES (1, 2, 3)');
      await expectRefused(
        db,
        db.config(),
        1,
        [
          /columns public\.t\.a and public\.t\.A land on one column a of table names_case_t\.t on the target \(MySQL compares column names without regard to case\)/,
        ],
        async () => {
          expect(await db.target.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'names_case_t'")).toEqual([]);
        },
      );
    } finally {
      await db.close();
    }
  });
});
