import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TableSchema } from '../../src/core/schema.js';
import type { TransformRule } from '../../src/core/transform-rules.js';
import { rulesTransform } from '../../src/transforms/rules.js';
import { diffRows } from '../../src/verify/row-diff.js';
import { col, int } from '../helpers/mssql-ddl.js';
import { expectedRow, sourceValue, targetRow, through, type SourceRead } from '../../src/verify/through-rules.js';

const SALT = 'unit-verify-salt';
const hmac = (text: string) => createHmac('sha256', SALT).update(text).digest('hex');
const INT = int(4);
const text = (name: string) => col(name, { kind: 'string', maxLength: 40 }, 'varchar(40)', { nullable: true });
const customers: TableSchema = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'customers' },
  target: { schema: 'shop', name: 'customers' },
  columns: [col('id', INT, 'int'), text('email'), text('phone'), text('notes'), text('region')],
  primaryKey: ['id'],
  indexes: [],
};
const RULE: TransformRule = {
  match: 'shop.customers',
  rename: 'clients',
  columns: { exclude: ['notes'], rename: { email: 'email_address' } },
  mask: { email_address: 'hash', phone: { keepLast: 4 } },
  filter: [{ column: 'region', op: 'in', value: ['eu', 'uk'] }],
};
const planOf = (rule: TransformRule) => through(customers, rulesTransform({ salt: SALT, rules: [rule] }).plan(customers));

/** A source row as verify reads it: compared texts stand in for SQL fields (`f:` prefixed), values are canonical texts. */
function read(id: number, email: string | null, phone: string, region: string): SourceRead {
  const values = [String(id), email, phone, 'a note', region];
  return { keyText: [String(id)], keyMatch: [String(id)], compared: values.map((v) => (v === null ? 'N' : `f:${v}`)), values };
}

describe('verify through transform rules', () => {
  it('tells passed columns (renamed at most) from the ones the rule makes, and keys the target by its own key columns', () => {
    const th = planOf(RULE);
    expect(th.plan.table.columns.map((c) => c.name)).toEqual(['id', 'email_address', 'phone', 'region']);
    expect(th.from).toEqual([0, -1, -1, 4]);
    expect(th.key).toEqual([0]);
    expect(th.targetColumns.map((c) => c.raw)).toEqual([false, true, true, false]);
  });

  it('leaves out rows the filter drops, and expects masked values exactly as the pipeline writes them', () => {
    const th = planOf(RULE);
    expect(expectedRow(th, read(1, 'a@x', '0123456789', 'us'))).toBeNull();
    const e = expectedRow(th, read(7, 'a@x', '0123456789', 'uk'))!;
    expect(e.keyParams).toEqual(['7']);
    // The target's row as read: key match text, passed fields as SQL prints them, made columns as their canonical text.
    const target = targetRow(th, ['7', 'f:7', hmac('a@x'), '******6789', 'f:uk']);
    expect(diffRows([e.row], [target])).toEqual([]);
    const nullEmail = expectedRow(th, read(8, null, '12', 'eu'))!;
    expect(diffRows([nullEmail.row], [targetRow(th, ['8', 'f:8', null, '12', 'f:eu'])])).toEqual([]);
  });

  it('names the key of a tampered masked value, and of a kept row missing from the target', () => {
    const th = planOf(RULE);
    const rows = [read(7, 'a@x', '0123456789', 'uk'), read(9, 'b@x', '555', 'eu')].map((r) => expectedRow(th, r)!.row);
    const target = [targetRow(th, ['7', 'f:7', hmac('a@x'), '******0000', 'f:uk'])];
    expect(diffRows(rows, target)).toEqual([
      { key: '7', difference: 'changed' },
      { key: '9', difference: 'missing' },
    ]);
  });

  it('looks a hashed key up by HMAC(salt, source key) and matches rows by it', () => {
    const th = planOf({ match: 'shop.customers', mask: { id: 'hash' } });
    expect(th.from).toEqual([-1, 1, 2, 3, 4]);
    const e = expectedRow(th, read(42, 'a@x', '1', 'us'))!;
    expect(e.keyParams).toEqual([hmac('42')]);
    const target = targetRow(th, [hmac('42'), hmac('42'), 'f:a@x', 'f:1', 'f:a note', 'f:us']);
    expect(diffRows([e.row], [target])).toEqual([]);
    expect(diffRows([e.row], [targetRow(th, [hmac('42'), hmac('42'), 'f:a@y', 'f:1', 'f:a note', 'f:us'])])).toEqual([
      { key: hmac('42'), difference: 'changed' },
    ]);
  });

  it('reads source values as the pipeline holds them: numbers, booleans, bytes, times from their microseconds, text', () => {
    expect(sourceValue(INT, '-12')).toBe(-12);
    expect(sourceValue(INT, '9007199254740993')).toBe('9007199254740993');
    expect(sourceValue({ kind: 'bool' }, '1')).toBe(true);
    expect(sourceValue({ kind: 'binary', fixedLength: null }, 'c0ff')).toEqual(Buffer.from([0xc0, 0xff]));
    expect(sourceValue({ kind: 'date' }, '2024-02-29')).toBe('2024-02-29');
    expect(sourceValue(INT, null)).toBeNull();
    expect(sourceValue({ kind: 'time', fsp: 6 }, '-1500000')).toBe('-00:00:01.500000');
    expect(sourceValue({ kind: 'time', fsp: 0 }, '3020399000000')).toBe('838:59:59');
    expect(sourceValue({ kind: 'time', fsp: 6 }, '43200000001')).toBe('12:00:00.000001');
  });
});
