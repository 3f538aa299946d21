import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, parseConfig, sqlSource, sqlTarget, type SqlSourceConfig } from '../../src/config.js';
import { FerryError } from '../../src/core/errors.js';

/** The smallest document parseConfig accepts; tests spread their own keys over it. */
const minimal = {
  pipeline: 'orders',
  source: { type: 'mysql', url: 'mysql://ferry:secret@db.example:3306/shop' },
  target: { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop' },
};

function configErrorOf(doc: unknown): FerryError {
  try {
    parseConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('config');
    return err as FerryError;
  }
  throw new Error('expected parseConfig to reject the document');
}

/** The source parseConfig makes of `doc`, which must be of `type`. */
function sourceOf<T extends SqlSourceConfig['type']>(doc: unknown, type: T): Extract<SqlSourceConfig, { type: T }> {
  const source = sqlSource(parseConfig(doc));
  expect(source.type).toBe(type);
  return source as Extract<SqlSourceConfig, { type: T }>;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('parseConfig defaults', () => {
  it('selects the database named in source.url, or every database when it names none', () => {
    expect(parseConfig({ ...minimal, source: { type: 'mysql', url: 'mysql://u:p@db1:3306/shop' } }).tables.include).toEqual(['shop.*']);
    expect(parseConfig({ ...minimal, source: { type: 'mysql', url: 'mysql://u:p@db1:3306' } }).tables.include).toEqual(['*.*']);
    expect(parseConfig({ ...minimal, source: { type: 'mysql', url: 'mysql://u:p@db1:3306/shop' }, tables: { include: ['crm.*'] } }).tables.include).toEqual([
      'crm.*',
    ]);
  });

  it('fills every optional section with its documented default', () => {
    const c = parseConfig(minimal);
    expect(c.tables).toEqual({ include: [`${new URL(minimal.source.url).pathname.slice(1)}.*`], exclude: [] });
    expect(c.snapshot).toEqual({ mode: 'initial', tablePrep: 'create', parallelism: 4, chunkRows: 50_000 });
    expect(c.apply).toEqual({ batchMaxRows: 10_000, batchMaxMs: 200, queueMaxEvents: 20_000 });
    expect(c.types).toEqual({ tinyint1: 'smallint' });
    expect(c.log).toEqual({ level: 'info' });
    expect(c.admin).toBeUndefined();
    expect(sqlTarget(c).schema).toBeUndefined();
  });

  it('verifies a cutover by checksums unless cutover.verify says otherwise; a kafka target, which cannot be read back, with none only', () => {
    expect(parseConfig(minimal).cutover).toEqual({ verify: 'checksums' });
    expect(parseConfig({ ...minimal, cutover: { verify: 'counts' } }).cutover).toEqual({ verify: 'counts' });
    expect(parseConfig({ ...minimal, cutover: { verify: 'none' } }).cutover).toEqual({ verify: 'none' });
    expect(configErrorOf({ ...minimal, cutover: { verify: 'rows' } }).message).toMatch(/cutover\.verify/);
    const kafka = { ...minimal, target: { type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'orders' } };
    expect(parseConfig(kafka).cutover).toEqual({ verify: 'none' });
    expect(configErrorOf({ ...kafka, cutover: { verify: 'checksums' } }).message).toMatch(/cutover\.verify: checksums needs a target ferry can read back/);
  });

  it('fills defaults inside a section that is only partly given', () => {
    const c = parseConfig({ ...minimal, snapshot: { mode: 'always' }, admin: {} });
    expect(c.snapshot).toEqual({ mode: 'always', tablePrep: 'create', parallelism: 4, chunkRows: 50_000 });
    expect(c.admin).toEqual({ listen: '127.0.0.1:8080', readyMaxLagSeconds: 60 });
  });

  it('keeps values that are given', () => {
    const c = parseConfig({
      ...minimal,
      tables: { include: ['shop.*'], exclude: ['shop.tmp_*'] },
      apply: { batchMaxRows: 5, batchMaxMs: 0, queueMaxEvents: 100 },
      types: { tinyint1: 'boolean' },
    });
    expect(c.tables).toEqual({ include: ['shop.*'], exclude: ['shop.tmp_*'] });
    expect(c.apply).toEqual({ batchMaxRows: 5, batchMaxMs: 0, queueMaxEvents: 100 });
    expect(c.types.tinyint1).toBe('boolean');
  });
});

describe('parseConfig environment interpolation', () => {
  it('replaces ${NAME} inside a larger string', () => {
    vi.stubEnv('FERRY_TEST_PASSWORD', 'p4ss');
    const c = parseConfig({ ...minimal, source: { type: 'mysql', url: 'mysql://ferry:${FERRY_TEST_PASSWORD}@db:3306/shop' } });
    expect(sqlSource(c).url).toBe('mysql://ferry:p4ss@db:3306/shop');
  });

  it('uses the default of ${NAME:-default} when the variable is unset', () => {
    vi.stubEnv('FERRY_TEST_HOST', undefined);
    const c = parseConfig({ ...minimal, target: { type: 'postgres', url: 'postgres://u@${FERRY_TEST_HOST:-localhost}:5432/db' } });
    expect(sqlTarget(c).url).toBe('postgres://u@localhost:5432/db');
  });

  it('prefers a set variable over the default', () => {
    vi.stubEnv('FERRY_TEST_HOST', 'pg.internal');
    const c = parseConfig({ ...minimal, target: { type: 'postgres', url: 'postgres://u@${FERRY_TEST_HOST:-localhost}:5432/db' } });
    expect(sqlTarget(c).url).toBe('postgres://u@pg.internal:5432/db');
  });

  it('interpolates strings inside arrays', () => {
    vi.stubEnv('FERRY_TEST_DB', 'shop');
    const c = parseConfig({ ...minimal, tables: { include: ['${FERRY_TEST_DB}.*'] } });
    expect(c.tables.include).toEqual(['shop.*']);
  });

  it.each([
    ['source.url', { ...minimal, source: { type: 'mysql', url: '${FERRY_TEST_MISSING}' } }],
    ['pipeline', { ...minimal, pipeline: '${FERRY_TEST_MISSING}' }],
    ['tables.include[1]', { ...minimal, tables: { include: ['a.*', 'b_${FERRY_TEST_MISSING}.*'] } }],
  ])('names the key path %s when a variable is missing', (path, doc) => {
    vi.stubEnv('FERRY_TEST_MISSING', undefined);
    const err = configErrorOf(doc);
    expect(err.message).toContain(path);
    expect(err.message).toContain('FERRY_TEST_MISSING');
  });

  it('reports every unset variable together with every other problem, in one error', () => {
    vi.stubEnv('FERRY_TEST_MISSING', undefined);
    vi.stubEnv('FERRY_TEST_MISSING_TOO', undefined);
    const err = configErrorOf({
      ...minimal,
      source: { type: 'mysql', url: '${FERRY_TEST_MISSING}' },
      target: { ...minimal.target, url: 'postgres://u:${FERRY_TEST_MISSING_TOO}@pg:5432/shop' },
      snapshot: { chunkrows: 5, parallelism: 'four' },
    });
    expect(err.message).toContain('source.url: environment variable FERRY_TEST_MISSING is not set');
    expect(err.message).toContain('target.url: environment variable FERRY_TEST_MISSING_TOO is not set');
    expect(err.message).toMatch(/snapshot: .*chunkrows/);
    expect(err.message).toMatch(/snapshot\.parallelism: .*number/);
    // The unset variable's key is named once, for the variable, not again as "not a URL".
    expect(err.message.match(/source\.url/g)).toHaveLength(1);
    expect(err.hint).toContain('docs/config.md');
  });
});

describe('parseConfig rejections', () => {
  it.each([
    ['a top-level key', { ...minimal, colour: 'blue' }, 'colour'],
    ['a nested key', { ...minimal, snapshot: { mode: 'initial', chunksize: 10 } }, 'chunksize'],
    ['a key inside source', { ...minimal, source: { ...minimal.source, host: 'db' } }, 'host'],
  ])('rejects an unknown key (%s) and names it', (_, doc, key) => {
    expect(configErrorOf(doc).message).toContain(key);
  });

  it.each([
    ['snapshot.parallelism', { ...minimal, snapshot: { parallelism: '4' } }],
    ['apply.batchMaxRows', { ...minimal, apply: { batchMaxRows: 1.5 } }],
    ['tables.include', { ...minimal, tables: { include: 'shop.*' } }],
    ['source.url', { ...minimal, source: { type: 'mysql', url: 'not a url' } }],
    ['pipeline', { ...minimal, pipeline: 'has spaces' }],
    ['snapshot.mode', { ...minimal, snapshot: { mode: 'sometimes' } }],
  ])('rejects a wrong value for %s and names the key', (path, doc) => {
    expect(configErrorOf(doc).message).toContain(path);
  });

  it('lists every missing required key of an empty document', () => {
    const message = configErrorOf(undefined).message;
    for (const key of ['pipeline', 'source', 'target']) expect(message).toContain(key);
  });

  it('takes a SQL Server target: mssql:// or sqlserver://, TLS in the URL or the tls key, the password from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-config-'));
    const secret = join(dir, 'password');
    writeFileSync(secret, 'p@ss:w/rd\n');
    const c = parseConfig({ ...minimal, target: { type: 'mssql', url: 'sqlserver://ferry@h:1444/mart', passwordFile: secret, tls: { mode: 'require' } } });
    expect(c.target.type).toBe('mssql');
    const url = new URL((c.target as { url: string }).url);
    expect([url.protocol, url.hostname, url.port, url.pathname, decodeURIComponent(url.password)]).toEqual(['sqlserver:', 'h', '1444', '/mart', 'p@ss:w/rd']);
    expect(url.searchParams.get('sslmode')).toBe('require');
    expect(parseConfig({ ...minimal, target: { type: 'mssql', url: 'mssql://u:p@h/mart?sslmode=verify-full' } }).target.type).toBe('mssql');
  });

  it('refuses a SQL Server URL of another scheme, and TLS verify-ca, which its driver cannot keep, naming the key and the fix', () => {
    expect(configErrorOf({ ...minimal, target: { type: 'mssql', url: 'postgres://u@h/db' } }).message).toContain(
      'target.url: a mssql endpoint needs a mssql:// URL',
    );
    const e = configErrorOf({ ...minimal, target: { type: 'mssql', url: 'mssql://u@h/db', tls: { mode: 'verify-ca' } } });
    expect(e.message).toMatch(/target\.url: TLS mode verify-ca: .*cannot check the certificate's chain without its host name/);
    expect(e.hint).toContain('verify-full');
  });

  it('takes a kafka target (the producing process) with idempotence on and per-table topics by default', () => {
    const c = parseConfig({ ...minimal, target: { type: 'kafka', brokers: ['k1:9092', 'k2:9092'], topicPrefix: 'orders' } });
    expect(c.target).toEqual({ type: 'kafka', brokers: ['k1:9092', 'k2:9092'], topicPrefix: 'orders', idempotent: true, singleTopic: false });
  });

  it('takes a kafka source (an applying process) and selects every table by default', () => {
    const c = parseConfig({ ...minimal, source: { type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'orders', group: 'orders-apply' } });
    expect(c.source).toEqual({ type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'orders', group: 'orders-apply' });
    expect(c.tables.include).toEqual(['*.*']);
  });

  it.each([
    ['source.group', { ...minimal, source: { type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'orders' } }],
    ['source.brokers', { ...minimal, source: { type: 'kafka', brokers: ['k1'], topicPrefix: 'orders', group: 'g' } }],
    ['target.topicPrefix', { ...minimal, target: { type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'has space' } }],
    ['target', { ...minimal, target: { type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'o', url: 'postgres://h/db' } }],
  ])('names %s when a kafka end is wrong', (key, doc) => {
    expect(configErrorOf(doc).message).toContain(key);
  });

  it('refuses kafka at both ends', () => {
    const kafka = { brokers: ['k1:9092'], topicPrefix: 'orders' };
    expect(configErrorOf({ ...minimal, source: { type: 'kafka', ...kafka, group: 'g' }, target: { type: 'kafka', ...kafka } }).message).toContain('both kafka');
  });

  it('takes a Postgres source with slot and publication named after the pipeline, and every user table', () => {
    const doc = {
      ...minimal,
      pipeline: 'Orders-EU',
      source: { type: 'postgres', url: 'postgres://u:p@pg1:5432/shop' },
      target: { type: 'mysql', url: 'mysql://u:p@db2/shop' },
    };
    const source = sourceOf(doc, 'postgres');
    expect(source.slot).toMatch(/^ferry_orders_eu_[0-9a-f]{6}$/);
    expect(source.publication).toBe(source.slot);
    expect(sourceOf({ ...minimal, pipeline: 'orders_eu', source: { type: 'postgres', url: 'postgres://u:p@pg1:5432/shop' } }, 'postgres').slot).toBe(
      'ferry_orders_eu',
    );
    expect(source.heartbeatSeconds).toBe(1);
    expect(parseConfig(doc).tables.include).toEqual(['*.*']);
  });

  it('refuses a URL whose scheme does not match the endpoint type', () => {
    const message = configErrorOf({ ...minimal, target: { type: 'mysql', url: 'postgres://u@h/db' } }).message;
    expect(message).toContain('target.url');
    expect(message).toContain('mysql://');
  });

  it('refuses a slot name Postgres would not accept', () => {
    expect(configErrorOf({ ...minimal, source: { type: 'postgres', url: 'postgres://h/db', slot: 'Bad-Name' } }).message).toContain('source.slot');
  });

  it('rejects a source type it does not know at all, and lists the types it knows', () => {
    const message = configErrorOf({ ...minimal, source: { type: 'oracle', url: 'oracle://h/db' } }).message;
    expect(message).toContain('source.type');
    expect(message).toMatch(/'mysql' \| 'postgres' \| 'kafka'/);
    expect(configErrorOf({ ...minimal, target: { type: 'oracle' } }).message).toMatch(/target\.type: .*'postgres' \| 'mysql' \| 'mssql' \| 'kafka'/);
  });

  const pgUrl = 'postgres://u:p@pg1:5432/shop';
  it.each([
    ['slot', { type: 'mysql', url: minimal.source.url, slot: 'ferry_orders' }, 'postgres', 'mysql'],
    ['publication', { type: 'mysql', url: minimal.source.url, publication: 'ferry_orders' }, 'postgres', 'mysql'],
    ['serverId', { type: 'postgres', url: pgUrl, serverId: 4242 }, 'mysql', 'postgres'],
    ['group', { type: 'postgres', url: pgUrl, group: 'apply' }, 'kafka', 'postgres'],
  ])('refuses %s on a source of another engine, naming the key and the engine it is for', (key, source, owner, type) => {
    const message = configErrorOf({ ...minimal, source }).message;
    expect(message).toContain(`source: "${key}" is a key of ${owner} sources, not of a ${type} source`);
    expect(message).toContain(`set source.type: ${owner}`);
  });

  it('refuses a key of another engine and an unknown key together, each by name', () => {
    const message = configErrorOf({ ...minimal, source: { ...minimal.source, slot: 'ferry_orders', hots: 'db1' } }).message;
    expect(message).toContain('"slot" is a key of postgres sources');
    expect(message).toContain('Unrecognized key: "hots"');
  });

  it('refuses a database key on a kafka target, naming the database targets it is for', () => {
    const message = configErrorOf({ ...minimal, target: { type: 'kafka', brokers: ['k1:9092'], topicPrefix: 'o', schema: 'app' } }).message;
    expect(message).toContain('target: "schema" is a key of postgres and mysql and mssql targets, not of a kafka target');
  });

  it('takes each engine-specific source key on its own engine', () => {
    expect(sourceOf({ ...minimal, source: { ...minimal.source, serverId: 4242 } }, 'mysql').serverId).toBe(4242);
    const source = sourceOf({ ...minimal, source: { type: 'postgres', url: pgUrl, slot: 'orders_slot', publication: 'orders_pub' } }, 'postgres');
    expect([source.slot, source.publication]).toEqual(['orders_slot', 'orders_pub']);
    expect(source).not.toHaveProperty('serverId');
    expect(sourceOf(minimal, 'mysql')).not.toHaveProperty('slot');
  });
});

