import { describe, expect, it } from 'vitest';
import { checkColumns, printCheck, type CheckExpr } from '../../src/core/check-expression.js';
import type { Column, ColumnType } from '../../src/core/schema.js';
import { mysqlCheck } from '../../src/sources/mysql/mysql-checks.js';
import { pgCheck } from '../../src/sources/postgres/pg-checks.js';

function col(name: string, type: ColumnType, collation?: string): Column {
  return { name, type, sourceType: '(test)', nullable: true, autoIncrement: false, backfill: { value: null }, ...(collation ? { collation } : {}) };
}

const columns = [
  col('n', { kind: 'decimal', precision: 10, scale: 2 }),
  col('x', { kind: 'int', bytes: 4, unsigned: false }),
  col('y', { kind: 'int', bytes: 4, unsigned: false }),
  col('f', { kind: 'double' }),
  col('s', { kind: 'string', maxLength: 5 }, 'utf8mb4_nopad_bin'),
  col('ci', { kind: 'string', maxLength: 5 }, 'utf8mb4_general_ci'),
  col('d', { kind: 'date' }),
  col('b', { kind: 'bool' }),
  col('j', { kind: 'json' }),
  col('My Col', { kind: 'int', bytes: 4, unsigned: false }),
];

const pg = (expression: string) => pgCheck('c', expression, columns);
const my = (expression: string) => mysqlCheck('c', expression, columns);
const asMysql = (e: CheckExpr) =>
  printCheck(
    e,
    (n) => `\`${n}\``,
    (s) => `'${s.replace(/'/g, "''")}'`,
  );
const asPg = (e: CheckExpr) =>
  printCheck(
    e,
    (n) => `"${n}"`,
    (s) => `'${s.replace(/'/g, "''")}'`,
  );

describe('checks from Postgres (pg_get_constraintdef)', () => {
  it.each<[string, string]>([
    ['(n > (0)::numeric)', '(`n` > 0)'],
    ["((s)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))", "(`s` IN ('a', 'b'))"],
    ["((x >= '-5'::integer) AND (x <= 5))", '((`x` >= -5) AND (`x` <= 5))'],
    ["(d > '2020-01-01'::date)", "(`d` > '2020-01-01')"],
    ['b', '`b`'],
    ['(y <> ALL (ARRAY[1, 2]))', '(`y` NOT IN (1, 2))'],
    ['((x IS NOT NULL) OR (y IS NULL))', '((`x` IS NOT NULL) OR (`y` IS NULL))'],
    ['(NOT (x = y))', '(NOT (`x` = `y`))'],
    ['("My Col" > 1.5e3)', '(`My Col` > 1.5e3)'],
    ['(j IS NOT NULL)', '(`j` IS NOT NULL)'],
    ["((s)::text <> 'it''s'::text)", "(`s` <> 'it''s')"],
    ['(b = true)', '(`b` = TRUE)'],
    ['(f > (0.5)::double precision)', '(`f` > 0.5)'],
  ])('%s → %s', (expression, mysql) => {
    const check = pg(expression);
    expect(check.unportable).toBeUndefined();
    expect(asMysql(check.portable!)).toBe(mysql);
  });

  it.each<[string, RegExp]>([
    ['(char_length(s) > 0)', /function char_length/],
    ['((x + y) > 0)', /operator \+/],
    ["((s)::text > 'a'::text)", /collation/],
    ['(f > (0.5)::real)', /cast of 0.5 to real/],
    ["((s)::text ~~ 'a%'::text)", /~/],
    ['(n > ANY (ARRAY[1, 2]))', /ANY/],
    ['(j > 1)', /column j/],
    ['(x > public.limit_of(y))', /character \./],
    ['(b > false)', /booleans have no order/],
    ["(x = 'a'::text)", /column x compared with 'a'/],
    ['(z > 0)', /not a column/],
  ])('%s is not carried across engines: %s', (expression, reason) => {
    const check = pg(expression);
    expect(check.portable).toBeUndefined();
    expect(check.unportable).toMatch(reason);
  });
});

describe('checks from MySQL/MariaDB (CHECK_CLAUSE)', () => {
  it.each<[string, string]>([
    ["`s` in ('a','b')", `("s" IN ('a', 'b'))`],
    ['`x` between 1 and 5 and `x` <> 3', '(("x" BETWEEN 1 AND 5) AND ("x" <> 3))'],
    ['`n` >= 0', '("n" >= 0)'],
    ["(`d` >= _utf8mb4'2000-01-01')", `("d" >= '2000-01-01')`],
    ['`x` not between -1 and 1', '("x" NOT BETWEEN -1 AND 1)'],
    ['`x` not in (1,2) or `x` is null', '(("x" NOT IN (1, 2)) OR ("x" IS NULL))'],
    ['!(`x` = 1)', '(NOT ("x" = 1))'],
  ])('%s → %s', (expression, postgres) => {
    const check = my(expression);
    expect(check.unportable).toBeUndefined();
    expect(asPg(check.portable!)).toBe(postgres);
  });

  it.each<[string, RegExp]>([
    ['json_valid(`j`)', /function json_valid/],
    ["`ci` = 'a'", /collation utf8mb4_general_ci, not byte for byte/],
    ["`s` like 'a%'", /LIKE/],
    ["`s` = 'a\\'b'", /backslash/],
    ['`x` <=> 1', /operator <=>/],
    ["`d` > '0000-00-00'", /compared with '0000-00-00'/],
    ['`b` in (0,1)', /column b compared with 0/],
    ['`x` is not null or 1', /1 used as a condition/],
  ])('%s is not carried across engines: %s', (expression, reason) => {
    const check = my(expression);
    expect(check.portable).toBeUndefined();
    expect(check.unportable).toMatch(reason);
  });
});

describe('printCheck', () => {
  it('parenthesizes every operation, as engines rank NOT and comparisons differently', () => {
    const e = my('not `x` = 1').portable!;
    expect(asPg(e)).toBe('(NOT ("x" = 1))');
  });
  it('lists the columns an expression reads', () => {
    expect(checkColumns(my('`x` between `y` and 5 or `n` is null').portable!)).toEqual(['x', 'y', 'n']);
  });
});
