import { EventEmitter } from 'node:events';
import sql from 'mssql';
import tedious from 'tedious';
import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import type { TargetColumn } from '../../src/sinks/mssql/mssql-columns.js';
import { BULK_OPTIONS, MssqlDriver } from '../../src/sinks/mssql/mssql-driver.js';
import { createStageSql, fitsValues, matchNames, sameNames, stageTable, stageValuesSql } from '../../src/sinks/mssql/mssql-stage.js';
import { parseTsql } from '../helpers/tsql.js';
import { modelSession, TsqlModel } from '../helpers/tsql-model.js';

const targets: TargetColumn[] = [
  { name: 'id', type: 'int', identity: true },
  { name: 'code', type: 'bigint', identity: false },
  { name: 'amount', type: 'decimal(12,2)', identity: false },
  { name: 'at', type: 'datetime2(6)', identity: false },
  { name: 'name', type: 'nvarchar(50)', identity: false },
  { name: 'blob', type: 'varbinary(max)', identity: false },
  { name: 'ok', type: 'bit', identity: false },
  { name: 'ratio', type: 'real', identity: false },
];

/**
 * Runs mssql's own bulk load of `table` against a tedious BulkLoad on a connection that goes nowhere:
 * the `insert bulk` statement tedious would send, and every row encoded as tedious encodes it.
 */
async function bulkLoadOf(table: sql.Table, options: sql.IBulkOptions): Promise<{ statement: string; bytes: number }> {
  let statement = '';
  let bytes = 0;
  const connection = Object.assign(new EventEmitter(), {
    newBulkLoad(path: string, o: object, done: never) {
      return new tedious.BulkLoad(path, undefined, { useUTC: true, tdsVersion: '7_4' } as never, o, done);
    },
    execBulkLoad(bulk: tedious.BulkLoad, rows: unknown[][]) {
      statement = bulk.getBulkInsertSql();
      const transform = (bulk as unknown as { rowToPacketTransform: NodeJS.ReadWriteStream }).rowToPacketTransform;
      transform.on('data', (chunk: Buffer) => (bytes += chunk.length));
      transform.on('error', (err: Error) => (bulk as unknown as { callback: (e: Error) => void }).callback(err));
      transform.on('end', () => (bulk as unknown as { callback: (e: null, n: number) => void }).callback(null, rows.length));
      for (const row of rows) transform.write(row as never);
      transform.end();
    },
  });
  const parent = {
    config: {},
    connected: true,
    acquire: (_r: unknown, cb: (e: null, c: unknown, cfg: object) => void) => cb(null, connection, {}),
    release() {},
  };
  await new sql.Request(parent as never).bulk(table, options);
  return { statement, bytes };
}

