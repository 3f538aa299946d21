import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import type { TransformRule, TransformsConfig } from '../../src/core/transform-rules.js';
import type { ChangeEvent, Row, Transaction } from '../../src/core/change-event.js';
import { FerryError } from '../../src/core/errors.js';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import { maskFunction, REDACTED } from '../../src/transforms/masks.js';
import { filterPredicate, pushable } from '../../src/transforms/row-filter.js';
import { readChunkSql as mysqlChunkSql } from '../../src/sources/mysql/mysql-snapshot.js';
import { filterParams, readChunkSql as pgChunkSql } from '../../src/sources/postgres/pg-snapshot.js';
import type { RowFilter } from '../../src/core/transform-rules.js';
import type { Value } from '../../src/core/change-event.js';
import { checkRules, ruleProblems, rulesTransform } from '../../src/transforms/rules.js';
import { TableTransforms } from '../../src/transforms/table-transforms.js';
import { nextKeyValuesThrough, passedColumns } from '../../src/transforms/passed-columns.js';

const SALT = 'unit-test-salt-0123456789';
const hmac = (text: string | Buffer) => createHmac('sha256', SALT).update(text).digest('hex');

const col = (name: string, type: ColumnType = { kind: 'string', maxLength: 40 }, nullable = true): Column => ({
  name,
  type,
  sourceType: type.kind === 'string' ? 'varchar(40)' : type.kind === 'int' ? 'int' : 'date',
  nullable,
  autoIncrement: false,
  backfill: { value: null },
});

const customers: TableSchema = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'customers' },
  target: { schema: 'shop', name: 'customers' },
  columns: [
    col('id', { kind: 'int', bytes: 4, unsigned: false }, false),
    col('email'),
    col('phone'),
    col('ssn'),
    col('dob', { kind: 'date' }, false),
    col('notes'),
    col('region'),
  ],
  primaryKey: ['id'],
  indexes: [
    { name: 'by_email', columns: ['email'], unique: true },
    { name: 'by_ssn', columns: ['ssn'], unique: true },
    { name: 'by_notes', columns: ['notes'], unique: false },
  ],
};
const orders: TableSchema = {
  ...customers,
  source: { schema: 'shop', name: 'orders' },
  target: { schema: 'shop', name: 'orders' },
  columns: [col('id', { kind: 'int', bytes: 4, unsigned: false }, false), col('customer_id', { kind: 'int', bytes: 4, unsigned: false })],
  indexes: [],
  foreignKeys: [
    { name: 'fk_c', columns: ['customer_id'], references: customers.source, referencedColumns: ['id'], onDelete: 'restrict', onUpdate: 'restrict' },
  ],
};

const DESIGN_RULE: TransformRule = {
  match: 'shop.custom*',
  rename: 'crm.clients',
  columns: { exclude: ['notes'], rename: { email: 'email_address' } },
  mask: { email_address: 'hash', phone: { keepLast: 4 }, ssn: 'redact', dob: 'null' },
  filter: [{ column: 'region', op: 'in', value: ['eu', 'uk'] }],
};
const TEXT: ColumnType = { kind: 'string', maxLength: null };
const transforms = (rules: TransformRule[]): TransformsConfig => ({ salt: SALT, rules });

const source: Row = { id: 7, email: 'a@b.example', phone: '+44 20 7946 0018', ssn: '078-05-1120', dob: '1980-02-29', notes: 'likes tea', region: 'uk' };

