import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ROUTES, routeDatabases, type RouteDatabases } from '../helpers/routes.js';

/**
 * A target column the operator widened on purpose (float → double, varchar(10) → varchar(50),
 * int → bigint) is accepted at the next start, on every route; the values go on arriving exactly
 * and `ferry verify` still says equal. A narrower column is still refused, naming it.
 */
const SOURCE_DDL = {
  mysql: 'CREATE TABLE w (id INT PRIMARY KEY, f4 FLOAT, v VARCHAR(10), i INT)',
  postgres: 'CREATE TABLE w (id int PRIMARY KEY, f4 real, v varchar(10), i int)',
};

const WIDEN = {
  mysql: (t: string) => `ALTER TABLE ${t} MODIFY f4 DOUBLE NULL, MODIFY v VARCHAR(50) NULL, MODIFY i BIGINT NULL`,
  postgres: (t: string) => `ALTER TABLE ${t} ALTER COLUMN f4 TYPE double precision, ALTER COLUMN v TYPE varchar(50), ALTER COLUMN i TYPE bigint`,
};

/** The values are made to fit first: the server would refuse the narrowing otherwise. */
const NARROW = {
  mysql: (t: string) => `UPDATE ${t} SET i = 0; ALTER TABLE ${t} MODIFY i SMALLINT NULL`,
  postgres: (t: string) => `UPDATE ${t} SET i = 0; ALTER TABLE ${t} ALTER COLUMN i TYPE smallint`,
};

const rows = (from: number) => `(${from}, 1.1, 'abcdefghij', 2147483647), (${from + 1}, 3.4028234e38, '', -2147483648), (${from + 2}, -1.17549435e-38, 'x', 0)`;

describe.each(ROUTES)('widened target columns: $label', (route) => {
  let db: RouteDatabases;
  afterAll(async () => db?.close());

  it('are accepted at restart; rows go on arriving and ferry verify says equal', async () => {
    db = await routeDatabases(route, `widen_${route.source}_${route.target}`);
    await db.source.query(`${SOURCE_DDL[route.source]}; INSERT INTO w VALUES ${rows(1)}`);
    const config = writeConfig(db.config());
    const streamUntilCaughtUp = async (insert: string) => {
      const ferry = startCli(['run', '-c', config]);
      try {
        await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null);
        expect(ferry.child.exitCode, ferry.output()).toBeNull();
        await db.source.query(insert);
        await db.waitCaughtUp();
      } finally {
        ferry.child.kill('SIGTERM');
        const r = await ferry.done;
        expect(r.code, r.stderr).toBe(0);
      }
    };
    await streamUntilCaughtUp(`INSERT INTO w VALUES ${rows(11)}`);

    const target = `${db.targetSchema}.w`;
    await db.target.query(WIDEN[route.target](target));
    await streamUntilCaughtUp(`INSERT INTO w VALUES ${rows(21)}; UPDATE w SET f4 = 2.5, v = 'klmnopqrst' WHERE id = 1`);

    const verdict = await verifyWithCli(config);
    expect(verdict.tables, JSON.stringify(verdict.tables)).toEqual([expect.objectContaining({ equal: true, rows: 9 })]);
    // Equal by checksum at once: not checksums that differed over rows that then read alike.
    expect(verdict.tables[0]!.note ?? '').not.toMatch(/differing checksums/);
  });

  it('a column narrowed below the source type is still refused, naming it', async () => {
    await db.target.query(NARROW[route.target](`${db.targetSchema}.w`));
    const r = await runCli(['run', '-c', writeConfig(db.config())]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/column i is smallint(\(6\))? in the target, but the source's (int\(11\)|integer) maps to/);
  });
});
