import { describe, expect, it } from 'vitest';
import type { ColumnType } from '../../src/core/schema.js';
import { FerryError } from '../../src/core/errors.js';
import { columnBackfill, normalizeValue, parseColumnType, type TypeOptions } from '../../src/engines/mysql/types.js';

const asSmallint: TypeOptions = { tinyint1: 'smallint' };
const asBoolean: TypeOptions = { tinyint1: 'boolean' };

describe('parseColumnType', () => {
  it.each<[string, ColumnType]>([
    ['tinyint(4)', { kind: 'int', bytes: 1, unsigned: false }],
    ['tinyint unsigned', { kind: 'int', bytes: 1, unsigned: true }],
    ['smallint(6)', { kind: 'int', bytes: 2, unsigned: false }],
    ['smallint(5) unsigned', { kind: 'int', bytes: 2, unsigned: true }],
    ['mediumint(8) unsigned', { kind: 'int', bytes: 3, unsigned: true }],
    ['int(11)', { kind: 'int', bytes: 4, unsigned: false }],
    ['int', { kind: 'int', bytes: 4, unsigned: false }],
    ['integer unsigned', { kind: 'int', bytes: 4, unsigned: true }],
    ['int(10) unsigned zerofill', { kind: 'int', bytes: 4, unsigned: true }],
    ['bigint(20)', { kind: 'int', bytes: 8, unsigned: false }],
    ['bigint(20) unsigned', { kind: 'int', bytes: 8, unsigned: true }],
    ['BIGINT(20) UNSIGNED', { kind: 'int', bytes: 8, unsigned: true }],
    ['decimal(30,10)', { kind: 'decimal', precision: 30, scale: 10 }],
    ['decimal(5)', { kind: 'decimal', precision: 5, scale: 0 }],
    ['decimal', { kind: 'decimal', precision: 10, scale: 0 }],
    ['numeric(12,2)', { kind: 'decimal', precision: 12, scale: 2 }],
    ['decimal(10,2) unsigned', { kind: 'decimal', precision: 10, scale: 2 }],
    ['float', { kind: 'float' }],
    ['float(7,4)', { kind: 'float' }],
    ['double', { kind: 'double' }],
    ['double precision', { kind: 'double' }],
    ['real', { kind: 'double' }],
    ['date', { kind: 'date' }],
    ['datetime', { kind: 'datetime', fsp: 0 }],
    ['datetime(6)', { kind: 'datetime', fsp: 6 }],
    ['timestamp', { kind: 'timestamp', fsp: 0 }],
    ['timestamp(3)', { kind: 'timestamp', fsp: 3 }],
    ['time', { kind: 'time', fsp: 0 }],
    ['time(6)', { kind: 'time', fsp: 6 }],
    ['year(4)', { kind: 'year' }],
    ['year', { kind: 'year' }],
    ['char(36)', { kind: 'string', maxLength: 36 }],
    ['char', { kind: 'string', maxLength: 1 }],
    ['varchar(255)', { kind: 'string', maxLength: 255 }],
    ['tinytext', { kind: 'string', maxLength: null }],
    ['text', { kind: 'string', maxLength: null }],
    ['mediumtext', { kind: 'string', maxLength: null }],
    ['longtext', { kind: 'string', maxLength: null }],
    ['binary(16)', { kind: 'binary', fixedLength: 16 }],
    ['varbinary(255)', { kind: 'binary', fixedLength: null }],
    ['tinyblob', { kind: 'binary', fixedLength: null }],
    ['blob', { kind: 'binary', fixedLength: null }],
    ['mediumblob', { kind: 'binary', fixedLength: null }],
    ['longblob', { kind: 'binary', fixedLength: null }],
    ['json', { kind: 'json' }],
    ["enum('a','b,c','it''s')", { kind: 'enum', values: ['a', 'b,c', "it's"] }],
    ["enum('x\\'y','')", { kind: 'enum', values: ["x'y", ''] }],
    ["enum('a)','b')", { kind: 'enum', values: ['a)', 'b'] }],
    ["set('read','write','admin')", { kind: 'set', values: ['read', 'write', 'admin'] }],
    ['bit(10)', { kind: 'bit', length: 10 }],
    ['bit', { kind: 'bit', length: 1 }],
    ['uuid', { kind: 'uuid' }],
  ])('%s', (columnType, expected) => {
    expect(parseColumnType(columnType, asSmallint)).toEqual(expected);
  });

  it.each<[string, TypeOptions, ColumnType]>([
    ['tinyint(1)', asSmallint, { kind: 'int', bytes: 1, unsigned: false }],
    ['tinyint(1)', asBoolean, { kind: 'bool' }],
    ['tinyint(1) unsigned', asBoolean, { kind: 'int', bytes: 1, unsigned: true }],
    ['tinyint(2)', asBoolean, { kind: 'int', bytes: 1, unsigned: false }],
    ['boolean', asSmallint, { kind: 'int', bytes: 1, unsigned: false }],
    ['boolean', asBoolean, { kind: 'bool' }],
  ])('%s with tinyint1 %o', (columnType, options, expected) => {
    expect(parseColumnType(columnType, options)).toEqual(expected);
  });

  it.each(['geometry', 'point', 'polygon', 'inet6', 'vector(3)'])('rejects unsupported type %s with a fatal FerryError', (columnType) => {
    let error: unknown;
    try {
      parseColumnType(columnType, asSmallint);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FerryError);
    expect((error as FerryError).kind).toBe('fatal');
    expect((error as FerryError).message).toContain(columnType);
  });

  it('names the column whose type it cannot carry', () => {
    expect(() => parseColumnType('point', asSmallint, 'location')).toThrow('column location has type point, which ferry cannot replicate');
  });
});