describe('masks', () => {
  it('hash is HMAC-SHA256 of the salt over the text, lower-case hex: equal inputs give equal outputs', () => {
    const hash = maskFunction('hash', SALT, TEXT);
    expect(hash('a@b.example')).toBe(hmac('a@b.example'));
    expect(hash('a@b.example')).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(42)).toBe(hmac('42'));
    expect(hash(Buffer.from([1, 2, 255]))).toBe(hmac(Buffer.from([1, 2, 255])));
    expect(hash('x')).not.toBe(maskFunction('hash', 'another-salt-0123456', TEXT)('x'));
  });

  it('keepLast and keepFirst keep N characters and star the others; a value no longer than N stays whole', () => {
    expect(maskFunction({ keepLast: 4 }, undefined, TEXT)('+44 20 7946 0018')).toBe('************0018');
    expect(maskFunction({ keepFirst: 2 }, undefined, TEXT)('abcdef')).toBe('ab****');
    expect(maskFunction({ keepLast: 4 }, undefined, TEXT)('018')).toBe('018');
    expect(maskFunction({ keepLast: 4 }, undefined, TEXT)('0018')).toBe('0018');
    expect(maskFunction({ keepLast: 1 }, undefined, TEXT)('😀😀x')).toBe('**x');
    expect(maskFunction({ keepFirst: 3 }, undefined, TEXT)(1234567)).toBe('123****');
  });

  it('NULL stays NULL under hash, redact and the keep masks; the null mask makes every value NULL', () => {
    for (const mask of ['hash', 'redact', { keepLast: 2 }, { keepFirst: 2 }] as const) expect(maskFunction(mask, SALT, TEXT)(null)).toBeNull();
    expect(maskFunction('redact', undefined, TEXT)('secret')).toBe(REDACTED);
    expect(maskFunction('null', undefined, TEXT)('secret')).toBeNull();
  });
});

describe('row filters', () => {
  const keeps = (op: string, value: unknown, v: Row['x']) => filterPredicate({ column: 'x', op, value } as never)({ x: v });

  it('compares numbers numerically (decimals arrive as text) and text as text', () => {
    expect(keeps('gt', 10, '9.5')).toBe(false);
    expect(keeps('gt', 10, 11)).toBe(true);
    expect(keeps('lte', 10, '10.00')).toBe(true);
    expect(keeps('lt', '2024-01-01', '2023-12-31')).toBe(true);
    expect(keeps('eq', 'eu', 'eu')).toBe(true);
    expect(keeps('ne', 'eu', 'uk')).toBe(true);
    expect(keeps('in', ['eu', 'uk'], 'us')).toBe(false);
    expect(keeps('between', [1, 3], 3)).toBe(true);
    expect(keeps('between', [1, 3], 4)).toBe(false);
    expect(keeps('eq', true, 1)).toBe(true);
    expect(keeps('gt', 1, 'abc')).toBe(false);
  });

  it('as in SQL, a NULL passes only null: not ne, not in, not between', () => {
    for (const [op, value] of [
      ['eq', 'a'],
      ['ne', 'a'],
      ['lt', 1],
      ['in', ['a']],
      ['between', [0, 9]],
      ['notnull', undefined],
    ] as const)
      expect(keeps(op, value, null)).toBe(false);
    expect(keeps('null', undefined, null)).toBe(true);
    expect(keeps('null', undefined, 'x')).toBe(false);
    expect(filterPredicate({ column: 'absent', op: 'null' })({ x: 1 })).toBe(true);
  });
});