describe('parseConfig server id', () => {
  it('derives the same server id from the same pipeline name', () => {
    expect(sourceOf(minimal, 'mysql').serverId).toBe(sourceOf({ ...minimal }, 'mysql').serverId);
  });

  it('derives different server ids for different pipeline names', () => {
    expect(sourceOf(minimal, 'mysql').serverId).not.toBe(sourceOf({ ...minimal, pipeline: 'invoices' }, 'mysql').serverId);
  });

  it.each(['orders', 'a', 'x'.repeat(100), 'billing-eu.v2'])('keeps the derived id for %s a valid replica id, away from small ids', (pipeline) => {
    const id = sourceOf({ ...minimal, pipeline }, 'mysql').serverId;
    expect(Number.isInteger(id)).toBe(true);
    expect(id).toBeGreaterThanOrEqual(100_000);
    expect(id).toBeLessThanOrEqual(4_294_967_295);
  });

  it('uses an explicit serverId as given', () => {
    expect(sourceOf({ ...minimal, source: { ...minimal.source, serverId: 7 } }, 'mysql').serverId).toBe(7);
  });
});

describe('parseConfig result', () => {
  it('is deeply frozen', () => {
    const c = parseConfig(minimal);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.source)).toBe(true);
    expect(Object.isFrozen(c.tables.include)).toBe(true);
    expect(() => {
      (c.snapshot as { mode: string }).mode = 'never';
    }).toThrow(TypeError);
  });

  it('does not modify the document it was given', () => {
    vi.stubEnv('FERRY_TEST_DB', 'shop');
    const doc = { ...minimal, tables: { include: ['${FERRY_TEST_DB}.*'] } };
    parseConfig(doc);
    expect(doc.tables.include).toEqual(['${FERRY_TEST_DB}.*']);
    expect(Object.isFrozen(doc)).toBe(false);
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function loadError(file: string): FerryError {
    try {
      loadConfig(file);
    } catch (err) {
      expect(err).toBeInstanceOf(FerryError);
      return err as FerryError;
    }
    throw new Error('expected loadConfig to fail');
  }

  it('reads and validates a YAML file', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(
      file,
      [
        'pipeline: orders',
        'source: { type: mysql, url: "mysql://u:p@db:3306/shop" }',
        'target: { type: postgres, url: "postgres://u:p@pg:5432/shop" }',
        'snapshot: { parallelism: 8 }',
      ].join('\n'),
    );
    const c = loadConfig(file);
    expect(c.pipeline).toBe('orders');
    expect(c.snapshot.parallelism).toBe(8);
  });

  it('reports a missing file as a config error naming the file', () => {
    const file = join(dir, 'absent.yaml');
    const err = loadError(file);
    expect(err.kind).toBe('config');
    expect(err.message).toContain(file);
  });

  it('reports invalid YAML as a config error', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'pipeline: orders\nsource: [unclosed\n');
    const err = loadError(file);
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/not valid YAML/);
  });

  describe('a YAML syntax error never prints the config text (a line may hold a secret)', () => {
    const secrets = { password: 'S3cretPW-in-url', token: 'tok-0123456789abcdef', tag: 'Sx9tagSecret', alias: 'Sx9aliasSecret' };
    it.each([
      [
        'a URL password',
        `pipeline: orders\nsource: { type: mysql, url: "mysql://ferry:${secrets.password}@db:3306/shop" }\n  target: [\n`,
        secrets.password,
        /line 3, column \d+: /,
      ],
      ['a token in an unclosed quote', `pipeline: orders\nadmin:\n  token: "${secrets.token}\n`, secrets.token, /line \d+, column \d+: Missing closing "quote/],
      ['a token that starts with a tag', `pipeline: orders\nadmin:\n  token: !${secrets.tag} x\n`, secrets.tag, /line 3, column \d+: Unresolved tag/],
      ['a token that starts with an alias', `pipeline: orders\nadmin:\n  token: *${secrets.alias}\n`, secrets.alias, /Unresolved alias/],
    ])('%s: names line, column and problem, without the text', (_, text, secret, where) => {
      const file = join(dir, 'secret.yaml');
      writeFileSync(file, text);
      const err = loadError(file);
      expect(err.kind).toBe('config');
      expect(err.message).toContain(`config file ${file} is not valid YAML`);
      expect(err.message).toMatch(where);
      // Everything printed of the error: message, hint and any cause.
      expect(inspect(err, { depth: 5 }) + err.describe()).not.toContain(secret);
    });
  });

  it('reports an empty file as missing required keys', () => {
    const file = join(dir, 'empty.yaml');
    writeFileSync(file, '');
    const err = loadError(file);
    expect(err.kind).toBe('config');
    expect(err.message).toContain('pipeline');
  });
});

