import { describe, expect, it } from 'vitest';
import { parseLsn } from '../../src/engines/postgres/lsn.js';
import { parseArrayLiteral } from '../../src/core/pg-array-literal.js';
import { columnType, fromPgText, type PgTypeInfo } from '../../src/engines/postgres/types.js';

const base = (name: string, typmod = -1): PgTypeInfo => ({ name, typtype: 'b', element: null, typmod, labels: null });

describe('parseLsn', () => {
  it('reads padded and unpadded forms as the same bigint, beyond 2^53', () => {
    expect(parseLsn('0/1537118')).toBe(0x1537118n);
    expect(parseLsn('00000000/01537118')).toBe(0x1537118n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(0xffffffffffffffffn);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
  });
  it('refuses anything else', () => {
    expect(() => parseLsn('12345')).toThrow(/not a Postgres LSN/);
  });
});

describe('parseArrayLiteral', () => {
  it('reads plain, quoted, escaped, NULL and nested elements', () => {
    expect(parseArrayLiteral('{1,2,3}')).toEqual(['1', '2', '3']);
    expect(parseArrayLiteral('{"a b","c\\"d",NULL,"NULL"}')).toEqual(['a b', 'c"d', null, 'NULL']);
    expect(parseArrayLiteral('{{1,2},{3,4}}')).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(parseArrayLiteral('{}')).toEqual([]);
    expect(parseArrayLiteral('[0:1]={5,6}')).toEqual(['5', '6']);
  });
  it('refuses a malformed literal', () => {
    expect(() => parseArrayLiteral('{1,2')).toThrow(/not a Postgres array literal/);
  });
});

describe('columnType (Postgres → ferry)', () => {
  it.each([
    ['int2', -1, { kind: 'int', bytes: 2, unsigned: false }],
    ['int8', -1, { kind: 'int', bytes: 8, unsigned: false }],
    ['numeric', -1, { kind: 'decimal', precision: null, scale: null }],
    ['numeric', ((12 << 16) | 2) + 4, { kind: 'decimal', precision: 12, scale: 2 }],
    ['float4', -1, { kind: 'float' }],
    ['bool', -1, { kind: 'bool' }],
    ['varchar', 24, { kind: 'string', maxLength: 20 }],
    ['bpchar', 9, { kind: 'string', maxLength: 5 }],
    ['text', -1, { kind: 'string', maxLength: null }],
    ['bytea', -1, { kind: 'binary', fixedLength: null }],
    ['timestamptz', -1, { kind: 'timestamp', fsp: 6 }],
    ['timestamp', 3, { kind: 'datetime', fsp: 3 }],
    ['time', -1, { kind: 'time', fsp: 6 }],
    ['interval', -1, { kind: 'interval' }],
    ['jsonb', -1, { kind: 'json' }],
    ['uuid', -1, { kind: 'uuid' }],
    ['inet', -1, { kind: 'inet' }],
    ['point', -1, { kind: 'other' }],
  ] as const)('%s (typmod %s)', (name, typmod, expected) => {
    expect(columnType(base(name, typmod))).toEqual(expected);
  });
  it('maps enums with their labels and arrays with their element type', () => {
    expect(columnType({ name: 'mood', typtype: 'e', element: null, typmod: -1, labels: ['sad', 'ok'] })).toEqual({ kind: 'enum', values: ['sad', 'ok'] });
    expect(columnType({ name: '_int4', typtype: 'b', element: 'int4', typmod: -1, labels: null })).toEqual({
      kind: 'array',
      element: { kind: 'int', bytes: 4, unsigned: false },
    });
  });
});

describe('fromPgText', () => {
  it('gives the canonical forms the MySQL source gives too', () => {
    expect(fromPgText({ kind: 'int', bytes: 4, unsigned: false }, '42')).toBe(42);
    expect(fromPgText({ kind: 'int', bytes: 8, unsigned: false }, '9007199254740993')).toBe('9007199254740993');
    expect(fromPgText({ kind: 'int', bytes: 8, unsigned: false }, '-5')).toBe(-5);
    expect(fromPgText({ kind: 'bool' }, 't')).toBe(true);
    expect(fromPgText({ kind: 'decimal', precision: null, scale: null }, '12345678901234567890.000000000001')).toBe('12345678901234567890.000000000001');
    expect(fromPgText({ kind: 'binary', fixedLength: null }, '\\x00ff10')).toEqual(Buffer.from([0, 255, 16]));
    expect(fromPgText({ kind: 'timestamp', fsp: 6 }, '2024-01-02 03:04:05.123456+00')).toBe('2024-01-02 03:04:05.123456');
    expect(fromPgText({ kind: 'string', maxLength: null }, '')).toBe('');
    expect(fromPgText({ kind: 'string', maxLength: null }, null)).toBeNull();
  });
  it('refuses a timestamptz that is not in UTC rather than shift it', () => {
    expect(() => fromPgText({ kind: 'timestamp', fsp: 6 }, '2024-01-02 03:04:05+02')).toThrow(/not in UTC/);
  });
});