describe('rulesTransform', () => {
  const t = rulesTransform(transforms([DESIGN_RULE]));
  const plan = t.plan(customers);

  it('renames the table and columns, leaves excluded columns out, retypes masked columns to fit their values', () => {
    expect(plan.table.target).toEqual({ schema: 'crm', name: 'clients' });
    expect(plan.table.source).toEqual(customers.source);
    expect(plan.table.columns.map((c) => c.name)).toEqual(['id', 'email_address', 'phone', 'ssn', 'dob', 'region']);
    const byName = Object.fromEntries(plan.table.columns.map((c) => [c.name, c]));
    expect(byName.email_address!.type).toEqual({ kind: 'string', maxLength: 64 });
    expect(byName.email_address!.sourceType).toBe('varchar(64)');
    // Spelled as the source's engine prints it: a same-engine target compares its column with it.
    const fromPostgres = t.plan({ ...customers, engine: 'postgres' }).table.columns.find((c) => c.name === 'email_address')!;
    expect(fromPostgres.sourceType).toBe('character varying(64)');
    expect(byName.ssn!.type).toEqual({ kind: 'string', maxLength: REDACTED.length });
    expect(byName.phone!.type).toEqual(customers.columns[2]!.type);
    expect(byName.dob!).toMatchObject({ type: { kind: 'date' }, nullable: true });
    // A redacted column's unique index would refuse the second row; a hashed one stays unique.
    expect(plan.table.indexes).toEqual([
      { name: 'by_email', columns: ['email_address'], unique: true },
      { name: 'by_ssn', columns: ['ssn'], unique: false },
    ]);
  });

  it('maps whole and partial rows by target names, masked; filters whole rows', () => {
    expect(plan.columns!(source)).toEqual({
      id: 7,
      email_address: hmac('a@b.example'),
      phone: '************0018',
      ssn: REDACTED,
      dob: null,
      region: 'uk',
    });
    expect(plan.columns!({ id: 7 })).toEqual({ id: 7 });
    expect(plan.keeps!(source)).toBe(true);
    expect(plan.keeps!({ ...source, region: 'us' })).toBe(false);
    expect(plan.keeps!({ ...source, region: null })).toBe(false);
  });

  it('hashes a key column in keys and images alike, and keeps foreign keys whose both ends are hashed', () => {
    const rules: TransformRule[] = [
      { match: 'shop.customers', mask: { id: 'hash' } },
      { match: 'shop.orders', mask: { customer_id: 'hash' } },
    ];
    const tt = new TableTransforms(rulesTransform(transforms(rules)), [customers, orders]);
    const e: ChangeEvent = { op: 'u', table: customers.source, key: { id: 7 }, before: { ...source }, after: { ...source, region: 'eu' } };
    const tx: Transaction = { events: [e], position: { kind: 'mysql', file: 'b.1', pos: 4 }, commitTime: new Date(0) };
    const out = tt.transaction(tx).events[0]!;
    expect(out.key).toEqual({ id: hmac('7') });
    expect(out.after!.id).toBe(hmac('7'));
    expect(tt.target(orders).foreignKeys).toEqual(orders.foreignKeys);
    const unmasked = new TableTransforms(rulesTransform(transforms([rules[0]!])), [customers, orders]);
    expect(unmasked.target(orders).foreignKeys).toEqual([]);
    const renamed = new TableTransforms(rulesTransform(transforms([{ match: 'shop.customers', columns: { rename: { id: 'cid' } } }])), [customers, orders]);
    expect(renamed.target(orders).foreignKeys![0]!.referencedColumns).toEqual(['cid']);
  });

  it('an update that moves a row out of the filter deletes it, into it inserts it', () => {
    const tt = new TableTransforms(t, [customers]);
    const moved = (from: string, to: string): ChangeEvent => ({
      op: 'u',
      table: customers.source,
      key: { id: 7 },
      before: { ...source, region: from },
      after: { ...source, region: to },
    });
    const tx = (e: ChangeEvent): Transaction => ({ events: [e], position: { kind: 'mysql', file: 'b.1', pos: 4 }, commitTime: new Date(0) });
    expect(tt.transaction(tx(moved('uk', 'us'))).events[0]!.op).toBe('d');
    expect(tt.transaction(tx(moved('us', 'eu'))).events[0]).toMatchObject({ op: 'c', after: { email_address: hmac('a@b.example'), region: 'eu' } });
    expect(tt.transaction(tx(moved('us', 'fr'))).events).toEqual([]);
    expect(tt.passesRows(customers)).toBe(false);
  });

  it('a rename alone keeps rows as they are (the fast path stays); schema.* keeps each name', () => {
    const only = rulesTransform(transforms([{ match: 'shop.*', rename: 'crm.*' }]));
    const p = only.plan(orders);
    expect(p.table.target).toEqual({ schema: 'crm', name: 'orders' });
    expect(p.columns).toBeUndefined();
    expect(p.keeps).toBeUndefined();
    expect(rulesTransform(transforms([{ match: 'x.y', rename: 'z' }])).plan(orders).table.target).toEqual(orders.target);
  });
});

