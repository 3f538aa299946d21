import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chownSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * Private, throwaway MariaDB and PostgreSQL servers from the machine's Debian packages, each with its
 * own data directory and port. The demo runs on them; so do the integration tests, which also stop,
 * kill and restart them mid-stream.
 */
export interface LocalServer {
  readonly port: number;
  readonly dir: string;
  /** A connection URL for `database` as the admin user. */
  url(database?: string): string;
  start(): Promise<void>;
  /** Clean shutdown. */
  stop(): Promise<void>;
  /** SIGKILL: the server dies as in a crash. */
  kill(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function which(candidates: string[], what: string): string {
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`${what} not found (looked in ${candidates.join(', ')}); install it: apt-get install -y mariadb-server postgresql`);
}

function postgresBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  return which(
    versions.map((v) => join(root, v, 'bin', name)),
    `PostgreSQL ${name}`,
  );
}

const isRoot = () => process.getuid?.() === 0;

/** Another server answered on the port picked for this one (the port was taken between picking and binding). */
class PortTaken extends Error {}

/** Fails the probe with PortTaken unless the server answering is the one on `dataDir`. */
function expectDataDir(reported: string, dataDir: string): void {
  if (resolve(reported) !== resolve(dataDir)) throw new PortTaken(`the server on this port serves ${reported}, not ${dataDir}`);
}

/** Waits until `probe` succeeds or the child exits or time runs out. */
async function waitReady(what: string, child: ChildProcess, probe: () => Promise<void>, logFile: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (/address already in use|could not bind|do you already have another mysqld server running/i.test(log.slice(-4000)))
        throw new PortTaken(`${what} could not bind its port`);
      throw new Error(`${what} exited with code ${child.exitCode} during start; see ${logFile}`);
    }
    try {
      await probe();
      return;
    } catch (err) {
      if (err instanceof PortTaken) throw err;
      last = err;
      await sleep(100);
    }
  }
  throw new Error(`${what} did not become ready in ${ms / 1000}s (${(last as Error)?.message}); see ${logFile}`);
}

abstract class ChildServer implements LocalServer {
  protected child: ChildProcess | null = null;
  /** The signal that shuts the server down cleanly without waiting for clients to leave. */
  protected abstract readonly stopSignal: NodeJS.Signals;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}
  abstract url(database?: string): string;
  abstract start(): Promise<void>;

  async stop(): Promise<void> {
    await this.#end(this.stopSignal);
  }

  async kill(): Promise<void> {
    await this.#end('SIGKILL');
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** PEM files of a server certificate, its key and the CA that signed it: the server then offers TLS. */
export interface ServerTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface MariaDbOptions {
  /** binlog_format; tests set STATEMENT to see ferry refuse it. */
  readonly binlogFormat?: string;
  /** binlog_row_image and binlog_row_metadata (default FULL), log-bin (default on): tests set others to see ferry refuse them all at once. */
  readonly binlogRowImage?: string;
  readonly binlogRowMetadata?: string;
  readonly logBin?: boolean;
  /** local_infile; tests switch it off to see ferry load snapshots without LOAD DATA LOCAL. Default on. */
  readonly localInfile?: boolean;
  /** server_id; a second server that replicates from the first needs its own. Default 1. */
  readonly serverId?: number;
  /** Offer TLS with this certificate (tests of ferry's tls settings). Default: no TLS. */
  readonly tls?: ServerTls;
}

class MariaDbServer extends ChildServer {
  protected readonly stopSignal = 'SIGTERM';
  readonly #options: MariaDbOptions;
  constructor(port: number, dir: string, options: MariaDbOptions) {
    super(port, dir);
    this.#options = options;
  }

  url(database = ''): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const data = join(this.dir, 'data');
    const log = join(this.dir, 'error.log');
    if (!existsSync(data)) {
      mkdirSync(data, { recursive: true });
      execFileSync(
        which(['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'], 'mariadb-install-db'),
        ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...(isRoot() ? ['--user=root'] : [])],
        { stdio: 'ignore' },
      );
      // TCP root without a password, for the throwaway server only.
      writeFileSync(
        join(this.dir, 'init.sql'),
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\nGRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n",
      );
    }
    mkdirSync(join(this.dir, 'tmp'), { recursive: true });
    const tls = this.#options.tls;
    this.child = spawn(
      which(['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd'], 'mariadbd'),
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.dir, 'mysqld.sock')}`,
        `--pid-file=${join(this.dir, 'mysqld.pid')}`,
        `--log-error=${log}`,
        `--init-file=${join(this.dir, 'init.sql')}`,
        `--tmpdir=${join(this.dir, 'tmp')}`,
        `--server-id=${this.#options.serverId ?? 1}`,
        ...(this.#options.logBin === false ? [] : [`--log-bin=${join(this.dir, 'binlog')}`]),
        `--binlog-format=${this.#options.binlogFormat ?? 'ROW'}`,
        `--binlog-row-image=${this.#options.binlogRowImage ?? 'FULL'}`,
        `--binlog-row-metadata=${this.#options.binlogRowMetadata ?? 'FULL'}`,
        '--innodb-buffer-pool-size=256M',
        '--innodb-flush-log-at-trx-commit=2',
        '--sync-binlog=0',
        '--max-connections=500',
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_general_ci',
        `--local-infile=${this.#options.localInfile === false ? 0 : 1}`,
        '--skip-name-resolve',
        ...(tls ? [`--ssl-ca=${tls.ca}`, `--ssl-cert=${tls.cert}`, `--ssl-key=${tls.key}`] : []),
        ...(isRoot() ? ['--user=root'] : []),
      ],
      { stdio: 'ignore' },
    );
    await waitReady(
      'MariaDB',
      this.child,
      async () => {
        const c = await mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root', connectTimeout: 1000 });
        try {
          const [rows] = await c.query('SELECT @@datadir AS dir');
          expectDataDir(String((rows as { dir: string }[])[0]!.dir), data);
        } finally {
          await c.end();
        }
      },
      log,
    );
  }
}

