import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createItems, fillItems } from './data.js';
import { databaseUrl, freshDatabase, withDb } from './db.js';
import { Ferry, sh } from './processes.js';
import type { Arm, Contender } from './race.js';
import { mariadbArgs, type Servers } from './servers.js';

/** The same `rows` rows in bench.items on the MariaDB source and on the Postgres source. */
export async function buildSnapshotData(s: Servers, rows: number): Promise<void> {
  await freshDatabase(s.mariaSource.url(), 'bench');
  await freshDatabase(s.pgSource.url(), 'bench');
  await Promise.all(
    [s.mariaSource.url('bench'), s.pgSource.url('bench')].map((url) =>
      withDb(url, async (db) => {
        await createItems(db);
        await fillItems(db, rows);
        await db.exec(db.engine === 'mysql' ? 'ANALYZE TABLE bench.items' : 'VACUUM ANALYZE bench.items');
      }),
    ),
  );
}

/** Asserts that `url`'s `table` holds `rows` rows. */
async function expectRows(url: string, table: string, rows: number): Promise<void> {
  const n = await withDb(url, (db) => db.scalar(`SELECT count(*) FROM ${table}`));
  if (Number(n) !== rows) throw new Error(`${url} ${table} has ${n} rows, expected ${rows}`);
}

/** Drops the slots and publications a ferry pipeline left on the Postgres source. */
export async function dropFerrySlots(s: Servers, database: string): Promise<void> {
  await withDb(s.pgSource.url(database), async (db) => {
    await db.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'ferry%' AND NOT active");
    const pubs = await db.scalar("SELECT string_agg(quote_ident(pubname), ', ') FROM pg_publication WHERE pubname LIKE 'ferry%'");
    if (pubs) await db.exec(`DROP PUBLICATION ${pubs}`);
  });
}

/** ferry's snapshot into a fresh target database each run. */
function ferrySnapshot(
  pipeline: string,
  source: Record<string, unknown>,
  target: () => Promise<Record<string, unknown>>,
  check: () => Promise<void>,
): Contender {
  let ferry: Ferry;
  return {
    tool: 'ferry',
    async prepare() {
      ferry = new Ferry(pipeline, { source, target: await target(), tables: { include: ['bench.items'] }, snapshot: { tablePrep: 'drop-and-create' } });
    },
    run: () => ferry.snapshot(),
    check,
  };
}

