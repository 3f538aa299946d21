import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ColumnType } from '../../src/core/schema.js';
import { canonicalJson, maskInput } from '../../src/transforms/mask-input.js';
import { maskFunction } from '../../src/transforms/masks.js';

const DECIMAL: ColumnType = { kind: 'decimal', precision: 30, scale: 10 };

describe('what masks read of a value', () => {
  it('one text per value, whatever scale or fraction digits the snapshot or the stream printed it with', () => {
    expect(maskInput(DECIMAL, '12.5000000000')).toBe('12.5');
    expect(maskInput(DECIMAL, '12.5')).toBe('12.5');
    expect(maskInput(DECIMAL, '100.00')).toBe('100');
    expect(maskInput(DECIMAL, '100')).toBe('100');
    expect(maskInput(DECIMAL, '-0.0100')).toBe('-0.01');
    expect(maskInput({ kind: 'datetime', fsp: 6 }, '2024-02-29 13:14:15.120000')).toBe('2024-02-29 13:14:15.12');
    expect(maskInput({ kind: 'datetime', fsp: 6 }, '2024-01-01 00:00:00.000000')).toBe('2024-01-01 00:00:00');
    expect(maskInput({ kind: 'timestamp', fsp: 3 }, '0044-03-15 12:00:00.500 BC')).toBe('0044-03-15 12:00:00.5 BC');
    expect(maskInput({ kind: 'time', fsp: 6 }, '-00:00:01.500000')).toBe('-00:00:01.5');
    expect(maskInput({ kind: 'time', fsp: 0 }, '-838:59:59')).toBe('-838:59:59');
    expect(maskInput({ kind: 'float' }, 1.100000023841858)).toBe('1.1');
    expect(maskInput({ kind: 'float' }, 1.1)).toBe('1.1');
    expect(maskInput({ kind: 'float' }, 3.4e38)).toBe('3.4e+38');
    expect(maskInput({ kind: 'float' }, Number.NaN)).toBe('NaN');
    expect(maskInput({ kind: 'double' }, 0.1)).toBe('0.1');
    expect(maskInput({ kind: 'int', bytes: 8, unsigned: true }, '18446744073709551615')).toBe('18446744073709551615');
    expect(maskInput({ kind: 'bool' }, true)).toBe('true');
    expect(maskInput({ kind: 'bit', length: 10 }, '0000000101')).toBe('0000000101');
    expect(maskInput({ kind: 'binary', fixedLength: 4 }, Buffer.from([1, 0, 0, 0]))).toEqual(Buffer.from([1, 0, 0, 0]));
    expect(maskInput({ kind: 'date' }, '2024-02-29')).toBe('2024-02-29');
  });

  it('JSON as compact text with sorted keys, numbers keeping their digits; a text that is not JSON as it is', () => {
    expect(canonicalJson('{"b": 1, "a": [1, 2.50]}')).toBe('{"a":[1,2.50],"b":1}');
    expect(canonicalJson('{"a": [1, 2.50], "b": 1}')).toBe('{"a":[1,2.50],"b":1}');
    expect(canonicalJson('{"k": "v\\u00e9", "n": null, "t": true}')).toBe('{"k":"vé","n":null,"t":true}');
    expect(canonicalJson(' [ ] ')).toBe('[]');
    expect(canonicalJson('{"big": 123456789012345678901234567890, "e": -1.5E+3}')).toBe('{"big":123456789012345678901234567890,"e":-1.5E+3}');
    expect(canonicalJson('{"z": {"y": 1, "x": "a\\"b"}}')).toBe('{"z":{"x":"a\\"b","y":1}}');
    expect(canonicalJson('{"a": 1')).toBe('{"a": 1');
    expect(canonicalJson('[1] 2')).toBe('[1] 2');
  });

  it('hash is the HMAC of that text, so a decimal read as 12.50 and as 12.5 hashes alike', () => {
    const hash = maskFunction('hash', 'salt-0123456789abcdef', DECIMAL);
    const expected = createHmac('sha256', 'salt-0123456789abcdef').update('12.5').digest('hex');
    expect(hash('12.50')).toBe(expected);
    expect(hash('12.5000000000')).toBe(expected);
    expect(maskFunction({ keepFirst: 3 }, undefined, DECIMAL)('12.5000')).toBe('12.*');
  });
});
