import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, Engine, TableSchema } from '../../src/core/schema.js';
import { assemblePlan, planExitCode } from '../../src/plan/assemble.js';
import { severedForeignKey } from '../../src/core/not-carried.js';
import type { CatalogueTable, PlanCatalogue } from '../../src/core/plan-catalogue.js';
import type { TargetFacts } from '../../src/core/plan-target.js';
import { formatPlan, planProblems } from '../../src/plan/plan-report.js';
import { assessColumn } from '../../src/plan/verdict.js';

function col(name: string, type: ColumnType, sourceType: string, nullable = true): Column {
  return { name, type, sourceType, nullable, autoIncrement: false, backfill: { value: null } };
}

function table(engine: Engine, columns: Column[], primaryKey = [columns[0]!.name]): TableSchema {
  return { engine, source: { schema: 'shop', name: 'items' }, target: { schema: 'shop', name: 'items' }, columns, primaryKey, indexes: [] };
}

const verdictOf = (engine: Engine, target: Engine, c: Column, targetType: string, primaryKey?: string[]) =>
  assessColumn(table(engine, [col('id', { kind: 'int', bytes: 4, unsigned: false }, 'int'), c], primaryKey), c, target, targetType).verdict;

describe('column verdicts', () => {
  it('keeps same-engine columns exact, except what MySQL zero dates become', () => {
    expect(verdictOf('postgres', 'postgres', col('p', { kind: 'other' }, 'point'), 'point')).toBe('exact');
    expect(verdictOf('mysql', 'mysql', col('d', { kind: 'decimal', precision: 10, scale: 2 }, 'decimal(10,2)'), 'decimal(10,2)')).toBe('exact');
    expect(verdictOf('mysql', 'mysql', col('d', { kind: 'datetime', fsp: 0 }, 'datetime'), 'datetime')).toBe('documented');
  });

  it.each<[string, ColumnType, string, string]>([
    ['tinyint(1) as boolean', { kind: 'bool' }, 'boolean', 'documented'],
    ['bigint unsigned', { kind: 'int', bytes: 8, unsigned: true }, 'numeric(20,0)', 'documented'],
    ['int unsigned', { kind: 'int', bytes: 4, unsigned: true }, 'bigint', 'exact'],
    ['timestamp', { kind: 'timestamp', fsp: 0 }, 'timestamp(0) with time zone', 'documented'],
    ['time', { kind: 'time', fsp: 0 }, 'interval', 'documented'],
    ['enum', { kind: 'enum', values: ['a'] }, 'text', 'documented'],
    ['json', { kind: 'json' }, 'jsonb', 'documented'],
    ['varchar', { kind: 'string', maxLength: 20 }, 'character varying(20)', 'exact'],
  ])('MySQL → Postgres %s: %s', (_, type, targetType, verdict) => {
    expect(verdictOf('mysql', 'postgres', col('c', type, '(test)'), targetType)).toBe(verdict);
  });

  it.each<[string, ColumnType, string, string]>([
    ['unconstrained numeric', { kind: 'decimal', precision: null, scale: null }, 'decimal(65,30)', 'lossy'],
    ['real (NaN, Infinity)', { kind: 'float' }, 'float', 'lossy'],
    ['date (BC, infinity)', { kind: 'date' }, 'date', 'lossy'],
    ['interval', { kind: 'interval' }, 'varchar(100)', 'documented'],
    ['array', { kind: 'array', element: { kind: 'int', bytes: 4, unsigned: false } }, 'json', 'documented'],
    ['other', { kind: 'other' }, 'longtext', 'documented'],
    ['bit(64)', { kind: 'bit', length: 64 }, 'bit(64)', 'exact'],
    ['bit(80)', { kind: 'bit', length: 80 }, 'bit(80)', 'unsupported'],
    ['enum', { kind: 'enum', values: ['a'] }, "enum('a')", 'exact'],
  ])('Postgres → MySQL %s: %s', (_, type, targetType, verdict) => {
    expect(verdictOf('postgres', 'mysql', col('c', type, '(test)'), targetType)).toBe(verdict);
  });

  it("calls a text key narrowed to fit MySQL's index lossy, and a short one exact", () => {
    const key = col('k', { kind: 'string', maxLength: null }, 'text', false);
    expect(verdictOf('postgres', 'mysql', key, 'varchar(752)', ['k'])).toBe('lossy');
    expect(verdictOf('postgres', 'mysql', col('k', { kind: 'string', maxLength: 40 }, 'character varying(40)', false), 'varchar(40)', ['k'])).toBe('exact');
  });
});