describe('normalizeValue', () => {
  const int = (bytes: 1 | 2 | 3 | 4 | 8, unsigned = false): ColumnType => ({ kind: 'int', bytes, unsigned });

  it.each<[string, ColumnType, unknown, unknown]>([
    ['null', int(4), null, null],
    ['undefined', { kind: 'string', maxLength: null }, undefined, null],
    ['an int', int(4), 42, 42],
    ['a safe bigint string', int(8), '9007199254740991', 9007199254740991],
    ['a negative safe bigint string', int(8), '-42', -42],
    ['a bigint string just above 2^53', int(8), '9007199254740993', '9007199254740993'],
    ['2^53 itself', int(8), '9007199254740992', '9007199254740992'],
    ['the largest unsigned bigint', int(8, true), '18446744073709551615', '18446744073709551615'],
    ['the smallest signed bigint', int(8), '-9223372036854775808', '-9223372036854775808'],
    ['a safe JS bigint', int(8), 42n, 42],
    ['a JS bigint above 2^53', int(8, true), 18446744073709551615n, '18446744073709551615'],
    ['bool 1', { kind: 'bool' }, 1, true],
    ['bool 0', { kind: 'bool' }, 0, false],
    ['bool as text', { kind: 'bool' }, '1', true],
    ['decimal text', { kind: 'decimal', precision: 30, scale: 10 }, '12345678901234567890.0123456789', '12345678901234567890.0123456789'],
    ['float', { kind: 'float' }, '1.5', 1.5],
    ['double', { kind: 'double' }, 2.25, 2.25],
    ['year', { kind: 'year' }, '2024', 2024],
    ['year 0000 from the snapshot', { kind: 'year' }, '0000', 0],
    ['year 0000 from the binlog (1900)', { kind: 'year' }, 1900, 0],
    ['a date', { kind: 'date' }, '2024-02-29', '2024-02-29'],
    ['a zero date', { kind: 'date' }, '0000-00-00', null],
    ['a date with zero month', { kind: 'date' }, '2024-00-10', null],
    ['a date with zero day', { kind: 'date' }, '2024-01-00', null],
    ['a datetime', { kind: 'datetime', fsp: 6 }, '2024-01-02 03:04:05.100000', '2024-01-02 03:04:05.100000'],
    ['a zero datetime', { kind: 'datetime', fsp: 0 }, '0000-00-00 00:00:00', null],
    ['a zero timestamp', { kind: 'timestamp', fsp: 6 }, '0000-00-00 00:00:00.000000', null],
    ['a time', { kind: 'time', fsp: 0 }, '-838:59:59', '-838:59:59'],
    ['a string', { kind: 'string', maxLength: 10 }, 'héllo', 'héllo'],
    ['a string as UTF-8 bytes', { kind: 'string', maxLength: null }, Buffer.from('héllo'), 'héllo'],
    ['an enum', { kind: 'enum', values: ['a'] }, 'a', 'a'],
    ['a set', { kind: 'set', values: ['a', 'b'] }, 'a,b', 'a,b'],
    ['binary data', { kind: 'binary', fixedLength: null }, Buffer.from([0, 255]), Buffer.from([0, 255])],
    ['binary data as latin1 text', { kind: 'binary', fixedLength: null }, '\u0000\u00ff', Buffer.from([0, 255])],
    ['json text', { kind: 'json' }, '{"b":1,"a":[2]}', '{"b":1,"a":[2]}'],
    ['a json object', { kind: 'json' }, { b: 1, a: [2, 'x'] }, '{"b":1,"a":[2,"x"]}'],
    ['a json array', { kind: 'json' }, [1, { c: null }], '[1,{"c":null}]'],
    ['a json number', { kind: 'json' }, 5, '5'],
    ['bit buffer', { kind: 'bit', length: 10 }, Buffer.from([0x02, 0x05]), '1000000101'],
    ['short bit buffer', { kind: 'bit', length: 10 }, Buffer.from([0x05]), '0000000101'],
    ['bit(1) buffer', { kind: 'bit', length: 1 }, Buffer.from([0x01]), '1'],
    ['bit(64) buffer', { kind: 'bit', length: 64 }, Buffer.from('8000000000000001', 'hex'), `1${'0'.repeat(62)}1`],
    ['bit number', { kind: 'bit', length: 8 }, 5, '00000101'],
    ['uuid buffer', { kind: 'uuid' }, Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), '01234567-89ab-cdef-0123-456789abcdef'],
    ['uuid text', { kind: 'uuid' }, '01234567-89ab-cdef-0123-456789abcdef', '01234567-89ab-cdef-0123-456789abcdef'],
  ])('%s', (_, type, input, expected) => {
    expect(normalizeValue(type, input)).toEqual(expected);
  });

  it('keeps a date from year zero that is not a zero date', () => {
    expect(normalizeValue({ kind: 'date' }, '0000-01-01')).toBe('0000-01-01');
  });
});

