import { describe, expect, it } from 'vitest';
import { FERRY_SCHEMA, makeTableFilter, targetTableId } from '../../src/core/table-mapping.js';

const table = (qualified: string) => {
  const [schema, name] = qualified.split('.') as [string, string];
  return { schema, name };
};

describe('makeTableFilter', () => {
  it.each([
    // include, exclude, table, selected
    [['*.*'], [], 'shop.orders', true],
    [['shop.*'], [], 'shop.orders', true],
    [['shop.*'], [], 'crm.contacts', false],
    [['shop.orders'], [], 'shop.orders', true],
    [['shop.orders'], [], 'shop.orders_archive', false],
    [['*.orders'], [], 'eu.orders', true],
    [['shop.order?'], [], 'shop.orders', true],
    [['shop.order?'], [], 'shop.order', false],
    [['shop.order?'], [], 'shop.orderss', false],
    [['shop.*', 'crm.*'], [], 'crm.contacts', true],
    [['*.*'], ['shop.tmp_*'], 'shop.tmp_import', false],
    [['*.*'], ['shop.tmp_*'], 'shop.orders', true],
    [['shop.*'], ['*.audit_log', 'shop.x?'], 'shop.xy', false],
    [['shop.*'], ['*.audit_log', 'shop.x?'], 'shop.audit_log', false],
    [[], [], 'shop.orders', false],
  ])('include %j exclude %j selects %s: %s', (include, exclude, qualified, selected) => {
    expect(makeTableFilter(include, exclude)(table(qualified))).toBe(selected);
  });

  it.each([
    ['the dot', 'shop.orders', { schema: 'shopXorders', name: 'x' }],
    ['a plus sign', 'shop.a+', { schema: 'shop', name: 'aa' }],
    ['brackets', 'shop.[ab]', { schema: 'shop', name: 'a' }],
    ['a dollar sign', 'shop.a$', { schema: 'shop', name: 'a' }],
  ])('treats %s in a pattern literally', (_, pattern, t) => {
    expect(makeTableFilter([pattern], [])(t)).toBe(false);
  });

  it('matches regex metacharacters in names literally', () => {
    expect(makeTableFilter(['shop.a+b$'], [])({ schema: 'shop', name: 'a+b$' })).toBe(true);
  });

  it.each([
    [FERRY_SCHEMA, 'anything'],
    ['shop', 'ferry_checkpoint'],
    ['shop', 'ferry_heartbeat'],
    ['shop', 'ferry_snapshot_progress'],
    ['ferry', 'ferry_checkpoint'],
  ])('never selects ferry bookkeeping table %s.%s, even when named explicitly', (schema, name) => {
    const filter = makeTableFilter(['*.*', `${schema}.${name}`], []);
    expect(filter({ schema, name })).toBe(false);
  });

  it('still selects tables whose names merely start like ferry tables', () => {
    expect(makeTableFilter(['*.*'], [])({ schema: 'shop', name: 'ferry_checkpoints' })).toBe(true);
    expect(makeTableFilter(['*.*'], [])({ schema: 'ferrying', name: 'boats' })).toBe(true);
  });
});

describe('targetTableId', () => {
  it('keeps schema and name when no target schema is set', () => {
    expect(targetTableId({ schema: 'shop', name: 'orders' }, undefined)).toEqual({ schema: 'shop', name: 'orders' });
  });

  it('puts the table into the target schema, keeping its name', () => {
    expect(targetTableId({ schema: 'shop', name: 'orders' }, 'public')).toEqual({ schema: 'public', name: 'orders' });
  });
});