const postgresTarget: TargetFacts = { engine: 'postgres', existingTables: new Set(), missingTypes: new Set(), missingEnums: new Set() };

function catalogue(tables: CatalogueTable[], notCarried: PlanCatalogue['notCarried'] = []): PlanCatalogue {
  return { version: '10.11', tables, notCarried };
}

const id = col('id', { kind: 'int', bytes: 4, unsigned: false }, 'int(11)', false);
const orders: CatalogueTable = {
  source: { schema: 'shop', name: 'orders' },
  target: { schema: 'shop', name: 'orders' },
  refused: false,
  schema: { ...table('mysql', [id]), source: { schema: 'shop', name: 'orders' }, target: { schema: 'shop', name: 'orders' } },
  columns: [{ name: 'id', sourceType: 'int(11)', column: id }],
};
const places: CatalogueTable = {
  source: { schema: 'shop', name: 'places' },
  target: { schema: 'shop', name: 'places' },
  refused: true,
  schema: { ...table('mysql', [id]), source: { schema: 'shop', name: 'places' }, target: { schema: 'shop', name: 'places' } },
  columns: [
    { name: 'id', sourceType: 'int(11)', column: id },
    { name: 'location', sourceType: 'point', unsupported: 'a column has type point, which ferry cannot replicate' },
  ],
};
const trigger = {
  kind: 'trigger' as const,
  name: 'shop.orders_audit',
  table: 'shop.orders',
  detail: 'AFTER INSERT trigger',
  action: 'create it on the target at the cutover',
};
const endpoints = {
  source: { engine: 'mysql' as const, endpoint: 'root@db1:3306', version: '10.11' },
  target: { engine: 'postgres' as const, endpoint: 'ferry@db2:5432/app', version: '15' },
};

