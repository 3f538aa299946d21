import type sql from 'mssql';
import { describe, expect, it } from 'vitest';
import type { TargetColumn } from '../../src/sinks/mssql/mssql-columns.js';
import { MssqlDriver } from '../../src/sinks/mssql/mssql-driver.js';
import { matchNames, sameNames } from '../../src/sinks/mssql/mssql-stage.js';
import {
  deleteRowSql,
  deleteSql,
  insertRowSql,
  insertSql,
  missesSql,
  truncateSql,
  updateRowSql,
  updateSql,
  upsertSql,
} from '../../src/sinks/mssql/mssql-statements.js';
import { parseTsql } from '../helpers/tsql.js';
import { modelSession, TsqlModel } from '../helpers/tsql-model.js';

type Node = { readonly [k: string]: unknown };

const T = { schema: 'app', name: 'items' };
const ID: TargetColumn = { name: 'id', type: 'int', identity: false };
const CODE: TargetColumn = { name: 'code', type: 'decimal(20,0)', identity: false };
const NAME: TargetColumn = { name: 'name', type: 'nvarchar(50)', identity: false };
const AMOUNT: TargetColumn = { name: 'amount', type: 'decimal(12,2)', identity: false };
const COLUMNS = [ID, CODE, NAME, AMOUNT];
const KEY = sameNames([ID, CODE]);

/** `t.[id] = s.[id]`-style text of every equality in an AND chain, a CAST as `CAST(x AS TYPE)`. */
function equalities(e: Node | null | undefined): string[] {
  if (!e) return [];
  if (e.type === 'binary_expr' && e.operator === 'AND') return [...equalities(e.left as Node), ...equalities(e.right as Node)];
  if (e.type === 'binary_expr' && e.operator === '=') return [`${term(e.left as Node)} = ${term(e.right as Node)}`];
  throw new Error(`not an equality: ${JSON.stringify(e).slice(0, 120)}`);
}

function term(e: Node): string {
  if (e.type === 'column_ref') return `${e.table ? `${String(e.table)}.` : ''}${String(e.column)}`;
  if (e.type === 'cast') return `CAST(${term(e.expr as Node)} AS ${(e.target as { dataType: string }[])[0]!.dataType})`;
  throw new Error(`not a term: ${String(e.type)}`);
}

const first = (statement: string) => {
  const [tree] = parseTsql(statement) as (Node | Node[])[];
  return (Array.isArray(tree) ? tree[0] : tree) as Node;
};
const hints = (from: Node) => ((from.table_hint as { expr: { expr: { value: string } }[] } | null)?.expr ?? []).map((h) => h.expr.value);

/** A model with app.items holding `rows`, and a driver on it. */
function target(rows: Record<string, unknown>[], identity?: string) {
  const model = new TsqlModel();
  model.define('app.items', {
    columns: COLUMNS.map((c) => c.name),
    types: Object.fromEntries(COLUMNS.map((c) => [c.name, c.type])),
    primaryKey: ['id', 'code'],
    unique: [{ name: 'items_name_unique', columns: ['name'] }],
    ...(identity ? { identity } : {}),
    rows,
  });
  const driver = new MssqlDriver({} as sql.ConnectionPool, 60_000);
  return { model, session: modelSession(model), driver };
}

const row = (id: number, code: string, name: string | null, amount: string | null) => ({ id, code, name, amount });

