import { describe, expect, it } from 'vitest';
import { keysetArgs, keysetPredicate } from '../../src/sources/mysql/mysql-snapshot.js';

describe('keysetPredicate', () => {
  it('compares a single key column', () => {
    expect(keysetPredicate(['id'])).toBe('(`id` > ?)');
  });

  it('expands a three-column key into a lexicographic comparison', () => {
    expect(keysetPredicate(['a', 'b', 'c'])).toBe('(`a` > ?) OR (`a` = ? AND `b` > ?) OR (`a` = ? AND `b` = ? AND `c` > ?)');
  });

  it('quotes column names', () => {
    expect(keysetPredicate(['odd`name'])).toBe('(`odd``name` > ?)');
  });
});

describe('keysetArgs', () => {
  it('passes the single key value once', () => {
    expect(keysetArgs(['id'], { id: 41 })).toEqual([41]);
  });

  it("passes the values in the order of the predicate's placeholders", () => {
    const key = { a: 1, b: 'x', c: Buffer.from([7]) };
    expect(keysetArgs(['a', 'b', 'c'], key)).toEqual([1, 1, 'x', 1, 'x', Buffer.from([7])]);
  });

  it("uses the key column order, not the row's property order", () => {
    expect(keysetArgs(['b', 'a'], { a: 1, b: 2 })).toEqual([2, 2, 1]);
  });

  it('has one argument per placeholder', () => {
    const columns = ['a', 'b', 'c'];
    const placeholders = keysetPredicate(columns).split('?').length - 1;
    expect(keysetArgs(columns, { a: 1, b: 2, c: 3 })).toHaveLength(placeholders);
  });

  it('passes null for a missing key value', () => {
    expect(keysetArgs(['a', 'b'], { a: 1 })).toEqual([1, 1, null]);
  });
});
