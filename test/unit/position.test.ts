import { describe, expect, it } from 'vitest';
import { comparePositions, earliest, formatLsn, formatPosition, positionFromJson, positionToJson, type Position } from '../../src/core/position.js';

const binlog = (file: string, pos: number, gtid?: string): Position => (gtid === undefined ? { kind: 'mysql', file, pos } : { kind: 'mysql', file, pos, gtid });
const lsn = (value: bigint): Position => ({ kind: 'pg', lsn: value });

/** Round trip through the text the checkpoint store keeps. */
const throughJson = (p: Position) => positionFromJson(JSON.parse(JSON.stringify(positionToJson(p))));

describe('comparePositions', () => {
  it.each([
    ['an earlier file', binlog('bin.000009', 900), binlog('bin.000010', 4), -1],
    ['a later file', binlog('bin.000010', 4), binlog('bin.000009', 900), 1],
    ['file numbers past 999999', binlog('bin.999999', 4), binlog('bin.1000000', 4), -1],
    ['an earlier offset in one file', binlog('bin.000010', 120), binlog('bin.000010', 4000), -1],
    ['a later offset in one file', binlog('bin.000010', 4000), binlog('bin.000010', 120), 1],
    ['the same place', binlog('bin.000010', 120), binlog('bin.000010', 120), 0],
    ['the same place with and without a gtid', binlog('bin.000010', 120, '0-1-5'), binlog('bin.000010', 120), 0],
  ])('orders binlog positions: %s', (_, a, b, expected) => {
    expect(comparePositions(a, b)).toBe(expected);
  });

  const big = 2n ** 53n;
  it.each([
    ['LSNs that differ only beyond 2^53', lsn(big + 1n), lsn(big + 2n), -1],
    ['LSNs that differ only beyond 2^53, reversed', lsn(big + 2n), lsn(big + 1n), 1],
    ['equal large LSNs', lsn(0xffff_ffff_ffff_fff0n), lsn(0xffff_ffff_ffff_fff0n), 0],
    ['small against large', lsn(0x16b3748n), lsn(big), -1],
  ])('orders pg positions: %s', (_, a, b, expected) => {
    expect(comparePositions(a, b)).toBe(expected);
  });

  it('refuses to compare positions of different kinds', () => {
    expect(() => comparePositions(binlog('bin.000001', 4), lsn(1n))).toThrow(/mysql.*pg/);
  });

  it('refuses a binlog file name without a sequence number', () => {
    expect(() => comparePositions(binlog('bin', 4), binlog('bin.000001', 4))).toThrow(/sequence number/);
  });
});

describe('earliest', () => {
  it('takes the only position when there is no earlier one', () => {
    const p = binlog('bin.000002', 4);
    expect(earliest(undefined, p)).toBe(p);
  });

  it.each([
    ['first', binlog('bin.000009', 500), binlog('bin.000010', 4), 'a'],
    ['second', binlog('bin.000010', 4), binlog('bin.000009', 500), 'b'],
    ['first on a tie', binlog('bin.000010', 4), binlog('bin.000010', 4), 'a'],
    ['the smaller LSN', lsn(2n ** 60n + 1n), lsn(2n ** 60n), 'b'],
  ])('picks the %s', (_, a, b, which) => {
    expect(earliest(a, b)).toBe(which === 'a' ? a : b);
  });
});

describe('formatLsn', () => {
  it.each([
    [0n, '0/0'],
    [0x16b3748n, '0/16B3748'],
    [0x1_0000_0000n, '1/0'],
    [0xabcdef01_23456789n, 'ABCDEF01/23456789'],
    [2n ** 64n - 1n, 'FFFFFFFF/FFFFFFFF'],
  ])('formats %s as %s', (value, text) => {
    expect(formatLsn(value)).toBe(text);
  });
});

describe('formatPosition', () => {
  it.each([
    ['bin.000003:120', binlog('bin.000003', 120)],
    ['bin.000003:120 (gtid 0-1-42)', binlog('bin.000003', 120, '0-1-42')],
    ['1/A0', lsn(0x1_0000_00a0n)],
  ])('formats a position as %s', (text, p) => {
    expect(formatPosition(p)).toBe(text);
  });
});

describe('position JSON', () => {
  it.each([
    ['a binlog position', binlog('bin.000010', 4321)],
    ['a binlog position with a gtid', binlog('bin.000010', 4321, '0-1-99')],
    ['an LSN above 2^53', lsn(2n ** 53n + 1n)],
    ['the largest LSN', lsn(2n ** 64n - 1n)],
  ])('round-trips %s through JSON text', (_, p) => {
    expect(throughJson(p)).toEqual(p);
  });

  it('writes an LSN as an exact decimal string', () => {
    expect(positionToJson(lsn(2n ** 53n + 1n))).toEqual({ kind: 'pg', lsn: '9007199254740993' });
  });

  it('drops an empty gtid', () => {
    expect(positionFromJson({ kind: 'mysql', file: 'bin.000001', pos: 4, gtid: '' })).toEqual({ kind: 'mysql', file: 'bin.000001', pos: 4 });
    expect(positionFromJson({ kind: 'mysql', file: 'bin.000001', pos: 4, gtid: '' })).not.toHaveProperty('gtid');
  });

  it.each([
    ['an unknown kind', { kind: 'oracle', scn: 1 }],
    ['a binlog position without an offset', { kind: 'mysql', file: 'bin.000001' }],
    ['a binlog position with a text offset', { kind: 'mysql', file: 'bin.000001', pos: '4' }],
  ])('rejects %s', (_, value) => {
    expect(() => positionFromJson(value)).toThrow(/not a position/);
  });
});
