import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, writeConfig, waitFor } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, seedItemsSql, type RouteDatabases } from '../helpers/routes.js';

/**
 * `ferry verify` on a target someone changed behind ferry's back: a changed value, a missing row and
 * an extra row each make it exit 1 and name the table; put right, it exits 0 again. A Postgres source
 * and a MySQL target, the route whose values cross the most type boundaries.
 */
describe('ferry verify on a tampered target (Postgres → MariaDB)', () => {
  let db: RouteDatabases;
  let config: string;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'postgres', target: 'mysql', label: 'Postgres → MariaDB' }, 'verify_tamper');
    await db.source.query(`${ITEMS_DDL}; ${seedItemsSql('postgres', 3000)}; CREATE TABLE other (id int PRIMARY KEY, v text); INSERT INTO other VALUES (1, 'x')`);
    config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });
  afterAll(async () => db?.close());

  const verify = (mode: string) => runCli(['verify', '-c', config, '--mode', mode]);

  it('exits 0 on equal tables, in both modes', async () => {
    for (const mode of ['counts', 'checksums']) {
      const r = await verify(mode);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/all 2 tables equal/);
    }
  });

  // Statements on the target's items table (`T`), each with the one that puts it right.
  it.each([
    ['a changed value', 'UPDATE T SET amount = amount + 0.01 WHERE id = 1500', 'UPDATE T SET amount = amount - 0.01 WHERE id = 1500', false],
    ['a missing row', 'DELETE FROM T WHERE id = 42', "INSERT INTO T VALUES (42, 42 % 17, 'seed42', 42)", true],
    ['an extra row', "INSERT INTO T VALUES (900000, 1, 'extra', 1)", 'DELETE FROM T WHERE id = 900000', true],
  ] as const)('exits 1 and names the table for %s; 0 again once it is put right', async (_, tamper, repair, countsSee) => {
    const onTarget = (sql: string) => db.target.query(sql.replace(/\bT\b/, `${db.targetSchema}.items`));
    await onTarget(tamper);
    const checksums = await verify('checksums');
    expect(checksums.code).toBe(1);
    expect(checksums.stdout).toMatch(/DIFFER\s+public\.items/);
    expect(checksums.stdout).toMatch(/equal\s+public\.other/);
    const counts = await verify('counts');
    expect(counts.code, 'counts see rows missing or extra, not changed values').toBe(countsSee ? 1 : 0);
    await onTarget(repair);
    expect((await verify('checksums')).code).toBe(0);
  });
});
