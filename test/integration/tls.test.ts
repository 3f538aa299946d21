import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMariaDb, startPostgres, type LocalServer } from '../../src/demo/local-databases.js';
import { connect } from '../../src/engines/mysql/connection.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';
import { runCli, startCli, waitFor, writeConfig } from '../helpers/ferry.js';

/**
 * TLS and secrets against real servers (DESIGN §1.2 "Keys added in turn 2"): a private MariaDB and a
 * private Postgres offering TLS with a certificate for `localhost` made by the test. The servers
 * refuse ferry's user without TLS (MariaDB REQUIRE SSL, Postgres hostssl), so every connection that
 * works — snapshot, apply and replication alike — is encrypted; pg_stat_ssl shows it as well.
 * The user's password holds URL characters: percent-encoded in one URL, from passwordFile in the other.
 */
const USER = 'ferry_tls';
const PASSWORD = 'p@ss#w/rd?';
const ENCODED = encodeURIComponent(PASSWORD);
const DB = 'tlsdb';

let certs: TestCertificates;
let maria: LocalServer;
let postgres: LocalServer;
let passwordFile: string;

function mysqlUrl(host: string, params = '', withPassword = true): string {
  return `mysql://${USER}${withPassword ? `:${ENCODED}` : ''}@${host}:${maria.port}/${DB}${params}`;
}

function pgUrl(host: string, params = '', withPassword = true): string {
  return `postgres://${USER}${withPassword ? `:${ENCODED}` : ''}@${host}:${postgres.port}/${DB}${params}`;
}

async function pgAdmin<T>(work: (c: pg.Client) => Promise<T>, database = DB): Promise<T> {
  const c = new pg.Client({ connectionString: postgres.url(database) });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function mariaAdmin<T>(work: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ uri: maria.url(), multipleStatements: true });
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** TLS sessions of ferry's user on the private Postgres: backend type and whether it is encrypted. */
async function pgSessions(): Promise<{ backend_type: string; ssl: boolean }[]> {
  return pgAdmin(
    async (c) => (await c.query(`SELECT a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = $1`, [USER])).rows,
  );
}

