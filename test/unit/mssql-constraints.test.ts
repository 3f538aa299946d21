import { describe, expect, it } from 'vitest';
import type { CheckExpr } from '../../src/core/check-expression.js';
import type { CheckConstraint, Column, ForeignKey, ReferentialAction, TableSchema } from '../../src/core/schema.js';
import { carriedSchema } from '../../src/core/schema-fidelity.js';
import { constraintName } from '../../src/engines/mssql/quoting.js';
import { printTsqlCheck, trailingSpaceProblem } from '../../src/sinks/mssql/mssql-check.js';
import {
  addConstraintSql,
  cascadeRefused,
  checkSql,
  foreignKeySql,
  mssqlTranslations,
  setNotNullSql,
  uniqueIndexSql,
} from '../../src/sinks/mssql/mssql-constraints.js';
import { createTableSql, defaultName } from '../../src/sinks/mssql/mssql-dialect.js';
import { col, customers, events, int, orders } from '../helpers/mssql-ddl.js';
import { parseTsql } from '../helpers/tsql.js';

const sqlOf = (tr: { sql: string } | { reason: string }): string => {
  if (!('sql' in tr)) throw new Error(`not carried: ${tr.reason}`);
  return tr.sql;
};

describe('unique indexes at the cutover', () => {
  it('filters a unique index over nullable columns to the rows without NULL, as MySQL and Postgres count NULLs', () => {
    const sql = sqlOf(uniqueIndexSql(orders, orders.indexes[1]!));
    expect(sql).toBe('CREATE UNIQUE INDEX [orders_ref] ON [shop].[orders] ([ref]) WHERE [ref] IS NOT NULL');
    const [ast] = parseTsql(sql) as { index_type: string; index_columns: { column: string }[]; where: unknown }[];
    expect(ast!.index_type).toBe('unique');
    expect(ast!.index_columns.map((c) => c.column)).toEqual(['ref']);
  });

  it('does not filter one over NOT NULL columns', () => {
    const sql = sqlOf(uniqueIndexSql(customers, customers.indexes[0]!));
    expect(sql).toBe('CREATE UNIQUE INDEX [customers_email] ON [shop].[customers] ([email])');
    expect((parseTsql(sql) as { where: unknown }[])[0]!.where).toBeNull();
  });

  it('says where SQL Server would see duplicates the source does not: text differing only in trailing spaces, from Postgres or a NO PAD collation', () => {
    const code = { name: 'events_code_key', columns: ['code'], unique: true };
    const pg = carriedSchema({ ...events, indexes: [code] }, mssqlTranslations([events])).find((i) => i.kind === 'unique');
    expect(pg).toMatchObject({ when: 'finalize', note: expect.stringMatching(/trailing spaces.*\(code\).*refuses them as duplicates/) });
    const nopad = { ...customers, columns: customers.columns.map((c) => (c.name === 'email' ? { ...c, collation: 'utf8mb4_0900_ai_ci' } : c)) };
    const padded = (t: TableSchema) => carriedSchema(t, mssqlTranslations([t])).find((i) => i.kind === 'unique')?.note;
    expect(padded(nopad)).toMatch(/trailing spaces/);
    expect(padded(customers)).toBe('non-unique until the cutover: set-based apply passes through transient duplicates');
  });

  it('does not carry one SQL Server cannot hold (an (max) column)', () => {
    expect(uniqueIndexSql(customers, { name: 'bio', columns: ['bio'], unique: true })).toEqual({
      name: 'customers_bio',
      reason: expect.stringMatching(/cannot index bio \(nvarchar\(max\)\)/),
    });
  });
});

