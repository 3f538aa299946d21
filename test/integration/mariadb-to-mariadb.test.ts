import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, sqlTarget } from '../../src/config.js';
import type { TableSchema } from '../../src/core/schema.js';
import type { SourceCatalogue } from '../../src/core/source-catalogue.js';
import { sameServerProblems } from '../../src/pipeline/coordinator.js';
import { targetIdentity } from '../../src/pipeline/endpoints.js';
import { adminCall, startWithAdmin } from '../helpers/admin.js';
import { startCli, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { ITEMS_DDL, routeDatabases, type RouteDatabases } from '../helpers/routes.js';

const TYPES_DDL = `CREATE TABLE types (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, ti TINYINT(1), si SMALLINT UNSIGNED, mi MEDIUMINT, i INT(11),
  d DECIMAL(30,10), f FLOAT, db DOUBLE, dt DATETIME(6), ts TIMESTAMP(3) NULL, da DATE, tm TIME(2), y YEAR,
  c CHAR(10), v VARCHAR(255), code VARCHAR(20) COLLATE utf8mb4_bin, tx TEXT, bn BINARY(4), vb VARBINARY(16), bl BLOB, j JSON,
  e ENUM('a','b,c','it''s'), st SET('x','y','z'), bt BIT(10), u UUID, KEY ix_v (v))`;

const ROW = `(NULL, 1, 65535, -8388608, -2147483648, -12345678901234567890.0123456789, 1.1, 0.1, '2024-01-02 03:04:05.123456',
  '2038-01-19 03:14:07.999', '2024-02-29', '-838:59:58.99', 2155, 'abc', 'tab\\tnew\\nline ☕', 'Aa', REPEAT('x', 10000), X'00FF', X'00FF10',
  X'000102FEFF', '{"a": 1, "big": 12345678901234567890}', 'b,c', 'x,z', b'1010101010', '123e4567-e89b-12d3-a456-426614174000')`;

describe('MariaDB → MariaDB, two databases on one server', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'mysql', target: 'mysql', label: 'MariaDB → MariaDB' }, 'mm_types');
  });
  afterAll(async () => db?.close());

  it('keeps every column type, copies and streams exactly, and never reads its own target back', async () => {
    await db.source.query(`${TYPES_DDL}; INSERT INTO types VALUES ${ROW}, ${ROW}; INSERT INTO types (id) VALUES (NULL)`);
    // The include pattern matches the target database too: ferry must leave it out by itself.
    const config = writeConfig(db.config({ tables: { include: ['mm_types*.*'] } }));
    const ferry = startCli(['run', '-c', config]);
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    await db.source.query(`INSERT INTO types VALUES ${ROW}; UPDATE types SET v = 'changed', bt = b'1', e = 'it''s' WHERE id = 1;
      UPDATE types SET id = 100 WHERE id = 2; DELETE FROM types WHERE id = 3; INSERT INTO types (id) VALUES (NULL)`);
    await db.waitCaughtUp();
    const verdict = await verifyWithCli(config);
    expect(verdict.tables.map((t) => t.table)).toEqual(['mm_types.types']);
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    expect(verdict.tables[0]!.method, 'one engine: every column type by SQL checksums, floats and json included').toBe('sql');

    const columns = (schema: string) =>
      db.source.query(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${schema}' AND TABLE_NAME = 'types' ORDER BY ORDINAL_POSITION`,
      );
    const source = await columns('mm_types');
    const target = await columns('mm_types_t');
    expect(target.map((c) => [c.name, c.type, c.collation])).toEqual(source.map((c) => [c.name, c.type, c.collation]));
    const ids = await db.target.query('SELECT id FROM mm_types_t.types ORDER BY id');
    expect(ids.map((r) => Number(r.id))).toEqual([1, 4, 100, 101]);
    // The next AUTO_INCREMENT value on the target is past every copied key.
    await db.target.query('INSERT INTO mm_types_t.types (id) VALUES (NULL)');
    expect(Number((await db.target.query('SELECT MAX(id) AS m FROM mm_types_t.types'))[0]!.m)).toBe(102);
    expect(await db.source.query("SHOW DATABASES LIKE 'mm\\_types%'")).toHaveLength(2);

    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  });

  it('knows the target is the source when their URLs differ, and refuses to read it back', async () => {
    // The same server under another name: a source that reports the target's own identity.
    const targetConfig = parseConfig({ ...db.config(), target: { type: 'mysql', url: db.target.url, schema: 'mm_types_t' } });
    const identity = await targetIdentity(targetConfig);
    expect(identity).toMatch(/^mysql:/);
    const alias = (tables: TableSchema[]) => ({ serverIdentity: async () => identity!, describeTables: async () => tables }) as unknown as SourceCatalogue;
    const table = (schema: string) => ({ source: { schema, name: 'types' } }) as TableSchema;

    const noSchema = await sameServerProblems({ ...targetConfig, target: { ...sqlTarget(targetConfig), schema: undefined } }, alias([table('mm_types')]));
    expect(noSchema.map((p) => p.message)).toEqual([expect.stringMatching(/the target is the source itself/)]);
    const fedBack = await sameServerProblems(targetConfig, alias([table('mm_types'), table('mm_types_t')]));
    expect(fedBack.map((p) => p.message)).toEqual([expect.stringMatching(/the tables selected include the target schema mm_types_t/)]);
    expect(await sameServerProblems(targetConfig, alias([table('mm_types')]))).toEqual([]);
    const elsewhere = { ...alias([table('mm_types_t')]), serverIdentity: async () => 'mysql:another' } as SourceCatalogue;
    expect(await sameServerProblems(targetConfig, elsewhere)).toEqual([]);
  });
});