describe('columnBackfill: what existing rows hold when the column is added', () => {
  const int: ColumnType = { kind: 'int', bytes: 4, unsigned: false };
  const str: ColumnType = { kind: 'string', maxLength: 20 };
  it.each<[string, ColumnType, boolean, string | null, string, 'mariadb' | 'mysql', unknown]>([
    ['nullable without default → NULL', int, true, null, '', 'mariadb', { value: null }],
    ["MariaDB prints DEFAULT NULL as 'NULL'", int, true, 'NULL', '', 'mariadb', { value: null }],
    ['NOT NULL without default → the implicit 0', int, false, null, '', 'mariadb', { value: 0 }],
    ["NOT NULL string without default → ''", str, false, null, '', 'mariadb', { value: '' }],
    ['NOT NULL ENUM without default → its first value', { kind: 'enum', values: ['new', 'old'] }, false, null, '', 'mariadb', { value: 'new' }],
    ['NOT NULL DATETIME without default → the zero date, written as NULL', { kind: 'datetime', fsp: 0 }, false, null, '', 'mariadb', { value: null }],
    ['MariaDB numeric literal', int, false, '5', '', 'mariadb', { value: 5 }],
    ['MariaDB quoted literal with an escaped quote', str, false, "'it''s'", '', 'mariadb', { value: "it's" }],
    ['MariaDB expression', { kind: 'datetime', fsp: 0 }, true, 'current_timestamp()', '', 'mariadb', { expression: 'DEFAULT current_timestamp()' }],
    ['MySQL bare literal', str, false, 'abc', '', 'mysql', { value: 'abc' }],
    [
      'MySQL expression flagged DEFAULT_GENERATED',
      { kind: 'datetime', fsp: 0 },
      true,
      'CURRENT_TIMESTAMP',
      'DEFAULT_GENERATED',
      'mysql',
      { expression: 'DEFAULT CURRENT_TIMESTAMP' },
    ],
    ['a generated column', int, true, null, 'STORED GENERATED', 'mariadb', { expression: 'a generated column' }],
    ['an AUTO_INCREMENT column', int, false, null, 'auto_increment', 'mariadb', { expression: 'an AUTO_INCREMENT column' }],
  ])('%s', (_, type, nullable, raw, extra, flavor, expected) => {
    expect(columnBackfill(type, nullable, raw, extra, flavor)).toEqual(expected);
  });
});