describe('foreign keys', () => {
  const tables = [customers, orders];
  const addFk = (t: TableSchema, fk: ForeignKey, all: readonly TableSchema[]) => addConstraintSql(t, 'foreign key', fk.name, sqlOf(foreignKeySql(t, fk, all)));

  it("keeps a MySQL key's ON DELETE CASCADE, and spells RESTRICT as NO ACTION (SQL Server has no RESTRICT)", () => {
    const sql = addFk(orders, orders.foreignKeys![0]!, tables);
    expect(sql).toBe(
      'ALTER TABLE [shop].[orders] ADD CONSTRAINT [orders_orders_customer_fk_2114980f52ba] FOREIGN KEY ([customer_id]) REFERENCES [shop].[customers] ([id]) ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    expect(parseTsql(sql)).toEqual([{ gap: expect.stringMatching(/REFERENCES/) }]);
  });

  it.each<[ReferentialAction, string]>([
    ['set null', 'SET NULL'],
    ['set default', 'SET DEFAULT'],
    ['no action', 'NO ACTION'],
  ])('carries ON DELETE %s', (action, sql) => {
    const fk = { ...orders.foreignKeys![0]!, onDelete: action };
    expect(sqlOf(foreignKeySql(orders, fk, tables))).toMatch(new RegExp(`ON DELETE ${sql} ON UPDATE NO ACTION$`));
  });

  it('does not carry a key to a table the pipeline does not replicate, to columns no unique key covers, or between types that differ', () => {
    const fk = orders.foreignKeys![0]!;
    expect(foreignKeySql(orders, fk, [orders])).toEqual({ reason: expect.stringMatching(/does not replicate/) });
    expect(foreignKeySql(orders, { ...fk, referencedColumns: ['bio'] }, tables)).toEqual({
      reason: expect.stringMatching(/neither its primary key nor a unique index/),
    });
    const narrow = { ...orders, columns: orders.columns.map((c) => (c.name === 'customer_id' ? { ...c, type: int(4) } : c)) };
    expect(foreignKeySql(narrow, fk, [customers, narrow])).toEqual({ reason: expect.stringMatching(/customer_id is int but id is bigint/) });
  });

  it('does not carry a key to a unique index SQL Server filters (over nullable columns)', () => {
    const fk: ForeignKey = { ...orders.foreignKeys![0]!, name: 'by_ref', columns: ['customer_ref'], references: orders.source, referencedColumns: ['ref'] };
    const child = {
      ...customers,
      columns: [...customers.columns, col('customer_ref', { kind: 'string', maxLength: 64 }, 'varchar(64)', { nullable: true })],
      foreignKeys: [fk],
    };
    expect(foreignKeySql(child, fk, [child, orders])).toEqual({ reason: expect.stringMatching(/filtered/) });
  });

  describe('cascade paths SQL Server refuses (error 1785)', () => {
    const table = (name: string, fks: [string, string, ReferentialAction][]): TableSchema => ({
      ...customers,
      source: { schema: 'shop', name },
      target: { schema: 'shop', name },
      columns: [col('id', int(8), 'bigint'), ...fks.map(([column]) => col(column, int(8), 'bigint', { nullable: true }))],
      primaryKey: ['id'],
      indexes: [],
      foreignKeys: fks.map(([column, parent, onDelete]) => ({
        name: `${name}_${column}`,
        columns: [column],
        references: { schema: 'shop', name: parent },
        referencedColumns: ['id'],
        onDelete,
        onUpdate: 'no action',
      })),
    });

    it('keeps the first path to a table and makes a second one NO ACTION, saying so', () => {
      const a = table('a', []);
      const b = table('b', [['a_id', 'a', 'cascade']]);
      const c = table('c', [
        ['a_id', 'a', 'cascade'],
        ['b_id', 'b', 'set null'],
      ]);
      const all = [a, b, c];
      expect([...cascadeRefused(all)].map((fk) => fk.name)).toEqual(['c_b_id']);
      const kept = foreignKeySql(c, c.foreignKeys![0]!, all);
      expect(kept).toEqual({ sql: expect.stringMatching(/ON DELETE CASCADE ON UPDATE NO ACTION$/) });
      const refused = foreignKeySql(c, c.foreignKeys![1]!, all);
      expect(refused).toEqual({
        sql: expect.stringMatching(/ON DELETE NO ACTION ON UPDATE NO ACTION$/),
        note: expect.stringMatching(/^ON DELETE SET NULL become NO ACTION/),
      });
      const item = carriedSchema(c, mssqlTranslations(all)).find((i) => i.name === 'c_b_id');
      expect(item).toMatchObject({ kind: 'foreign-key', when: 'finalize', note: expect.stringMatching(/error 1785/) });
    });

    it('refuses a cascade onto its own table and around a cycle, and lets plain keys be', () => {
      const self = table('node', [['parent_id', 'node', 'cascade']]);
      expect([...cascadeRefused([self])].map((fk) => fk.name)).toEqual(['node_parent_id']);
      const x = table('x', [['y_id', 'y', 'cascade']]);
      const y = table('y', [['x_id', 'x', 'cascade']]);
      expect([...cascadeRefused([x, y])].map((fk) => fk.name)).toEqual(['y_x_id']);
      const plain = table('z', [
        ['a_id', 'x', 'no action'],
        ['b_id', 'x', 'restrict'],
      ]);
      expect(cascadeRefused([x, plain]).size).toBe(0);
    });
  });
});

describe('checks', () => {
  const column = (name: string): CheckExpr => ({ kind: 'column', name });
  const str = (value: string): CheckExpr => ({ kind: 'string', value });
  const t: TableSchema = {
    ...events,
    columns: [...events.columns, col('state', { kind: 'string', maxLength: 10 }, 'text'), col('on_date', { kind: 'date' }, 'date')],
  };

  it('prints the portable subset in T-SQL, booleans as bit comparisons', () => {
    const expr: CheckExpr = {
      kind: 'and',
      left: { kind: 'or', left: column('active'), right: { kind: 'compare', op: '=', left: column('active'), right: { kind: 'boolean', value: false } } },
      right: {
        kind: 'not',
        arg: { kind: 'between', arg: column('amount'), low: { kind: 'number', text: '-1.5' }, high: { kind: 'number', text: '1e3' }, negated: false },
      },
    };
    const sql = printTsqlCheck(expr);
    expect(sql).toBe('((([active] = 1) OR ([active] = 0)) AND (NOT ([amount] BETWEEN -1.5 AND 1e3)))');
    expect(() => parseTsql(`ALTER TABLE [s].[t] ADD CONSTRAINT [ck] CHECK ${sql}`)).not.toThrow();
    expect(printTsqlCheck({ kind: 'boolean', value: true })).toBe('(1 = 1)');
  });

  it('carries a check through its portable form, named for its table', () => {
    const sql = addConstraintSql(events, 'check', 'events_amount_check', sqlOf(checkSql(events, events.checks![0]!)));
    expect(sql).toBe('ALTER TABLE [public].[events] ADD CONSTRAINT [events_events_amount_check_1d4d7d4a9b47] CHECK ([amount] >= 0)');
    const [ast] = parseTsql(sql) as { expr: { create_definitions: { constraint_type: string; constraint: string } }[] }[];
    expect(ast!.expr[0]!.create_definitions).toMatchObject({ constraint_type: 'check', constraint: 'events_events_amount_check_1d4d7d4a9b47' });
  });

  it('carries text only through = and IN outside a negation: SQL Server ignores trailing spaces, which could refuse what the source accepts', () => {
    const inList: CheckExpr = { kind: 'in', arg: column('state'), list: [str('a'), str('b')], negated: false };
    expect(trailingSpaceProblem(inList, t.columns)).toBeNull();
    expect(trailingSpaceProblem({ ...inList, negated: true }, t.columns)).toMatch(/trailing spaces/);
    expect(trailingSpaceProblem({ kind: 'not', arg: inList }, t.columns)).toMatch(/trailing spaces/);
    expect(trailingSpaceProblem({ kind: 'compare', op: '<>', left: column('state'), right: str('x') }, t.columns)).toMatch(/trailing spaces/);
    // A date against a date literal is not text.
    expect(trailingSpaceProblem({ kind: 'compare', op: '<>', left: column('on_date'), right: str('2020-01-01') }, t.columns)).toBeNull();
    expect(checkSql(t, { name: 'ck', expression: "state <> 'x'", portable: { kind: 'compare', op: '<>', left: column('state'), right: str('x') } })).toEqual({
      reason: expect.stringMatching(/trailing spaces/),
    });
  });

  it("does not carry an unportable check, and takes MariaDB's json_valid as the column's own ISJSON check", () => {
    expect(checkSql(orders, { name: 'f', expression: 'f(x)', unportable: 'the function f()' })).toEqual({
      reason: expect.stringMatching(/the function f\(\)/),
    });
    const jsonValid = { name: 'attrs', expression: 'json_valid(`attrs`)' };
    const items = carriedSchema({ ...orders, checks: [jsonValid] }, mssqlTranslations([customers, orders]));
    expect(items.find((i) => i.kind === 'check')).toMatchObject({ when: 'create', note: expect.stringMatching(/ISJSON/) });
  });
});

describe('what the plan lists for a MySQL table', () => {
  it('defaults at create, zero-date NOT NULLs, the unique key, the foreign key and the check at the cutover', () => {
    const items = carriedSchema(orders, mssqlTranslations([customers, orders]));
    const byName = (kind: string, name: string) => items.find((i) => i.kind === kind && i.name === name);
    expect(byName('default', 'status')).toMatchObject({ when: 'create', sql: "N'new'" });
    expect(byName('default', 'created_at')).toMatchObject({ when: 'create', sql: 'SYSUTCDATETIME()' });
    expect(byName('not-null', 'created_at')).toMatchObject({ when: 'finalize' });
    expect(byName('not-null', 'status')).toMatchObject({ when: 'create' });
    expect(byName('unique', 'ref')).toMatchObject({ when: 'finalize', sql: expect.stringMatching(/WHERE \[ref\] IS NOT NULL$/) });
    expect(byName('foreign-key', 'orders_customer_fk')).toMatchObject({ when: 'finalize', sql: expect.stringMatching(/^FOREIGN KEY/) });
    expect(byName('check', 'total_positive')).toMatchObject({ when: 'finalize', sql: 'CHECK ([total] >= 0)' });
  });
});

describe('the deferred NOT NULL', () => {
  it('restates the type, and a text column its collation, which ALTER COLUMN would otherwise reset', () => {
    const created = orders.columns.find((c) => c.name === 'created_at')!;
    expect(setNotNullSql(orders, created)).toBe('ALTER TABLE [shop].[orders] ALTER COLUMN [created_at] datetime2(6) NOT NULL');
    const ref = orders.columns.find((c) => c.name === 'ref')!;
    const sql = setNotNullSql(orders, ref);
    expect(sql).toBe('ALTER TABLE [shop].[orders] ALTER COLUMN [ref] nvarchar(128) COLLATE Latin1_General_100_BIN2 NOT NULL');
    expect(parseTsql(sql)).toHaveLength(1);
  });
});

describe('constraint names, which SQL Server keeps one of per schema', () => {
  const table = (name: string, columns: Column[], checks: CheckConstraint[] = []): TableSchema => ({
    engine: 'mysql',
    source: { schema: 'app', name },
    target: { schema: 'app', name },
    columns: [col('id', int(4), 'int(11)'), ...columns],
    primaryKey: ['id'],
    indexes: [],
    checks,
  });
  const defaulted = (name: string) => col(name, int(4), 'int(11)', { default: { kind: 'literal', value: 0, text: '0' } });
  // Read as <table>_<name>, these pairs are one name: user.status_code's default and user_status.code's
  // (user_status_code_df), user's check status_pkey and user_status's primary key (user_status_pkey).
  const positive: CheckExpr = { kind: 'compare', op: '>=', left: { kind: 'column', name: 'status_code' }, right: { kind: 'number', text: '0' } };
  const user = table('user', [defaulted('status_code')], [{ name: 'status_pkey', expression: '(`status_code` >= 0)', portable: positive }]);
  const userStatus = table('user_status', [defaulted('code')]);
  /** The constraints `sqls` name, each statement parsed as SQL Server's. */
  const named = (sqls: readonly string[]) =>
    sqls.flatMap((sql) => {
      parseTsql(sql);
      return [...sql.matchAll(/CONSTRAINT \[((?:[^\]]|\]\])+)\]/g)].map((m) => m[1]!);
    });
  const created = () =>
    named([createTableSql(user), createTableSql(userStatus), addConstraintSql(user, 'check', 'status_pkey', sqlOf(checkSql(user, user.checks![0]!)))]);

  it("gives two tables' constraints that read alike names of their own, the readable part first", () => {
    const names = created();
    expect(new Set(names).size).toBe(5);
    expect(names).toEqual([
      expect.stringMatching(/^user_status_code_df_[0-9a-f]{12}$/),
      expect.stringMatching(/^user_pkey_[0-9a-f]{12}$/),
      expect.stringMatching(/^user_status_code_df_[0-9a-f]{12}$/),
      expect.stringMatching(/^user_status_pkey_[0-9a-f]{12}$/),
      expect.stringMatching(/^user_status_pkey_[0-9a-f]{12}$/),
    ]);
  });

  it('gives the same table and column the same name every time, so the cutover finds what the snapshot created', () => {
    expect(created()).toEqual(created());
    expect(created()[0]).toBe(defaultName(user, user.columns[1]!));
    expect(constraintName('user', 'default', 'status_code')).toBe('user_status_code_df_5cd8e82ca9a8');
  });

  it('keeps the hash whole within 128 UTF-16 units, cutting the readable part at a character boundary', () => {
    const long = 'x'.repeat(120);
    const [a, b] = [constraintName(`${long}a`, 'check', 'c'), constraintName(`${long}b`, 'check', 'c')];
    expect(a).toHaveLength(128);
    expect(a).toMatch(/^x{115}_[0-9a-f]{12}$/);
    expect(b).not.toBe(a);
    const emoji = constraintName('\u{1F600}'.repeat(60), 'foreign key', 'k');
    expect(emoji).toMatch(/^(\u{1F600}){57}_[0-9a-f]{12}$/u);
  });
});