describe('MariaDB → MariaDB on one server, idle', () => {
  let db: RouteDatabases;
  beforeAll(async () => {
    db = await routeDatabases({ source: 'mysql', target: 'mysql', label: 'MariaDB → MariaDB' }, 'mm_idle');
  });
  afterAll(async () => db?.close());

  /** Target commits so far: one per applied batch (ferry_apply_batch_seconds counts them). */
  const commits = async (admin: string) => {
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    return Number(/^ferry_apply_batch_seconds_count\{pipeline="mm_idle"\} (\d+)$/m.exec(metrics)?.[1]);
  };
  const position = async () => (await db.checkpoint())?.position as { file: string; pos: number };

  it('commits about once per heartbeat, never again for the checkpoint writes it reads back from the shared binlog', async () => {
    await db.source.query(`${ITEMS_DDL}; INSERT INTO items VALUES (1, 1, 'one', 1)`);
    const heartbeatSeconds = 1;
    const { ferry, admin } = await startWithAdmin(db.config({ source: { ...(db.config().source as object), heartbeatSeconds } }));
    await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()));
    await db.waitCaughtUp();

    // No application writes for 30 s: each checkpoint write lands in the binlog ferry reads.
    const [startCommits, startPosition, startMs] = [await commits(admin), await position(), Date.now()];
    await sleep(30_000);
    const [endCommits, endPosition, idleMs] = [await commits(admin), await position(), Date.now() - startMs];
    const beats = idleMs / (heartbeatSeconds * 1000);
    expect(endCommits - startCommits, `target commits in ${idleMs} ms idle`).toBeLessThanOrEqual(Math.ceil(beats) + 3);
    // The heartbeats still move the checkpoint and keep the lag honest.
    expect(endPosition.file > startPosition.file || endPosition.pos > startPosition.pos, 'the checkpoint moved while idle').toBe(true);
    expect((await adminCall(admin, '/status')).body.lagSeconds as number).toBeLessThan(10);

    // A real change is applied, and the checkpoint passes it.
    await db.source.query("INSERT INTO items VALUES (2, 2, 'two', 2); UPDATE items SET val = 'uno' WHERE id = 1");
    await db.waitCaughtUp();
    const rows = await db.target.query(`SELECT id, val FROM ${db.targetSchema}.items ORDER BY id`);
    expect(rows.map((r) => [Number(r.id), r.val])).toEqual([
      [1, 'uno'],
      [2, 'two'],
    ]);

    ferry.child.kill('SIGTERM');
    expect((await ferry.done).code).toBe(0);
  }, 150_000);
});