describe('one server as source and target', () => {
  const same = {
    pipeline: 'p',
    source: { type: 'mysql', url: 'mysql://u:p@localhost:3307/shop' },
    target: { type: 'mysql', url: 'mysql://u:p@127.0.0.1:3307', schema: 'shop_copy' },
  };
  it('never reads the target database back as a source', () => {
    expect(parseConfig(same).tables.exclude).toEqual(['shop_copy.*']);
  });
  it('refuses to copy tables onto themselves', () => {
    const { schema: _, ...target } = same.target;
    expect(() => parseConfig({ ...same, target })).toThrow(/the target is the source itself/);
  });
  it('treats two Postgres databases on one server as separate', () => {
    const c = parseConfig({
      pipeline: 'p',
      source: { type: 'postgres', url: 'postgres://u@h:5432/a' },
      target: { type: 'postgres', url: 'postgres://u@h:5432/b' },
    });
    expect(c.tables.exclude).toEqual([]);
  });
});

describe('admin section', () => {
  it('refuses an admin token that is empty or short (an unset ${VAR:-} would open POST to anyone)', () => {
    for (const token of ['', '   ', 'short']) {
      expect(() => parseConfig({ ...minimal, admin: { token } })).toThrow(/admin\.token: use a secret of at least 16 characters/);
    }
    expect(parseConfig({ ...minimal, admin: { token: '0123456789abcdef' } }).admin).toEqual({
      listen: '127.0.0.1:8080',
      token: '0123456789abcdef',
      readyMaxLagSeconds: 60,
    });
  });
});