beforeAll(async () => {
  certs = makeCertificates();
  const tls = { ca: certs.ca, cert: certs.cert, key: certs.key };
  [maria, postgres] = await Promise.all([startMariaDb({ tls }), startPostgres({ tls })]);
  passwordFile = join(certs.dir, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  await mariaAdmin((c) =>
    c.query(`
    CREATE DATABASE ${DB};
    CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}' REQUIRE SSL;
    GRANT ALL PRIVILEGES ON *.* TO '${USER}'@'%';`),
  );
  await pgAdmin(async (c) => {
    await c.query(`CREATE ROLE ${USER} LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
    await c.query(`CREATE DATABASE ${DB} OWNER ${USER}`);
    // ferry's user: TLS and its password, or nothing (the admin connections of the test stay as they were).
    const hba = join(postgres.dir, 'data', 'pg_hba.conf');
    writeFileSync(hba, `hostssl all ${USER} 127.0.0.1/32 scram-sha-256\nhost all ${USER} 0.0.0.0/0 reject\n${readFileSync(hba, 'utf8')}`);
    await c.query('SELECT pg_reload_conf()');
  }, 'postgres');
}, 180_000);

afterAll(async () => {
  await Promise.all([maria?.destroy(), postgres?.destroy()]);
});

describe('TLS to the servers', () => {
  it("the private servers refuse ferry's user without TLS (what makes the run tests below prove TLS)", async () => {
    await expect(mysql.createConnection({ host: '127.0.0.1', port: maria.port, user: USER, password: PASSWORD })).rejects.toThrow(/Access denied/);
    const plain = new pg.Client({ host: '127.0.0.1', port: postgres.port, user: USER, password: PASSWORD, database: DB, ssl: false });
    await expect(plain.connect()).rejects.toThrow(/rejects connection|pg_hba/);
    const conn = await connect(mysqlUrl('localhost', `?ssl-mode=VERIFY_IDENTITY&ssl-ca=${encodeURIComponent(certs.ca)}`));
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    expect(String(rows[0]!.Value)).not.toBe('');
    conn.destroy();
  });

  it('MariaDB → Postgres, verify-full both ends: check passes, run snapshots and streams over TLS only', async () => {
    await mariaAdmin((c) => c.query(`CREATE TABLE ${DB}.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO ${DB}.items VALUES (1, 'snapshot');`));
    const config = writeConfig({
      pipeline: 'tls_my',
      source: { type: 'mysql', url: mysqlUrl('localhost'), tls: { mode: 'verify-full', ca: certs.ca } },
      target: { type: 'postgres', url: pgUrl('localhost', '', false), passwordFile, tls: { mode: 'verify-full', ca: certs.ca } },
      tables: { include: [`${DB}.*`] },
      apply: { batchMaxMs: 50 },
    });
    const check = await runCli(['check', '-c', config]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stderr).not.toMatch(/SECURITY WARNING/);
    const ferry = startCli(['run', '-c', config]);
    try {
      await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null, 120_000);
      expect(ferry.child.exitCode, ferry.output()).toBeNull();
      await mariaAdmin((c) => c.query(`INSERT INTO ${DB}.items VALUES (2, 'streamed')`));
      const target = await pgAdmin(async (c) =>
        waitFor('the streamed row', async () => {
          const { rows } = await c.query(`SELECT id, name FROM ${DB}.items ORDER BY id`).catch(() => ({ rows: [] }));
          return rows.length === 2 ? rows : null;
        }),
      );
      expect(target).toEqual([
        { id: 1, name: 'snapshot' },
        { id: 2, name: 'streamed' },
      ]);
      const binlogDumps = await mariaAdmin(
        async (c) =>
          (
            await c.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND LIKE 'Binlog Dump%'`, [
              USER,
            ])
          )[0][0]!.n,
      );
      expect(Number(binlogDumps), 'the binlog connection (REQUIRE SSL: over TLS)').toBe(1);
      const sessions = await pgSessions();
      expect(sessions.length).toBeGreaterThan(0);
      expect(
        sessions.filter((s) => !s.ssl),
        JSON.stringify(sessions),
      ).toEqual([]);
    } finally {
      ferry.child.kill('SIGTERM');
      const r = await ferry.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/SECURITY WARNING/);
    }
  }, 240_000);

  it('Postgres → MariaDB, require both ends: the replication connection is encrypted too', async () => {
    await pgAdmin((c) => c.query(`CREATE TABLE public.things (id int PRIMARY KEY, name text); INSERT INTO public.things VALUES (1, 'snapshot')`));
    const config = writeConfig({
      pipeline: 'tls_pg',
      source: { type: 'postgres', url: pgUrl('127.0.0.1'), tls: { mode: 'require' } },
      target: { type: 'mysql', url: mysqlUrl('127.0.0.1', '?ssl-mode=REQUIRED', false), passwordFile, schema: 'tls_copy' },
      tables: { include: ['public.*'] },
      apply: { batchMaxMs: 50 },
    });
    const check = await runCli(['check', '-c', config]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const ferry = startCli(['run', '-c', config]);
    try {
      await waitFor('the stream to start', async () => /streaming from/.test(ferry.output()) || ferry.child.exitCode !== null, 120_000);
      expect(ferry.child.exitCode, ferry.output()).toBeNull();
      await pgAdmin((c) => c.query(`INSERT INTO public.things VALUES (2, 'streamed')`));
      const target = await mariaAdmin((c) =>
        waitFor('the streamed row', async () => {
          const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id, name FROM tls_copy.things ORDER BY id').catch(() => [[]] as never);
          return rows.length === 2 ? rows.map((r) => ({ ...r })) : null;
        }),
      );
      expect(target).toEqual([
        { id: 1, name: 'snapshot' },
        { id: 2, name: 'streamed' },
      ]);
      const sessions = await pgSessions();
      expect(sessions.map((s) => s.backend_type)).toContain('walsender');
      expect(
        sessions.filter((s) => !s.ssl),
        JSON.stringify(sessions),
      ).toEqual([]);
    } finally {
      ferry.child.kill('SIGTERM');
      const r = await ferry.done;
      expect(r.code, r.stderr).toBe(0);
    }
  }, 240_000);

  it('verify-full refuses a certificate for another host or from another CA (check exits 2); verify-ca skips the host', async () => {
    // The MariaDB serves a certificate for db.example from now on (FLUSH SSL rereads its files).
    const serving = { cert: readFileSync(certs.cert), key: readFileSync(certs.key) };
    const serve = async (cert: Buffer, key: Buffer) => {
      writeFileSync(certs.cert, cert);
      writeFileSync(certs.key, key);
      await mariaAdmin((c) => c.query('FLUSH SSL'));
    };
    await serve(readFileSync(certs.otherHostCert), readFileSync(certs.otherHostKey));
    try {
      const wrong = writeConfig({
        pipeline: 'tls_wrong',
        source: { type: 'mysql', url: mysqlUrl('localhost'), tls: { mode: 'verify-full', ca: certs.ca } },
        target: { type: 'postgres', url: pgUrl('localhost', `?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.otherCa)}`) },
        tables: { include: [`${DB}.*`] },
      });
      const r = await runCli(['check', '-c', wrong]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toMatch(
        new RegExp(`source ${USER}@localhost:${maria.port}: the server's TLS certificate failed verification \\(ERR_TLS_CERT_ALTNAME_INVALID`),
      );
      expect(r.stdout).toMatch(/verify-ca to check the chain without the host name/);
      expect(r.stdout).toMatch(
        new RegExp(
          `target ${USER}@localhost:${postgres.port}/${DB}: the server's TLS certificate failed verification \\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)`,
        ),
      );
      expect(r.stdout).toMatch(/set target\.tls\.ca to the CA that signed/);
      expect(r.stdout + r.stderr).not.toContain(ENCODED);
      expect(r.stderr).not.toMatch(/SECURITY WARNING/);

      // The Postgres certificate names localhost, not 127.0.0.1; verify-ca checks only the chain.
      const pgWrongHost = writeConfig({
        pipeline: 'tls_pg_ip',
        source: { type: 'postgres', url: pgUrl('127.0.0.1'), tls: { mode: 'verify-full', ca: certs.ca } },
        target: { type: 'mysql', url: mysqlUrl('localhost'), tls: { mode: 'verify-ca', ca: certs.ca }, schema: 'tls_copy2' },
        tables: { include: ['public.*'] },
      });
      const ip = await runCli(['check', '-c', pgWrongHost]);
      expect(ip.code, ip.stdout + ip.stderr).toBe(2);
      expect(ip.stdout).toMatch(
        new RegExp(`source ${USER}@127\\.0\\.0\\.1:${postgres.port}/${DB}: the server's TLS certificate failed verification \\(ERR_TLS_CERT_ALTNAME_INVALID`),
      );
      expect(ip.stdout, 'verify-ca passes the db.example certificate at localhost').not.toMatch(/\[target\]/);
    } finally {
      await serve(serving.cert, serving.key);
    }

    const verifyCa = writeConfig({
      pipeline: 'tls_verify_ca',
      source: { type: 'postgres', url: pgUrl('127.0.0.1'), tls: { mode: 'verify-ca', ca: certs.ca } },
      target: { type: 'mysql', url: mysqlUrl('localhost'), tls: { mode: 'verify-full', ca: certs.ca }, schema: 'tls_copy2' },
      tables: { include: ['public.*'] },
    });
    const ok = await runCli(['check', '-c', verifyCa]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  }, 120_000);

  it('require against servers without TLS fails clearly (check exits 2 naming the endpoint)', async () => {
    const shared = { mariadb: new URL(inject('mariadbUrl')), postgres: new URL(inject('postgresUrl')) };
    const config = writeConfig({
      pipeline: 'tls_absent',
      source: { type: 'mysql', url: `mysql://root@127.0.0.1:${shared.mariadb.port}/?ssl-mode=REQUIRED` },
      target: { type: 'postgres', url: `postgres://postgres@127.0.0.1:${shared.postgres.port}/postgres`, tls: { mode: 'require' } },
    });
    const r = await runCli(['check', '-c', config]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(
      new RegExp(`source root@127\\.0\\.0\\.1:${shared.mariadb.port} does not offer TLS, and source asks for it \\(tls\\.mode or the URL's ssl mode\\)`),
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `target postgres@127\\.0\\.0\\.1:${shared.postgres.port}/postgres does not offer TLS, and target asks for it \\(tls\\.mode or the URL's ssl mode\\)`,
      ),
    );
    expect(r.stderr).not.toMatch(/SECURITY WARNING/);
  }, 120_000);
});
