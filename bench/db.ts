import mysql from 'mysql2/promise';
import pg from 'pg';

/** One admin connection to a benchmark server, whatever its engine. */
export interface Db {
  readonly engine: 'mysql' | 'postgres';
  exec(sql: string): Promise<void>;
  /** The first row's columns as text (null for NULL), or null when there is no row. */
  row(sql: string): Promise<(string | null)[] | null>;
  /** The first column of the first row, as text (null when there is no row or it is NULL). */
  scalar(sql: string): Promise<string | null>;
  close(): Promise<void>;
}

function asText(rows: unknown[][]): (string | null)[] | null {
  return rows[0]?.map((v) => (v === null ? null : String(v))) ?? null;
}

export async function openDb(url: string): Promise<Db> {
  async function scalar(this: Db, sql: string): Promise<string | null> {
    return (await this.row(sql))?.[0] ?? null;
  }
  if (url.startsWith('mysql:')) {
    const c = await mysql.createConnection({ uri: url, multipleStatements: true, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
    c.on('error', () => {});
    return {
      engine: 'mysql',
      exec: async (sql) => void (await c.query(sql)),
      row: async (sql) => asText((await c.query({ sql, rowsAsArray: true }))[0] as unknown[][]),
      scalar,
      close: async () => c.end().catch(() => {}),
    };
  }
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  return {
    engine: 'postgres',
    exec: async (sql) => void (await c.query(sql)),
    row: async (sql) => asText((await c.query({ text: sql, rowMode: 'array' })).rows as unknown[][]),
    scalar,
    close: async () => c.end().catch(() => {}),
  };
}

/** Runs `work` with a connection to `url`, closed afterwards. */
export async function withDb<T>(url: string, work: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(url);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

/** `url` with its path naming `database`. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Drops and creates `database` on the server behind `serverUrl`; returns its URL. */
export async function freshDatabase(serverUrl: string, database: string): Promise<string> {
  await withDb(serverUrl, async (db) => {
    if (db.engine === 'mysql') await db.exec(`DROP DATABASE IF EXISTS \`${database}\`; CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
    else {
      await db.exec(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await db.exec(`CREATE DATABASE "${database}"`);
    }
  });
  return databaseUrl(serverUrl, database);
}

/** Polls `probe` every `everyMs` until it returns true. */
export async function until(what: string, probe: () => Promise<boolean>, everyMs = 20, timeoutMs = 30 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
