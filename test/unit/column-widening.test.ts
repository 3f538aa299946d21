import { describe, expect, it } from 'vitest';
import type { Column, TableSchema } from '../../src/core/schema.js';
import { columnDrift } from '../../src/sinks/column-drift.js';
import { mysqlHolds } from '../../src/sinks/mysql/mysql-widening.js';
import { postgresHolds } from '../../src/sinks/postgres/postgres-widening.js';

describe('mysqlHolds: a target column the operator widened on purpose is accepted', () => {
  it.each([
    ['float', 'float'],
    ['double', 'float'],
    ['bigint(20)', 'int(11)'],
    ['bigint', 'int'],
    ['int(11)', 'smallint(6)'],
    ['int', 'mediumint unsigned'],
    ['bigint unsigned', 'int(10) unsigned'],
    ['smallint', 'tinyint(1)'],
    ['varchar(50)', 'varchar(10)'],
    ['varchar(10)', 'char(10)'],
    ['char(12)', 'char(10)'],
    ['text', 'varchar(100)'],
    ['longtext', 'varchar(20000)'],
    ['longtext', 'json'],
    ['mediumtext', 'text'],
    ['decimal(14,4)', 'decimal(10,2)'],
    ['decimal(12,2)', 'decimal(10,2) unsigned'],
    ['datetime(6)', 'datetime'],
    ['time(6)', 'time(3)'],
    ['varbinary(32)', 'varbinary(16)'],
    ['varbinary(8)', 'binary(4)'],
    ['longblob', 'blob'],
  ])('%s holds %s', (actual, wanted) => {
    expect(mysqlHolds(actual, wanted)).toBe(true);
  });

  it.each([
    ['float', 'double'],
    ['int', 'bigint'],
    ['int unsigned', 'int'],
    ['int', 'int unsigned'],
    ['varchar(5)', 'varchar(10)'],
    ['char(20)', 'varchar(10)'],
    ['text', 'varchar(20000)'],
    ['varchar(10)', 'longtext'],
    ['decimal(11,4)', 'decimal(10,2)'],
    ['decimal(14,2)', 'decimal(10,4)'],
    ['decimal(10,2) unsigned', 'decimal(10,2)'],
    ['datetime(3)', 'datetime(6)'],
    ['timestamp(6)', 'datetime(6)'],
    ['binary(8)', 'binary(4)'],
    ['varchar(100)', 'varbinary(10)'],
    ["enum('a','b','c')", "enum('a','b')"],
    ['double', 'decimal(10,2)'],
  ])('%s does not hold %s', (actual, wanted) => {
    expect(mysqlHolds(actual, wanted)).toBe(false);
  });
});

describe('postgresHolds: a target column the operator widened on purpose is accepted', () => {
  it.each([
    ['integer', 'integer'],
    ['bigint', 'integer'],
    ['integer', 'smallint'],
    ['numeric', 'bigint'],
    ['numeric(20,0)', 'bigint'],
    ['double precision', 'real'],
    ['character varying(50)', 'character varying(10)'],
    ['text', 'character varying(10)'],
    ['character varying', 'text'],
    ['numeric(14,4)', 'numeric(10,2)'],
    ['numeric', 'numeric(10,2)'],
    ['timestamp(6) without time zone', 'timestamp(3) without time zone'],
    ['timestamp without time zone', 'timestamp(6) without time zone'],
    ['time(6) without time zone', 'time(0) without time zone'],
    ['timestamp with time zone', 'timestamp(3) with time zone'],
  ])('%s holds %s', (actual, wanted) => {
    expect(postgresHolds(actual, wanted)).toBe(true);
  });

  it.each([
    ['real', 'double precision'],
    ['integer', 'bigint'],
    ['numeric(12,2)', 'integer'],
    ['numeric(18,0)', 'bigint'],
    ['character varying(5)', 'character varying(10)'],
    ['character varying(10)', 'text'],
    ['character(10)', 'character varying(10)'],
    ['numeric(10,2)', 'numeric'],
    ['numeric(11,4)', 'numeric(10,2)'],
    ['timestamp(3) without time zone', 'timestamp(6) without time zone'],
    ['timestamp(6) with time zone', 'timestamp(6) without time zone'],
    ['text', 'jsonb'],
  ])('%s does not hold %s', (actual, wanted) => {
    expect(postgresHolds(actual, wanted)).toBe(false);
  });
});

describe('columnDrift with a widening comparator', () => {
  const col = (name: string, sourceType: string): Column => ({
    name,
    type: { kind: 'other' },
    sourceType,
    nullable: true,
    autoIncrement: false,
    backfill: { value: null },
  });
  const t: TableSchema = {
    engine: 'postgres',
    source: { schema: 'public', name: 'm' },
    target: { schema: 'm', name: 'm' },
    columns: [col('id', 'integer'), col('f4', 'real'), col('v', 'character varying(10)'), col('n', 'integer')],
    primaryKey: ['id'],
    indexes: [],
  };
  const wanted: Record<string, string> = { id: 'int', f4: 'float', v: 'varchar(10)', n: 'int' };

  it('accepts float → double, varchar(10) → varchar(50), int → bigint', () => {
    const actual = new Map([
      ['id', 'int(11)'],
      ['f4', 'double'],
      ['v', 'varchar(50)'],
      ['n', 'bigint(20)'],
    ]);
    expect(columnDrift(t, actual, ['id'], (c) => wanted[c.name]!, mysqlHolds)).toEqual({ missing: [], problems: [] });
  });

  it('still refuses a narrower column, naming it', () => {
    const actual = new Map([
      ['id', 'int(11)'],
      ['f4', 'float'],
      ['v', 'varchar(5)'],
      ['n', 'smallint(6)'],
    ]);
    expect(columnDrift(t, actual, ['id'], (c) => wanted[c.name]!, mysqlHolds).problems).toEqual([
      "column v is varchar(5) in the target, but the source's character varying(10) maps to varchar(10)",
      "column n is smallint(6) in the target, but the source's integer maps to int",
    ]);
  });
});
