import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, sqlSource, sqlTarget } from '../../src/config.js';
import { parseEndpointUrl } from '../../src/core/endpoint-url.js';
import { FerryError } from '../../src/core/errors.js';
import { connectionOptions, describeEndpoint, MYSQL_URL } from '../../src/engines/mysql/connection.js';
import { POSTGRES_URL, pgConnectionConfig } from '../../src/engines/postgres/connection.js';

/** DESIGN §1.2 "Keys added in turn 2": passwordFile, tls, and percent-decoded URLs. */
const PASSWORD = 'p@ss#w/rd?';
const ENCODED = 'p%40ss%23w%2Frd%3F';
const dir = mkdtempSync(join(tmpdir(), 'ferry-endpoint-url-'));
const CA = join(dir, 'ca.pem');
writeFileSync(CA, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');

function config(source: Record<string, unknown>, target: Record<string, unknown> = {}) {
  return parseConfig({
    pipeline: 'orders',
    source: { type: 'mysql', url: 'mysql://ferry@db.example:3306/shop', ...source },
    target: { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop', ...target },
  });
}

function errorOf(make: () => unknown): FerryError {
  try {
    make();
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('config');
    return err as FerryError;
  }
  throw new Error('expected a config error');
}

afterEach(() => vi.unstubAllEnvs());

describe('passwords', () => {
  it('percent-decodes the user and password of every URL', () => {
    const e = parseEndpointUrl(`mysql://fe%40rry:${ENCODED}@db.example:3306/shop`, MYSQL_URL);
    expect(e).toMatchObject({ user: 'fe@rry', password: PASSWORD, host: 'db.example', port: 3306, database: 'shop' });
    expect(connectionOptions(`mysql://ferry:${ENCODED}@db.example/shop`)).toMatchObject({ password: PASSWORD, host: 'db.example' });
    expect(pgConnectionConfig(`postgres://ferry:${ENCODED}@pg.example/shop`)).toMatchObject({ password: PASSWORD, host: 'pg.example', port: 5432 });
  });

  it('refuses a ${VAR} password with raw URL characters, naming the key and not the password', () => {
    vi.stubEnv('FERRY_TEST_PW', PASSWORD);
    const e = errorOf(() => config({ url: 'mysql://ferry:${FERRY_TEST_PW}@db.example:3306/shop' }));
    expect(e.message).toMatch(/source\.url: the user or password holds a raw '#'/);
    expect(e.message).toMatch(/%23/);
    expect(e.message).toMatch(/passwordFile/);
    expect(e.describe()).not.toContain('rd?');
    vi.stubEnv('FERRY_TEST_PW', 'a/b');
    expect(errorOf(() => config({ url: 'mysql://ferry:${FERRY_TEST_PW}@db.example:3306/shop' })).message).toMatch(/raw '\/'/);
    vi.stubEnv('FERRY_TEST_PW', '100%sure');
    expect(errorOf(() => config({ url: 'mysql://ferry:${FERRY_TEST_PW}@db.example:3306/shop' })).message).toMatch(
      /source\.url: the password holds a '%' not followed by two hex digits/,
    );
  });

  it('reads passwordFile, trimming the trailing newline, into every connection of that end', () => {
    const file = join(dir, 'password');
    writeFileSync(file, `${PASSWORD}\n`);
    const c = config({ passwordFile: file });
    expect(parseEndpointUrl(sqlSource(c).url, MYSQL_URL).password).toBe(PASSWORD);
    expect(connectionOptions(sqlSource(c).url)).toMatchObject({ user: 'ferry', password: PASSWORD, host: 'db.example' });
    expect(describeEndpoint(sqlSource(c).url)).toBe('ferry@db.example:3306');
  });

  it('refuses a missing passwordFile, and a password in both places', () => {
    const missing = errorOf(() => config({ passwordFile: join(dir, 'nope') }));
    expect(missing.message).toBe(`source.passwordFile: cannot read ${join(dir, 'nope')} (ENOENT)`);
    const file = join(dir, 'password2');
    writeFileSync(file, 'x\n');
    expect(errorOf(() => config({ url: 'mysql://ferry:secret@db.example:3306/shop', passwordFile: file })).message).toBe(
      'source.passwordFile: source.url has a password too',
    );
    expect(errorOf(() => config({}, { url: 'postgres://ferry@pg.example/shop', passwordFile: join(dir, 'empty') })).message).toMatch(
      /^target\.passwordFile: cannot read/,
    );
  });
});

describe('URL parameters and the tls key', () => {
  it('refuses an unknown URL parameter, naming it and those accepted', () => {
    expect(errorOf(() => config({ url: 'mysql://ferry:x@db.example/shop?useSSL=true' })).message).toBe("source.url: unknown URL parameter 'useSSL'");
    const e = errorOf(() => config({}, { url: 'postgres://ferry:x@pg.example/shop?connect_timeout=5' }));
    expect(e.message).toBe("target.url: unknown URL parameter 'connect_timeout'");
    expect(e.hint).toMatch(/sslmode, sslrootcert, sslcert, sslkey/);
  });

  it("takes TLS from the URL in each engine's own spelling", () => {
    expect(parseEndpointUrl('mysql://u@h/db?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem', MYSQL_URL).tls).toEqual({ mode: 'verify-full', ca: '/ca.pem' });
    expect(parseEndpointUrl('mysql://u@h/db?ssl-mode=required', MYSQL_URL).tls).toEqual({ mode: 'require' });
    expect(parseEndpointUrl('postgres://u@h/db?sslmode=verify-ca&sslrootcert=/ca.pem', POSTGRES_URL).tls).toEqual({ mode: 'verify-ca', ca: '/ca.pem' });
    expect(parseEndpointUrl('postgres://u@h/db', POSTGRES_URL).tls).toEqual({ mode: 'disable' });
    expect(errorOf(() => parseEndpointUrl('postgres://u@h/db?sslmode=prefer', POSTGRES_URL, 'source.url')).message).toMatch(
      /sslmode=prefer falls back to an unencrypted connection/,
    );
    expect(errorOf(() => parseEndpointUrl('mysql://u@h/db?ssl-mode=PREFERRED', MYSQL_URL)).message).toMatch(/falls back/);
  });

  it('folds the tls key into the URL, and refuses a URL parameter that says otherwise', () => {
    const c = config({ tls: { mode: 'verify-full', ca: CA } }, { url: 'postgres://ferry:secret@pg.example/shop?sslmode=require', tls: { mode: 'require' } });
    expect(parseEndpointUrl(sqlSource(c).url, MYSQL_URL).tls).toEqual({ mode: 'verify-full', ca: CA });
    expect(connectionOptions(sqlSource(c).url).ssl).toMatchObject({
      rejectUnauthorized: true,
      verifyIdentity: true,
      ca: Buffer.from(`-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n`),
    });
    // pg's connection-string parser would print a SECURITY WARNING for sslmode: ferry never hands it one.
    const target = pgConnectionConfig(sqlTarget(c).url, 'target');
    expect(target).not.toHaveProperty('connectionString');
    expect(target.ssl).toEqual({ rejectUnauthorized: false });
    expect(errorOf(() => config({ url: 'mysql://ferry@db.example/shop?ssl-mode=REQUIRED', tls: { mode: 'verify-full', ca: CA } })).message).toBe(
      'source.tls.mode: verify-full, but source.url says ssl-mode=REQUIRED',
    );
  });

  it("builds each mode's driver options: require does not check, verify-ca skips the host name", () => {
    expect(connectionOptions('mysql://u@h/db').ssl).toBeUndefined();
    expect(pgConnectionConfig('postgres://u@h/db').ssl).toBe(false);
    expect(connectionOptions('mysql://u@h/db?ssl-mode=REQUIRED').ssl).toEqual({ rejectUnauthorized: false, verifyIdentity: false });
    expect(connectionOptions(`mysql://u@h/db?ssl-mode=VERIFY_CA&ssl-ca=${CA}`).ssl).toMatchObject({ rejectUnauthorized: true, verifyIdentity: false });
    const verifyCa = pgConnectionConfig(`postgres://u@h/db?sslmode=verify-ca&sslrootcert=${CA}`).ssl as {
      rejectUnauthorized: boolean;
      checkServerIdentity?: unknown;
    };
    expect(verifyCa.rejectUnauthorized).toBe(true);
    expect(verifyCa.checkServerIdentity).toBeTypeOf('function');
    expect(pgConnectionConfig(`postgres://u@h/db?sslmode=verify-full&sslrootcert=${CA}`).ssl).not.toHaveProperty('checkServerIdentity');
  });

  it('refuses TLS settings that cannot mean what they say', () => {
    expect(errorOf(() => config({ tls: { mode: 'require', ca: CA } })).message).toMatch(/^source\.tls\.ca: given, but mode require does not check/);
    expect(errorOf(() => config({ tls: { mode: 'verify-full', ca: join(dir, 'missing.pem') } })).message).toBe(
      `source.tls.ca: cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
    );
    expect(errorOf(() => config({ tls: { mode: 'verify-full', cert: CA } })).message).toMatch(/needs both cert and key/);
    expect(errorOf(() => config({ tls: { mode: 'strict' } })).message).toMatch(/source\.tls\.mode/);
    // mysql2 would check an IP address's certificate against the name "localhost": refused, not passed.
    expect(errorOf(() => config({ url: 'mysql://ferry@10.0.0.5/shop', tls: { mode: 'verify-full', ca: CA } })).message).toMatch(
      /^source\.url: TLS mode verify-full against the IP address 10\.0\.0\.5/,
    );
    expect(pgConnectionConfig(`postgres://u@10.0.0.5/db?sslmode=verify-full&sslrootcert=${CA}`).host).toBe('10.0.0.5');
  });
});