export function snapshotArms(s: Servers, rows: number): Arm[] {
  const pgTarget = (db: string) => s.pgTarget.url(db);
  const mariaToPg: Arm = {
    name: 'snapshot MariaDB → Postgres',
    work: rows,
    contenders: [
      ferrySnapshot(
        'snap-mp',
        { type: 'mysql', url: s.mariaSource.url('bench'), serverId: 101 },
        async () => ({ type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'snap_ferry') }),
        () => expectRows(pgTarget('snap_ferry'), 'bench.items', rows),
      ),
      {
        tool: 'pgloader',
        prepare: async () => void (await freshDatabase(s.pgTarget.url(), 'snap_pgloader')),
        run: () =>
          sh(
            `pgloader --on-error-stop mysql://root@127.0.0.1:${s.mariaSource.port}/bench postgresql://postgres@127.0.0.1:${s.pgTarget.port}/snap_pgloader`,
            'pgloader',
          ),
        check: () => expectRows(pgTarget('snap_pgloader'), 'bench.items', rows),
      },
      {
        tool: 'raw pipe (mariadb | COPY, no indexes)',
        prepare: async () => withDb(await freshDatabase(s.pgTarget.url(), 'snap_pipe'), (db) => createItems(db, { bare: true })),
        run: () =>
          sh(
            `mariadb ${mariadbArgs(s.mariaSource)} --batch --skip-column-names --quick -e 'SELECT * FROM bench.items' ` +
              `| psql -q -v ON_ERROR_STOP=1 '${pgTarget('snap_pipe')}' -c 'COPY bench.items FROM STDIN'`,
            'raw pipe',
          ),
        check: () => expectRows(pgTarget('snap_pipe'), 'bench.items', rows),
      },
    ],
  };

  const pgSource = { type: 'postgres', url: s.pgSource.url('bench') };
  let workDir = '';
  const pgToPg: Arm = {
    name: 'snapshot Postgres → Postgres',
    work: rows,
    contenders: [
      ferrySnapshot(
        'snap-pp',
        pgSource,
        async () => ({ type: 'postgres', url: await freshDatabase(s.pgTarget.url(), 'snap_ferry') }),
        async () => {
          await dropFerrySlots(s, 'bench');
          await expectRows(pgTarget('snap_ferry'), 'bench.items', rows);
        },
      ),
      {
        tool: 'pgcopydb',
        async prepare() {
          await freshDatabase(s.pgTarget.url(), 'snap_pgcopydb');
          workDir = mkdtempSync(join(tmpdir(), 'ferry-bench-pgcopydb-'));
        },
        run: () =>
          sh(`pgcopydb clone --source '${s.pgSource.url('bench')}' --target '${pgTarget('snap_pgcopydb')}' --dir '${workDir}' --no-owner --no-acl`, 'pgcopydb'),
        async check() {
          rmSync(workDir, { recursive: true, force: true });
          await expectRows(pgTarget('snap_pgcopydb'), 'bench.items', rows);
        },
      },
      {
        tool: 'raw pipe (COPY | COPY, no indexes)',
        prepare: async () => withDb(await freshDatabase(s.pgTarget.url(), 'snap_pipe'), (db) => createItems(db, { bare: true })),
        run: () =>
          sh(
            `psql -q -v ON_ERROR_STOP=1 '${s.pgSource.url('bench')}' -c 'COPY bench.items TO STDOUT' ` +
              `| psql -q -v ON_ERROR_STOP=1 '${pgTarget('snap_pipe')}' -c 'COPY bench.items FROM STDIN'`,
            'COPY pipe',
          ),
        check: () => expectRows(pgTarget('snap_pipe'), 'bench.items', rows),
      },
    ],
  };

  const dump = join(tmpdir(), `ferry-bench-${process.pid}.tsv`);
  const mariaTarget = (db: string) => databaseUrl(s.mariaTarget.url(), db);
  const pgToMaria: Arm = {
    name: 'snapshot Postgres → MariaDB',
    work: rows,
    contenders: [
      ferrySnapshot(
        'snap-pm',
        pgSource,
        async () => {
          await withDb(s.mariaTarget.url(), (db) => db.exec('DROP DATABASE IF EXISTS ferry; DROP DATABASE IF EXISTS snap_ferry'));
          return { type: 'mysql', url: s.mariaTarget.url(), schema: 'snap_ferry' };
        },
        async () => {
          await dropFerrySlots(s, 'bench');
          await expectRows(mariaTarget('snap_ferry'), 'snap_ferry.items', rows);
        },
      ),
      {
        tool: 'COPY TO STDOUT > file; LOAD DATA',
        prepare: async () => withDb(await freshDatabase(s.mariaTarget.url(), 'snap_load'), (db) => createItems(db, { schema: 'snap_load' })),
        run: () =>
          sh(
            `psql -q -v ON_ERROR_STOP=1 '${s.pgSource.url('bench')}' -c 'COPY bench.items TO STDOUT' > '${dump}' ` +
              `&& mariadb ${mariadbArgs(s.mariaTarget)} --local-infile=1 -e "LOAD DATA LOCAL INFILE '${dump}' INTO TABLE snap_load.items"`,
            'LOAD DATA',
          ),
        async check() {
          rmSync(dump, { force: true });
          await expectRows(mariaTarget('snap_load'), 'snap_load.items', rows);
        },
      },
    ],
  };
  return [mariaToPg, pgToPg, pgToMaria];
}