describe('set-based statements over the stage', () => {
  it('deletes the rows whose whole key a staged key equals, comparing text wires in the column type, and no other', async () => {
    const statement = deleteSql(T, KEY);
    const ast = first(statement);
    const [t, s] = ast.from as Node[];
    expect([t!.db, t!.table, t!.as, s!.table, s!.as, s!.join]).toEqual(['app', 'items', 't', '#ferry_stage', 's', 'INNER JOIN']);
    expect(equalities(s!.on as Node)).toEqual(['t.id = s.id', 't.code = CAST(s.code AS DECIMAL)']);
    const { model, session, driver } = target([row(1, '10', 'a', '1.00'), row(1, '11', 'b', '1.00'), row(2, '10', 'c', '1.00')]);
    await driver.staged(
      session,
      KEY,
      [
        [1, '10'],
        [2, '99'],
      ],
      statement,
    );
    expect(model.rows('app.items').map((r) => [r.id, r.code])).toEqual([
      [1, '11'],
      [2, '10'],
    ]);
  });

  it('counts the staged keys the target lacks and names the first by its ordinal, in the same request as the change', async () => {
    const ast = first(missesSql(T, KEY));
    expect((ast.columns as { as: string }[]).map((c) => c.as)).toEqual(['missing', 'first']);
    const sub = ((ast.where as Node).expr as { ast: Node }).ast;
    expect((ast.where as Node).operator).toBe('NOT EXISTS');
    expect(equalities(sub.where as Node)).toEqual(['t.id = s.id', 't.code = CAST(s.code AS DECIMAL)']);
    const { session, driver } = target([row(1, '10', 'a', null)]);
    const result = await driver.staged(
      session,
      KEY,
      [
        [1, '10'],
        [5, '1'],
        [6, '1'],
      ],
      `${missesSql(T, KEY)}; ${deleteSql(T, KEY)}`,
    );
    expect(result.recordset).toEqual([{ missing: 2, first: 2 }]);
  });

  it('patches only the columns sent, on the row the match key names, the key itself too when the row moved', async () => {
    const match = matchNames([ID, CODE]);
    const set = sameNames([ID, AMOUNT]);
    const statement = updateSql(T, match, set);
    const ast = first(statement);
    expect((ast.set as { column: string }[]).map((c) => c.column)).toEqual(['id', 'amount']);
    expect(equalities((ast.from as Node[])[1]!.on as Node)).toEqual(['t.id = s.ferry match 0', 't.code = CAST(s.ferry match 1 AS DECIMAL)']);
    const { model, session, driver } = target([row(1, '10', 'keep me', '1.00'), row(2, '10', 'other', '2.00')]);
    await driver.staged(session, [...match, ...set], [[1, '10', 3, '9.50']], statement);
    expect(model.rows('app.items')).toEqual([row(3, '10', 'keep me', '9.50'), row(2, '10', 'other', '2.00')]);
  });

  it('upserts: updates the rows that exist (their sent non-key columns only), inserts the others whole, under key-range locks', async () => {
    const stage = sameNames(COLUMNS);
    const statement = upsertSql(T, KEY, stage, ['id', 'code', 'name']);
    const [update, insert] = parseTsql(statement).map((tree) => (Array.isArray(tree) ? tree[0] : tree) as Node);
    expect((update!.set as { column: string }[]).map((c) => c.column)).toEqual(['name']); // no key, no column the image lacks
    expect(hints((update!.from as Node[])[0]!)).toEqual(['UPDLOCK', 'HOLDLOCK']);
    expect(insert!.columns).toEqual(['id', 'code', 'name', 'amount']);
    const notExists = ((insert!.values as Node).where as Node).expr as { ast: Node };
    expect(hints((notExists.ast.from as Node[])[0]!)).toEqual(['UPDLOCK', 'HOLDLOCK']);
    expect(equalities(notExists.ast.where as Node)).toEqual(['t.id = s.id', 't.code = CAST(s.code AS DECIMAL)']);
    const { model, session, driver } = target([row(1, '10', 'old', '5.00'), row(2, '10', 'untouched', '6.00')]);
    await driver.staged(
      session,
      stage,
      [
        [1, '10', 'new', null],
        [3, '10', 'fresh', '7.25'],
      ],
      statement,
    );
    expect(model.rows('app.items')).toEqual([row(1, '10', 'new', '5.00'), row(2, '10', 'untouched', '6.00'), row(3, '10', 'fresh', '7.25')]);
  });

  it('keeps the source’s identity values: IDENTITY_INSERT around the INSERT, and never an identity column in an UPDATE', async () => {
    const identity = [{ ...ID, identity: true }, CODE, NAME, AMOUNT];
    const stage = sameNames(identity);
    const statement = upsertSql(T, stage.slice(0, 2), stage, ['id', 'code', 'name', 'amount']);
    expect(statement).toMatch(
      /^UPDATE t SET \[name\] = s\.\[name\], \[amount\] = CAST\(s\.\[amount\] AS decimal\(12,2\)\) .*; SET IDENTITY_INSERT \[app\]\.\[items\] ON; INSERT INTO .*; SET IDENTITY_INSERT \[app\]\.\[items\] OFF$/,
    );
    const { model, session, driver } = target([], 'id');
    await driver.staged(session, stage, [[42, '1', 'kept', '1.00']], statement);
    expect(model.rows('app.items')).toEqual([row(42, '1', 'kept', '1.00')]);
    expect(() => parseTsql(insertSql(T, stage))).not.toThrow();
    expect(insertSql(T, sameNames(COLUMNS))).not.toMatch(/IDENTITY_INSERT/);
  });

  it('raises a duplicate on another unique index as the server words it (the writes name the row from it)', async () => {
    const { session, driver } = target([row(1, '10', 'taken', null)]);
    await expect(driver.staged(session, sameNames(COLUMNS), [[2, '10', 'taken', null]], upsertSql(T, KEY, sameNames(COLUMNS), ['name']))).rejects.toMatchObject(
      {
        number: 2601,
        message: expect.stringMatching(/unique index 'items_name_unique'\. The duplicate key value is \(taken\)/),
      },
    );
  });

  it('truncates inside the transaction, as DELETE where a foreign key references the table (TRUNCATE refuses)', () => {
    const statement = truncateSql(T);
    expect(statement).toBe(
      "IF EXISTS (SELECT 1 FROM sys.foreign_keys WHERE referenced_object_id = OBJECT_ID(N'[app].[items]')) DELETE FROM [app].[items] ELSE TRUNCATE TABLE [app].[items]",
    );
    expect(parseTsql(statement)).toHaveLength(1);
  });
});

