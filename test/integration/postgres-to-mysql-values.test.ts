import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ROUTES, routeDatabases, type RouteDatabases } from '../helpers/routes.js';

/**
 * Postgres values at the edge of what MySQL holds (docs/type-mapping.md): `real` and `double
 * precision` extremes arrive exactly, in the snapshot and the stream; NaN and ±Infinity, which
 * MySQL's FLOAT, DOUBLE and DECIMAL cannot hold, stop ferry once with an error naming the table, the
 * column and the row's key, and the checkpoint stays before that row.
 */
const route = ROUTES.find((r) => r.source === 'postgres' && r.target === 'mysql')!;

/** FLT_MAX, its negative, FLT_MIN, the smallest denormals, an ordinary float. */
const REALS = ['3.4028235e38', '-3.4028235e38', '1.1754944e-38', '1e-45', '-1e-45', '1.4e-44', '3.1415927', '1.1'];
/** DBL_MAX, its negative, DBL_MIN, the smallest denormal, an ordinary double. */
const DOUBLES = [
  '1.7976931348623157e308',
  '-1.7976931348623157e308',
  '2.2250738585072014e-308',
  '5e-324',
  '-5e-324',
  '4.9406564584124654e-324',
  '0.1',
  '1e300',
];
const STREAM_OFFSET = 100;

function extremesSql(offset: number): string {
  return `INSERT INTO extremes VALUES ${REALS.map((r, i) => `(${offset + i + 1}, '${r}', '${DOUBLES[i]}')`).join(', ')}`;
}

describe('Postgres → MariaDB: real and double extremes', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(route, 'pgmy_extremes');
  });
  afterAll(async () => db?.close());

  it('arrive exactly through the snapshot and the stream; ferry verify says equal', async () => {
    await db.source.query(`CREATE TABLE extremes (id int PRIMARY KEY, f4 real, f8 double precision); ${extremesSql(0)}`);
    const config = writeConfig(db.config());
    const ferry = startCli(['run', '-c', config]);
    try {
      await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null);
      expect(ferry.child.exitCode, ferry.output()).toBeNull();
      await db.source.query(extremesSql(STREAM_OFFSET));
      await db.waitCaughtUp();
    } finally {
      ferry.child.kill('SIGTERM');
      const r = await ferry.done;
      expect(r.code, r.stderr).toBe(0);
    }
    const rows = await db.target.query(`SELECT id, f4 + 0e0 AS f4, f8 FROM ${db.targetSchema}.extremes ORDER BY id`);
    const expected = REALS.map((r, i) => ({ f4: Math.fround(Number(r)), f8: Number(DOUBLES[i]) }));
    const values = (path: 'snapshot' | 'stream') =>
      rows.filter((r) => Number(r.id) > STREAM_OFFSET === (path === 'stream')).map((r) => ({ f4: Number(r.f4), f8: Number(r.f8) }));
    expect(values('snapshot'), 'snapshot path').toEqual(expected);
    expect(values('stream'), 'WAL path').toEqual(expected);

    const verdict = await verifyWithCli(config);
    expect(verdict.tables, JSON.stringify(verdict.tables)).toEqual([
      expect.objectContaining({ table: 'public.extremes', equal: true, method: 'rows', rows: REALS.length * 2 }),
    ]);
  });
});

/** One non-finite value per case: its table, column and literal. */
const SPECIALS = [
  { table: 'snap_n_nan', column: 'n', literal: 'NaN', path: 'snapshot' },
  { table: 'snap_f4_inf', column: 'f4', literal: 'Infinity', path: 'snapshot' },
  { table: 'snap_f8_ninf', column: 'f8', literal: '-Infinity', path: 'snapshot' },
  { table: 'wal_n_inf', column: 'n', literal: 'Infinity', path: 'stream' },
  { table: 'wal_n_ninf', column: 'n', literal: '-Infinity', path: 'stream' },
  { table: 'wal_f8_nan', column: 'f8', literal: 'NaN', path: 'stream' },
] as const;

describe('Postgres → MariaDB: NaN and ±Infinity stop ferry once, naming the table, the column and the row', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases(route, 'pgmy_nonfinite');
    for (const s of SPECIALS) {
      await db.source.query(
        `CREATE TABLE ${s.table} (id int PRIMARY KEY, f4 real, f8 double precision, n numeric); INSERT INTO ${s.table} VALUES (1, 1.5, 2.5, 3.5)`,
      );
    }
  });
  afterAll(async () => db?.close());

  /** A pipeline of its own for one table: its own slot, publication and checkpoint. */
  function configFor(table: string): string {
    return writeConfig({ ...db.config(), pipeline: `nf_${table}`, tables: { include: [`public.${table}`] } });
  }

  const message = (s: (typeof SPECIALS)[number], id: number) =>
    new RegExp(
      `table public\\.${s.table}, column ${s.column}, row id = ${id}: ${s.literal} cannot be stored in MySQL.*fix: .*UPDATE public\\.${s.table} SET ${s.column} = NULL WHERE id = ${id}.*exclude the table`,
    );

  it.each(SPECIALS.filter((s) => s.path === 'snapshot'))('in the snapshot: $literal in $column', async (s) => {
    await db.source.query(`INSERT INTO ${s.table} (id, ${s.column}) VALUES (2, '${s.literal}')`);
    const r = await runCli(['run', '-c', configFor(s.table)]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message(s, 2));
    // The chunk holding the row was not committed, and the snapshot is not recorded as done.
    const [count] = await db.target.query(`SELECT COUNT(*) AS n FROM ${db.targetSchema}.${s.table}`);
    expect(Number(count!.n)).toBe(0);
    expect((await db.checkpoint(`nf_${s.table}`))?.phase).not.toBe('stream');
  });

  it.each(SPECIALS.filter((s) => s.path === 'stream'))('in the stream: $literal in $column', async (s) => {
    const pipeline = `nf_${s.table}`;
    const ferry = startCli(['run', '-c', configFor(s.table)]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null);
    expect(ferry.child.exitCode, ferry.output()).toBeNull();
    await db.source.query(`INSERT INTO ${s.table} (id, ${s.column}) VALUES (2, '${s.literal}')`);
    const [after] = await db.source.query("SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS lsn");
    await db.source.query(`INSERT INTO ${s.table} (id) VALUES (3)`);
    const r = await ferry.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message(s, 2));
    expect(r.stderr).toMatch(/the checkpoint did not move past this change/);
    // Neither the row nor anything after it was applied; the checkpoint is before its commit.
    const rows = await db.target.query(`SELECT id FROM ${db.targetSchema}.${s.table} ORDER BY id`);
    expect(rows.map((row) => Number(row.id))).toEqual([1]);
    const checkpoint = await db.checkpoint(pipeline);
    expect(checkpoint?.phase).toBe('stream');
    expect(BigInt(String(checkpoint!.position!.lsn))).toBeLessThan(BigInt(String(after!.lsn)));
    // A restart meets the same row again: one clear stop each time, never a skip.
    const again = await runCli(['run', '-c', configFor(s.table)]);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toMatch(message(s, 2));
  });
});
