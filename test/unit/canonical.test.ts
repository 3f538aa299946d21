import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/core/change-event.js';
import type { ColumnType } from '../../src/core/schema.js';
import { canonical } from '../../src/verify/canonical.js';

const datetime: ColumnType = { kind: 'datetime', fsp: 6 };
const timestamp: ColumnType = { kind: 'timestamp', fsp: 6 };
const time: ColumnType = { kind: 'time', fsp: 6 };
const bytea: ColumnType = { kind: 'binary', fixedLength: null };
const json: ColumnType = { kind: 'json' };
const text: ColumnType = { kind: 'string', maxLength: null };

describe('canonical', () => {
  // source value (ferry's canonical Value), Postgres text output of the same value
  it.each<[string, ColumnType, Value, Value]>([
    ['datetime with trailing fraction zeros', datetime, '2024-01-02 03:04:05.100000', '2024-01-02 03:04:05.1'],
    ['datetime with an all-zero fraction', datetime, '2024-01-02 03:04:50.000000', '2024-01-02 03:04:50'],
    ['datetime without fraction', { kind: 'datetime', fsp: 0 }, '2024-01-02 03:04:05', '2024-01-02 03:04:05'],
    ['timestamp with +00', timestamp, '2024-01-02 03:04:05.500000', '2024-01-02 03:04:05.5+00'],
    ['timestamp with +00:00', timestamp, '2024-01-02 03:04:05.000000', '2024-01-02 03:04:05+00:00'],
    ['the smallest time', time, '-838:59:59.000000', '-838:59:59'],
    ['the largest time', { kind: 'time', fsp: 0 }, '838:59:59', '838:59:59'],
    ['a time with a fraction', time, '00:00:01.500000', '00:00:01.5'],
    ['float 1.1', { kind: 'float' }, 1.1, '1.1'],
    ["float from the binlog's single precision", { kind: 'float' }, Math.fround(1.1), '1.1'],
    ['double 0.1', { kind: 'double' }, 0.1, '0.1'],
    ['bool true', { kind: 'bool' }, true, 't'],
    ['bool false', { kind: 'bool' }, false, 'f'],
    ['bytea', bytea, Buffer.from([0x00, 0xff]), '\\x00ff'],
    ['empty bytea', bytea, Buffer.alloc(0), '\\x'],
    ['json key order and spacing', json, '{"b":[1,2],"a":{"y":1,"x":null}}', '{"a": {"x": null, "y": 1}, "b": [1, 2]}'],
    ['json number spelling', json, '{"n":1.0}', '{"n": 1.0}'],
    ['bigint unsigned', { kind: 'int', bytes: 8, unsigned: true }, '18446744073709551615', '18446744073709551615'],
    ['int', { kind: 'int', bytes: 4, unsigned: false }, 42, '42'],
    ['decimal', { kind: 'decimal', precision: 10, scale: 2 }, '1.50', '1.50'],
    ['year', { kind: 'year' }, 2024, '2024'],
    ['bit', { kind: 'bit', length: 10 }, '1000000101', '1000000101'],
    ['NULL', text, null, null],
  ])('agrees on %s', (_, type, source, target) => {
    expect(canonical(type, source)).toBe(canonical(type, target));
  });

  it.each<[string, ColumnType, Value, Value]>([
    ['datetimes a tenth apart', datetime, '2024-01-02 03:04:05.100000', '2024-01-02 03:04:05.01'],
    ['datetimes ten seconds apart', { kind: 'datetime', fsp: 0 }, '2024-01-02 03:04:10', '2024-01-02 03:04:01'],
    ['timestamps a microsecond apart', timestamp, '2024-01-02 03:04:05.000001', '2024-01-02 03:04:05+00'],
    ['times of opposite sign', time, '01:00:00.000000', '-01:00:00'],
    ['times a microsecond apart', time, '00:00:00.000001', '00:00:00'],
    ['different floats', { kind: 'float' }, 1.1, '1.2'],
    ['doubles beyond single precision', { kind: 'double' }, 0.1, '0.10000000149011612'],
    ['different bools', { kind: 'bool' }, true, 'f'],
    ['different bytea', bytea, Buffer.from([0x00, 0xff]), '\\x00fe'],
    ['json number and string', json, '{"a":1}', '{"a": "1"}'],
    ['json arrays in different order', json, '[1,2]', '[2, 1]'],
    ['NULL and the empty string', text, null, ''],
    ['NULL and the text NULL', text, null, 'NULL'],
    ['text differing in case', text, 'abc', 'ABC'],
  ])('distinguishes %s', (_, type, a, b) => {
    expect(canonical(type, a)).not.toBe(canonical(type, b));
  });

  it('maps NULL to null', () => {
    expect(canonical(text, null)).toBeNull();
  });
});

describe('canonical arrays: a Postgres array and its JSON form in a MySQL target compare equal', () => {
  const int8: ColumnType = { kind: 'array', element: { kind: 'int', bytes: 8, unsigned: false } };
  const num: ColumnType = { kind: 'array', element: { kind: 'decimal', precision: null, scale: null } };
  const bools: ColumnType = { kind: 'array', element: { kind: 'bool' } };
  const texts: ColumnType = { kind: 'array', element: { kind: 'string', maxLength: null } };
  const jsons: ColumnType = { kind: 'array', element: { kind: 'json' } };
  it.each([
    [int8, '{1,9007199254740993,NULL}', '[1, 9007199254740993, null]'],
    [num, '{1.50,-2}', '[1.50, -2]'],
    [bools, '{t,f}', '[true, false]'],
    [texts, '{"a b","c\\"d]=",NULL}', '["a b", "c\\"d]=", null]'],
    [jsons, '{"{\\"a\\": 1, \\"b\\": \\"}\\"}"}', '[{"b": "}", "a": 1}]'],
    [int8, '{{1,2},{3,4}}', '[[1, 2], [3, 4]]'],
  ] as [ColumnType, string, string][])('%j: %s = %s', (type, pgText, json) => {
    expect(canonical(type, json)).toBe(canonical(type, pgText));
  });
  it('tells different arrays apart', () => {
    expect(canonical(int8, '[1, 9007199254740992]')).not.toBe(canonical(int8, '{1,9007199254740993}'));
    expect(canonical(texts, '["a"]')).not.toBe(canonical(texts, '{b}'));
  });
});