describe('the stage: a session temp table in wire types', () => {
  const stage = sameNames(targets);

  it('is made in wire types, every column NULL and none an identity, after the ordinal', () => {
    const ddl = createStageSql(stage);
    expect(ddl).toBe(
      'DROP TABLE IF EXISTS [#ferry_stage]; CREATE TABLE [#ferry_stage] ([ferry ordinal] int NOT NULL, [id] int NULL, [code] bigint NULL, ' +
        '[amount] nvarchar(max) NULL, [at] nvarchar(max) NULL, [name] nvarchar(max) NULL, [blob] varbinary(max) NULL, [ok] bit NULL, [ratio] real NULL)',
    );
    expect(ddl).not.toMatch(/IDENTITY/i);
    expect(parseTsql(ddl)).toHaveLength(2);
  });

  it("declares the bulk load's columns as the stage declares them: tedious's insert bulk statement matches the CREATE TABLE", async () => {
    const rows = [[5, 9007199254740993n, '12.50', '2024-01-01 00:00:00.000001', 'ä 😀', Buffer.from([1, 2]), true, 0.5]];
    const { statement, bytes } = await bulkLoadOf(stageTable(stage, rows), BULK_OPTIONS);
    const declared = /^insert bulk \[#ferry_stage\]\((.*)\) WITH \((.*)\)$/.exec(statement);
    expect(declared, statement).not.toBeNull();
    const created = /CREATE TABLE \[#ferry_stage\] \((.*)\)$/.exec(createStageSql(stage))![1]!.replace(/ (NOT )?NULL/g, '');
    expect(declared![1]!.toLowerCase()).toBe(created.toLowerCase());
    expect(declared![2]!.split(',').sort()).toEqual(['KEEP_NULLS', 'TABLOCK']);
    expect(bytes).toBeGreaterThan(0); // every value encoded
  });

  it('brackets a column name with a ] as SQL Server reads it (tedious does not double it)', async () => {
    const odd = sameNames([{ name: 'a]b', type: 'int', identity: false }]);
    expect(stageTable(odd, []).columns[1]!.name).toBe('a]]b');
    const { statement } = await bulkLoadOf(stageTable(odd, [[1]]), {});
    expect(statement).toContain('[a]]b] int');
  });

  it('takes few rows as one INSERT … VALUES: parameters row by row, the ordinal as a literal', () => {
    const two = stageValuesSql(matchNames(targets.slice(0, 2)), 2);
    expect(two).toBe('INSERT INTO [#ferry_stage] ([ferry ordinal], [ferry match 0], [ferry match 1]) VALUES (1, @p1, @p2), (2, @p3, @p4)');
    expect(parseTsql(two)).toHaveLength(1);
  });

  it('keeps INSERT … VALUES under SQL Server’s 2,100 parameters a request and 1,000 rows a VALUES list', () => {
    expect(fitsValues(1000, 2)).toBe(true);
    expect(fitsValues(1001, 1)).toBe(false);
    expect(fitsValues(250, 8)).toBe(true);
    expect(fitsValues(251, 8)).toBe(false);
  });
});

describe('the driver stages rows and runs statements on them, on one session', () => {
  const col = (name: string, t: ColumnType): Column => ({
    name,
    type: t,
    sourceType: '',
    nullable: true,
    autoIncrement: name === 'id',
    backfill: { value: null },
  });
  const table: TableSchema = {
    engine: 'mysql',
    source: { schema: 'app', name: 'items' },
    target: { schema: 'app', name: 'items' },
    columns: [col('id', { kind: 'int', bytes: 4, unsigned: false }), col('amount', { kind: 'decimal', precision: 12, scale: 2 })],
    primaryKey: ['id'],
    indexes: [],
  };
  const model = () => {
    const m = new TsqlModel();
    m.define('app.items', { columns: ['id', 'amount'], types: { id: 'int', amount: 'decimal(12,2)' }, identity: 'id', primaryKey: ['id'] });
    return m;
  };

  it("loads a snapshot chunk with the source's identity values, exactly, through IDENTITY_INSERT around the INSERT … SELECT", async () => {
    const m = model();
    const driver = new MssqlDriver({} as sql.ConnectionPool, 60_000);
    await driver.loadRows(modelSession(m), table, [
      [7, '1.50'],
      [3, '12345678901.25'],
    ]);
    expect(m.rows('app.items')).toEqual([
      { id: 7, amount: '1.50' },
      { id: 3, amount: '12345678901.25' },
    ]);
    expect(m.statements.filter((s) => s.startsWith('SET IDENTITY_INSERT'))).toEqual([
      'SET IDENTITY_INSERT [app].[items] ON',
      'SET IDENTITY_INSERT [app].[items] OFF',
    ]);
    expect(m.tables.has('#ferry_stage')).toBe(false); // dropped with the request
  });

  it('bulk-loads the stage when the rows would not fit one INSERT … VALUES, then runs the statements on it', async () => {
    const m = model();
    const bulks: { table: sql.Table; options: sql.IBulkOptions }[] = [];
    const rows = Array.from({ length: 1500 }, (_, i) => [i + 1, `${i}.05`]);
    await new MssqlDriver({} as sql.ConnectionPool, 60_000).loadRows(modelSession(m, bulks), table, rows);
    expect(bulks).toHaveLength(1);
    expect(bulks[0]!.options).toBe(BULK_OPTIONS);
    expect(m.rows('app.items')).toHaveLength(1500);
    expect(m.rows('app.items')[1499]).toEqual({ id: 1500, amount: '1499.05' });
    expect(m.tables.has('#ferry_stage')).toBe(false);
  });
});