describe('rule validation', () => {
  const problems = (rules: TransformRule[]) => ruleProblems(transforms(rules), [customers, orders]);

  it('accepts the design example', () => {
    expect(problems([DESIGN_RULE])).toEqual([]);
  });

  it('names the rule of an unknown table or column', () => {
    expect(problems([{ match: 'shop.nope' }])).toEqual(['transforms.rules[0] (match "shop.nope"): matches no source table ferry replicates']);
    expect(problems([{ match: 'shop.customers', columns: { exclude: ['nope'] }, filter: [{ column: 'gone', op: 'null' }] }])).toEqual([
      'transforms.rules[0] (match "shop.customers"): shop.customers: columns.exclude names column "nope", which the source table does not have',
      'transforms.rules[0] (match "shop.customers"): shop.customers: filter names column "gone", which the source table does not have',
    ]);
    expect(problems([{ match: 'shop.customers', columns: { rename: { email: 'mail' } }, mask: { email: 'hash' } }])[0]).toContain(
      'mask names column "email", which the rule renames: name it "mail"',
    );
    expect(problems([{ match: 'shop.*' }, { match: 'shop.orders' }])).toEqual([
      'transforms.rules[1] (match "shop.orders"): every table it matches falls under an earlier rule (the first matching rule applies)',
    ]);
    expect(problems([{ match: 'shop.*', rename: 'one' }])[0]).toContain('renames 2 tables');
  });

  it('refuses a key column masked by anything but hash, or left out', () => {
    expect(problems([{ match: 'shop.customers', mask: { id: 'hash' } }])).toEqual([]);
    expect(problems([{ match: 'shop.customers', mask: { id: 'redact' } }])).toEqual([
      'transforms.rules[0] (match "shop.customers"): shop.customers: mask redact on primary key column "id" would make keys equal or change them: only hash keeps keys unique and stable',
    ]);
    expect(problems([{ match: 'shop.customers', mask: { id: { keepLast: 2 } } }])[0]).toContain('only hash keeps keys unique');
    expect(problems([{ match: 'shop.customers', columns: { include: ['email'] } }])[0]).toContain('the primary key column "id" is left out');
    expect(() => checkRules(transforms([{ match: 'shop.customers', mask: { id: 'null' } }]), [customers])).toThrow(FerryError);
    expect(() => rulesTransform(transforms([{ match: 'shop.customers', mask: { id: 'null' } }])).plan(customers)).toThrow(/only hash/);
  });
});

describe('transforms config', () => {
  const minimal = {
    pipeline: 'orders',
    source: { type: 'mysql', url: 'mysql://ferry:secret@db.example:3306/shop' },
    target: { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop' },
  };
  const envBefore = process.env.MASK_SALT_TEST;
  afterEach(() => {
    if (envBefore === undefined) delete process.env.MASK_SALT_TEST;
    else process.env.MASK_SALT_TEST = envBefore;
  });
  const messageOf = (doc: unknown) => {
    try {
      parseConfig(doc);
    } catch (err) {
      return (err as FerryError).message;
    }
    throw new Error('expected a config error');
  };

  it('has no rules by default; takes the design example with the salt from the environment', () => {
    expect(parseConfig(minimal).transforms).toEqual({ rules: [] });
    process.env.MASK_SALT_TEST = SALT;
    const c = parseConfig({ ...minimal, transforms: { salt: '${MASK_SALT_TEST}', rules: [DESIGN_RULE] } });
    expect(c.transforms.salt).toBe(SALT);
    expect(c.transforms.rules[0]).toEqual(DESIGN_RULE);
  });

  it('reads the salt from saltFile', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferry-salt-')), 'salt');
    writeFileSync(file, `${SALT}\n`);
    expect(parseConfig({ ...minimal, transforms: { saltFile: file, rules: [] } }).transforms.salt).toBe(SALT);
  });

  it('refuses a hash without a salt, a short salt, wrong filter values and unknown masks, without printing the salt', () => {
    expect(messageOf({ ...minimal, transforms: { rules: [{ match: 'a.b', mask: { c: 'hash' } }] } })).toContain(
      'rules[0] hashes a column: set transforms.salt',
    );
    expect(messageOf({ ...minimal, transforms: { salt: 'short-salt', rules: [] } })).not.toContain('short-salt');
    expect(messageOf({ ...minimal, transforms: { rules: [{ match: 'a.b', filter: [{ column: 'c', op: 'in', value: 'x' }] }] } })).toContain(
      'transforms.rules[0].filter[0].value: in takes a list of values',
    );
    expect(messageOf({ ...minimal, transforms: { rules: [{ match: 'a.b', filter: [{ column: 'c', op: 'between', value: [1] }] }] } })).toContain(
      'between takes two bounds',
    );
    expect(messageOf({ ...minimal, transforms: { rules: [{ match: 'a.b', mask: { c: 'scramble' } }] } })).toContain('transforms.rules[0].mask.c');
    expect(messageOf({ ...minimal, transforms: { rules: [{ match: 'a.b', columns: { include: ['x'], exclude: ['y'] } }] } })).toContain(
      'give include or exclude, not both',
    );
  });
});

