import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import { FerryError } from '../../src/core/errors.js';
import { rowValues, toMysql } from '../../src/sinks/mysql/mysql-dialect.js';
import { assertFiniteRows, isNonFinite } from '../../src/sinks/mysql/mysql-non-finite.js';
import { keyText } from '../../src/sinks/target-divergence.js';

function col(name: string, type: ColumnType): Column {
  return { name, type, sourceType: '(test)', nullable: true, autoIncrement: false, backfill: { value: null } };
}

const table: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'measures' },
  target: { schema: 'shop', name: 'measures' },
  columns: [
    col('id', { kind: 'int', bytes: 4, unsigned: false }),
    col('f4', { kind: 'float' }),
    col('f8', { kind: 'double' }),
    col('n', { kind: 'decimal', precision: null, scale: null }),
  ],
  primaryKey: ['id'],
  indexes: [],
};

function thrown(f: () => unknown): FerryError {
  try {
    f();
  } catch (err) {
    return err as FerryError;
  }
  throw new Error('expected an error');
}

describe('float extremes for MySQL', () => {
  it('writes a real as the float it is: FLT_MAX in the range MySQL accepts, denormals exact', () => {
    // Number('3.4028235e+38') (a real's shortest text) lies beyond FLT_MAX as a double; MySQL refuses it.
    expect(toMysql({ kind: 'float' }, 3.4028235e38, table.target, 'f4')).toBe(3.4028234663852886e38);
    expect(toMysql({ kind: 'float' }, -3.4028235e38, table.target, 'f4')).toBe(-3.4028234663852886e38);
    expect(toMysql({ kind: 'float' }, 1e-45, table.target, 'f4')).toBe(1.401298464324817e-45);
    expect(toMysql({ kind: 'float' }, 1.1, table.target, 'f4')).toBe(Math.fround(1.1));
  });

  it('writes doubles as they are', () => {
    expect(toMysql({ kind: 'double' }, 1.7976931348623157e308, table.target, 'f8')).toBe(1.7976931348623157e308);
    expect(toMysql({ kind: 'double' }, 5e-324, table.target, 'f8')).toBe(5e-324);
  });
});

describe('NaN and ±Infinity: refused, naming the table, the column and the row', () => {
  it.each<[ColumnType, unknown]>([
    [{ kind: 'float' }, Number.NaN],
    [{ kind: 'double' }, Number.POSITIVE_INFINITY],
    [{ kind: 'double' }, Number.NEGATIVE_INFINITY],
    [{ kind: 'decimal', precision: null, scale: null }, 'NaN'],
    [{ kind: 'decimal', precision: null, scale: null }, 'Infinity'],
    [{ kind: 'decimal', precision: null, scale: null }, '-Infinity'],
  ])('%o %s is non-finite', (type, v) => {
    expect(isNonFinite(type, v as never)).toBe(true);
  });

  it.each<[ColumnType, unknown]>([
    [{ kind: 'float' }, 1],
    [{ kind: 'double' }, -0],
    [{ kind: 'decimal', precision: null, scale: null }, '-12.5'],
    [{ kind: 'string', maxLength: null }, 'NaN'],
  ])('%o %s is finite (or not a number column)', (type, v) => {
    expect(isNonFinite(type, v as never)).toBe(false);
  });

  it('a streamed row: the source table, the column, the key, and the fix', () => {
    const e = thrown(() => rowValues(table, table.columns, { id: 7, f4: 1, f8: 2, n: 'NaN' }));
    expect(e).toBeInstanceOf(FerryError);
    expect(e.kind).toBe('fatal');
    expect(e.message).toBe(
      'table public.measures, column n, row id = 7: NaN cannot be stored in MySQL (its FLOAT, DOUBLE and DECIMAL have no NaN or ±Infinity)',
    );
    expect(e.hint).toMatch(/UPDATE public\.measures SET n = NULL WHERE id = 7.*re-snapshot.*exclude the table/);
  });

  it('a patch (an update without the key in its values) names the key it matched', () => {
    const e = thrown(() => rowValues(table, [table.columns[2]!], { f8: Number.NEGATIVE_INFINITY }, { id: 9 }));
    expect(e.message).toContain('column f8, row id = 9: -Infinity cannot be stored');
  });

  it('snapshot rows are checked before the bulk load', () => {
    expect(() =>
      assertFiniteRows(table, [
        [1, 1, 1, '1.5'],
        [2, null, null, null],
      ]),
    ).not.toThrow();
    const e = thrown(() =>
      assertFiniteRows(table, [
        [1, 1, 1, '1.5'],
        [2, Number.POSITIVE_INFINITY, 1, '2'],
      ]),
    );
    expect(e.message).toContain('table public.measures, column f4, row id = 2: Infinity cannot be stored');
  });

  it('composite and text keys are written as SQL', () => {
    expect(keyText({ a: 1, b: "it's" })).toBe("(a, b) = (1, 'it''s')");
  });
});