describe('one row of a table without a key: every column compared, NULL-safe and exact', () => {
  const columns = [ID, NAME, AMOUNT];
  const model = () => {
    const m = new TsqlModel();
    m.define('app.items', {
      columns: ['id', 'name', 'amount'],
      rows: [
        { id: 1, name: 'A', amount: '1.00' },
        { id: 1, name: 'a', amount: '1.00' },
        { id: 1, name: null, amount: '1.00' },
        { id: 1, name: null, amount: '1.00' },
      ],
    });
    return m;
  };
  const exec = (m: TsqlModel, p: { sql: string; params: readonly { value: unknown }[] }) =>
    m.run(p.sql, Object.fromEntries(p.params.map((x, i) => [`p${i + 1}`, x.value])));

  it('deletes one row equal to the old image, text by its exact characters (not the collation’s), NULL by IS NULL', () => {
    const m = model();
    const statement = deleteRowSql(T, columns, [1, 'a', '1.00']);
    expect(statement.sql).toBe(
      'DELETE TOP (1) FROM [app].[items] WHERE [id] = @p1 AND CAST(CAST([name] AS nvarchar(max)) AS varbinary(max)) = CAST(@p2 AS varbinary(max)) AND [amount] = CAST(@p3 AS decimal(12,2))',
    );
    expect(parseTsql(statement.sql)).toHaveLength(1);
    expect(exec(m, statement).rowsAffected).toEqual([1]);
    expect(m.rows('app.items').map((r) => r.name)).toEqual(['A', null, null]);
    const nulls = deleteRowSql(T, columns, [1, null, '1.00']);
    expect(nulls.sql).toContain('[name] IS NULL');
    expect(nulls.params).toHaveLength(2);
    expect(exec(m, nulls).rowsAffected).toEqual([1]); // one of two equal rows
    expect(m.rows('app.items').map((r) => r.name)).toEqual(['A', null]);
    expect(exec(m, deleteRowSql(T, columns, [1, 'b', '1.00'])).rowsAffected).toEqual([0]);
  });

  it('updates one row equal to the old image, leaving an identity column as it is', () => {
    const m = model();
    const statement = updateRowSql(T, [{ ...ID, identity: true }, NAME, AMOUNT], [1, 'b', '2.50'], [1, 'A', '1.00']);
    expect(statement.sql).toMatch(
      /^WITH k AS \(SELECT TOP \(1\) \* FROM \[app\]\.\[items\] WHERE .*\) UPDATE k SET \[name\] = @p1, \[amount\] = CAST\(@p2 AS decimal\(12,2\)\)$/,
    );
    expect(parseTsql(statement.sql)).toHaveLength(1);
    expect(exec(m, statement).rowsAffected).toEqual([1]);
    expect(m.rows('app.items')[0]).toEqual({ id: 1, name: 'b', amount: '2.50' });
  });

  it('inserts a row, with IDENTITY_INSERT when the table has an identity column', () => {
    const statement = insertRowSql(T, [{ ...ID, identity: true }, NAME, AMOUNT], [9, 'z', '3.00']);
    expect(statement.sql).toBe(
      'SET IDENTITY_INSERT [app].[items] ON; INSERT INTO [app].[items] ([id], [name], [amount]) VALUES (@p1, @p2, CAST(@p3 AS decimal(12,2))); SET IDENTITY_INSERT [app].[items] OFF',
    );
    expect(parseTsql(statement.sql)).toHaveLength(3);
    const m = model();
    m.define('app.items', { columns: ['id', 'name', 'amount'], identity: 'id' });
    exec(m, statement);
    expect(m.rows('app.items')).toEqual([{ id: 9, name: 'z', amount: '3.00' }]);
  });
});