describe('filter pushdown into the snapshot', () => {
  const filters: RowFilter[] = [
    { column: 'region', op: 'in', value: ['eu', "it's"] },
    { column: 'id', op: 'between', value: [10, 20] },
    { column: 'email', op: 'notnull' },
    { column: 'email', op: 'ne', value: 'x' },
    { column: 'region', op: 'gt', value: 'a' },
    { column: 'id', op: 'gt', value: 2.5 },
    { column: 'dob', op: 'eq', value: '2000-01-01' },
  ];

  it('pushes only conditions whose SQL keeps every row ferry keeps: NULL tests, text equality, whole-number comparisons on integers', () => {
    expect(pushable(filters, customers.columns)).toEqual([filters[0], filters[1], filters[2]]);
  });

  it('binds every value as a parameter, after the keyset values, on both engines', () => {
    const pushed = pushable(filters, customers.columns);
    const my = mysqlChunkSql(customers, { id: 5 }, 100, pushed);
    expect(my.sql).toBe(
      'SELECT `id`, `email`, `phone`, `ssn`, `dob`, `notes`, `region` FROM `shop`.`customers` WHERE ((`id` > ?)) AND (`region` IN (?, ?)) AND (`id` BETWEEN ? AND ?) AND (`email` IS NOT NULL) ORDER BY `id` LIMIT 100',
    );
    expect(my.values).toEqual([5, 'eu', "it's", 10, 20]);
    const values: Value[] = [5];
    const where = filterParams(customers, pushed, values);
    expect(where).toBe('("region" IN ($2::text, $3::text)) AND ("id" BETWEEN $4::bigint AND $5::bigint) AND ("email" IS NOT NULL)');
    expect(values).toEqual([5, 'eu', "it's", 10, 20]);
    expect(
      pgChunkSql(
        { ...customers, columns: customers.columns.map((c) => ({ ...c, sourceType: c.name === 'id' ? 'integer' : c.sourceType })) },
        ['$1'],
        100,
        where,
      ),
    ).toContain('WHERE ("id") > ($1::integer) AND ("region" IN ($2::text, $3::text))');
    expect(rulesTransform(transforms([DESIGN_RULE])).plan(customers).pushdown).toEqual(DESIGN_RULE.filter);
  });
});

describe('source key values through the rules', () => {
  it("a renamed identity column's next value reaches the target under its target name; a masked one's does not", () => {
    const t = rulesTransform(
      transforms([
        { match: 'shop.orders', rename: 'shop.purchases', columns: { rename: { id: 'order_id' } } },
        { match: 'shop.customers', mask: { id: 'hash' } },
      ]),
    );
    expect([...passedColumns(orders, t.plan(orders))]).toEqual([
      ['id', 'order_id'],
      ['customer_id', 'customer_id'],
    ]);
    const next = new Map([
      ['shop.orders', new Map([['id', 1_000_001n]])],
      ['shop.customers', new Map([['id', 42n]])],
    ]);
    expect(nextKeyValuesThrough(next, [orders, customers], t)).toEqual(
      new Map([
        ['shop.orders', new Map([['order_id', 1_000_001n]])],
        ['shop.customers', new Map()],
      ]),
    );
  });
});