export interface PostgresOptions {
  /** 'replica' starts a server that cannot decode its WAL (tests of ferry's check). Default: logical. */
  readonly walLevel?: 'logical' | 'replica';
  /** Offer TLS with this certificate (tests of ferry's tls settings). Default: no TLS. */
  readonly tls?: ServerTls;
}

class PostgresServer extends ChildServer {
  /** Fast shutdown: SIGTERM would wait for every client to disconnect. */
  protected readonly stopSignal = 'SIGINT';
  readonly #options: PostgresOptions;

  constructor(port: number, dir: string, options: PostgresOptions) {
    super(port, dir);
    this.#options = options;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  #runAs(): { uid?: number; gid?: number } {
    if (!isRoot()) return {};
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  }

  /** Postgres reads its certificate as its own user and refuses a key others may read: copies it owns, the key 0600. */
  #serverTlsSettings(tls: ServerTls, as: { uid?: number; gid?: number }): string[] {
    const cert = join(this.dir, 'server.crt');
    const key = join(this.dir, 'server.key');
    copyFileSync(tls.cert, cert);
    copyFileSync(tls.key, key);
    chmodSync(key, 0o600);
    if (as.uid !== undefined) for (const f of [cert, key]) chownSync(f, as.uid, as.gid!);
    return ['-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`];
  }

  async start(): Promise<void> {
    const data = join(this.dir, 'data');
    const log = join(this.dir, 'postgres.log');
    const as = this.#runAs();
    if (!existsSync(data)) {
      // Postgres refuses to run as root: the data directory belongs to the postgres user.
      if (as.uid !== undefined) chownSync(this.dir, as.uid, as.gid!);
      execFileSync(postgresBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], { stdio: 'ignore', ...as });
    }
    const out = openSync(log, 'a');
    if (as.uid !== undefined) chownSync(log, as.uid, as.gid!);
    const tls = this.#options.tls ? this.#serverTlsSettings(this.#options.tls, as) : [];
    this.child = spawn(
      postgresBin('postgres'),
      [
        '-D',
        data,
        '-p',
        String(this.port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${this.dir}`,
        '-c',
        `wal_level=${this.#options.walLevel ?? 'logical'}`,
        '-c',
        'max_wal_senders=64',
        '-c',
        'max_replication_slots=64',
        '-c',
        'max_connections=300',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=256MB',
        ...tls,
      ],
      { stdio: ['ignore', out, out], ...as },
    );
    await waitReady(
      'PostgreSQL',
      this.child,
      async () => {
        const c = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
        await c.connect();
        try {
          expectDataDir((await c.query('SHOW data_directory')).rows[0].data_directory, data);
        } finally {
          await c.end();
        }
      },
      log,
    );
  }
}

function newDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ferry-${prefix}-`));
  return dir;
}

/** Starts a server on a free port; should another process take the port first, on another one. */
async function startOnFreePort(make: (port: number) => ChildServer): Promise<LocalServer> {
  for (let attempt = 1; ; attempt++) {
    const server = make(await freePort());
    try {
      await server.start();
      return server;
    } catch (err) {
      await server.destroy();
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

export function startMariaDb(options: MariaDbOptions = {}): Promise<LocalServer> {
  return startOnFreePort((port) => new MariaDbServer(port, newDir('mariadb'), options));
}

export function startPostgres(options: PostgresOptions = {}): Promise<LocalServer> {
  return startOnFreePort((port) => new PostgresServer(port, newDir('postgres'), options));
}