describe('the plan', () => {
  it('gives a supported table its DDL from the dialect, the schema once, and nothing unsupported: exit 0', () => {
    const second = {
      ...orders,
      source: { schema: 'shop', name: 'lines' },
      target: { schema: 'shop', name: 'lines' },
      schema: { ...orders.schema, target: { schema: 'shop', name: 'lines' } },
    };
    const r = assemblePlan({ pipeline: 'p', ...endpoints, catalogue: catalogue([orders, second], [trigger]), facts: postgresTarget });
    expect(r.tables[0]!.ddl[0]).toBe('CREATE SCHEMA IF NOT EXISTS "shop"');
    expect(r.tables[0]!.ddl[1]).toMatch(/^CREATE TABLE IF NOT EXISTS "shop"\."orders" \(\n {2}"id" integer NOT NULL,\n {2}PRIMARY KEY \("id"\)/);
    expect(r.tables[1]!.ddl.some((s) => s.startsWith('CREATE SCHEMA'))).toBe(false);
    expect(r.summary).toEqual({ tables: 2, columns: { exact: 2, documented: 0, lossy: 0, unsupported: 0 }, notCarried: 1, problems: 0 });
    expect(planExitCode(r)).toBe(0);
  });

  it('names an unsupported column with its fix, runs no DDL for its table, and exits 1', () => {
    const r = assemblePlan({ pipeline: 'p', ...endpoints, catalogue: catalogue([places]), facts: postgresTarget });
    expect(r.tables[0]!.ddl).toEqual([]);
    expect(r.tables[0]!.columns[1]).toMatchObject({ name: 'location', targetType: null, verdict: 'unsupported' });
    expect(r.tables[0]!.columns[1]!.note).toMatch(/point.*exclude the table \(tables\.exclude\) or change the column type/);
    expect(planExitCode(r)).toBe(1);
    const text = formatPlan(r);
    expect(text).toMatch(/table shop\.places → shop\.places: REFUSED/);
    expect(text).toMatch(/location\s+point\s+—\s+unsupported/);
  });

  it("into SQL Server, through the registry: its dialect's DDL, its name in the header, and tables one case-insensitive database cannot hold apart", () => {
    const upper = {
      ...orders,
      source: { schema: 'shop', name: 'Orders' },
      target: { schema: 'shop', name: 'Orders' },
      schema: { ...orders.schema, source: { schema: 'shop', name: 'Orders' }, target: { schema: 'shop', name: 'Orders' } },
    };
    const facts: TargetFacts = { ...postgresTarget, engine: 'mssql', collation: 'SQL_Latin1_General_CP1_CI_AS', existingTables: new Set(['shop.orders']) };
    const target = { engine: 'mssql' as const, endpoint: 'ferry@db3:1433', version: '16.0.4135.4 (Developer Edition (64-bit))' };
    const r = assemblePlan({ pipeline: 'p', source: endpoints.source, target, catalogue: catalogue([orders, upper]), facts });
    expect(r.tables[0]!.ddl[0]).toMatch(/\[shop\]/);
    expect(r.tables[0]!.ddl.join('\n')).toMatch(/CREATE TABLE \[shop\]\.\[orders\]/);
    expect(r.tables[0]!.targetExists).toBe(true);
    expect(r.notCarried.filter((n) => n.kind === 'target name').map((n) => n.name)).toEqual(['shop.orders, shop.Orders']);
    expect(planExitCode(r)).toBe(1);
    expect(formatPlan(r)).toContain('target: SQL Server 16.0.4135.4 (Developer Edition (64-bit)) at ferry@db3:1433');
    expect(
      assemblePlan({
        pipeline: 'p',
        source: endpoints.source,
        target,
        catalogue: catalogue([orders, upper]),
        facts: { ...facts, collation: 'Latin1_General_BIN2' },
      }).summary.problems,
    ).toBe(0);
  });

  it('calls a Postgres → Postgres column whose type the target lacks unsupported', () => {
    const pair = col('pr', { kind: 'other' }, 'public.pair');
    const t: CatalogueTable = {
      ...orders,
      schema: { ...table('postgres', [id, pair]) },
      columns: [
        { name: 'id', sourceType: 'integer', column: id },
        { name: 'pr', sourceType: 'public.pair', column: pair },
      ],
    };
    const r = assemblePlan({ pipeline: 'p', ...endpoints, catalogue: catalogue([t]), facts: { ...postgresTarget, missingTypes: new Set(['public.pair']) } });
    expect(r.tables[0]!.columns[1]).toMatchObject({ verdict: 'unsupported', targetType: 'public.pair' });
    expect(planProblems(r)).toEqual([
      expect.objectContaining({ check: 'column types', message: expect.stringMatching(/column pr \(public\.pair\): the target has no type public\.pair/) }),
    ]);
  });

  it('prints what is not carried with its action; check makes it a warning, or a problem for a severed cascading key', () => {
    const severed = severedForeignKey({
      name: 'shop.orders.fk_customer',
      child: 'shop.orders',
      parent: 'shop.customers',
      childSelected: true,
      cascading: ['ON DELETE CASCADE'],
      logsCascades: false,
    });
    const r = assemblePlan({ pipeline: 'p', ...endpoints, catalogue: catalogue([orders], [trigger, severed]), facts: postgresTarget });
    const text = formatPlan(r);
    expect(text).toContain('trigger shop.orders_audit');
    expect(text).toContain('action: create it on the target at the cutover');
    expect(text).toMatch(/PROBLEM foreign key shop\.orders\.fk_customer/);
    expect(planExitCode(r)).toBe(1);
    expect(planProblems(r)).toEqual([
      { check: 'not carried: trigger', message: 'shop.orders_audit: AFTER INSERT trigger', hint: 'create it on the target at the cutover', warning: true },
      expect.objectContaining({ check: 'foreign key', hint: 'include shop.customers (tables.include), or exclude shop.orders (tables.exclude)' }),
    ]);
    expect(planProblems(r)[1]!.warning).toBeUndefined();
  });

  it('leaves a column type describe refuses to the source check, which names it already', () => {
    const r = assemblePlan({ pipeline: 'p', ...endpoints, catalogue: catalogue([places]), facts: postgresTarget });
    expect(planProblems(r)).toEqual([]);
  });

  it('warns of a Postgres key whose parent is not replicated, as Postgres logs the cascaded rows', () => {
    const k = severedForeignKey({ name: 'a.b.c', child: 'a.b', parent: 'a.p', childSelected: true, cascading: ['ON DELETE CASCADE'], logsCascades: true });
    expect(k.problem).toBeUndefined();
  });
});
