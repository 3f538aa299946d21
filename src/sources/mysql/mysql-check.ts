import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { CheckProblem } from '../../core/check-problem.js';
import type { TableSchema } from '../../core/schema.js';
import { tableKey } from '../../core/change-event.js';
import type { Flavor } from '../../engines/mysql/binlog-position.js';
import { fenceFix, fencePrivileges, serverReadOnly } from './mysql-fence.js';
import type { UndescribableTable } from './mysql-schema.js';

async function variable(conn: Connection, name: string): Promise<string | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GLOBAL VARIABLES LIKE ?', [name]);
  const v = rows[0]?.Value;
  return v === undefined ? undefined : String(v);
}

/** Privileges ferry needs, each with the names servers print for it in SHOW GRANTS. */
const NEEDED_GRANTS: { grant: string; names: RegExp }[] = [
  { grant: 'REPLICATION SLAVE', names: /\bREPLICATION (SLAVE|REPLICA)\b/ },
  { grant: 'REPLICATION CLIENT', names: /\bREPLICATION CLIENT\b|\bBINLOG MONITOR\b|\bSUPER\b/ },
  { grant: 'SELECT', names: /\bSELECT\b/ },
];

async function showGrants(conn: Connection): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  return rows.map((r) => String(Object.values(r)[0]).toUpperCase());
}

const allPrivileges = (grants: readonly string[]) => grants.some((g) => /^GRANT ALL PRIVILEGES ON \*\.\*/.test(g));

function checkGrants(grants: readonly string[]): CheckProblem[] {
  if (allPrivileges(grants)) return [];
  const missing = NEEDED_GRANTS.filter(({ names }) => !grants.some((g) => names.test(g)));
  if (missing.length === 0) return [];
  const list = missing.map((m) => m.grant).join(', ');
  return [
    {
      check: 'grants',
      message: `the source user lacks ${list}`,
      hint: `as an admin: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '<user>'@'<host>';`,
    },
  ];
}

/**
 * Whether the source user may put up the cutover's default fence (read-only). A warning, not a
 * problem: the fence is a choice of the cutover request, and a cutover with "fence": "none" needs no
 * privilege, so `ferry run` must not refuse to start over it. Privileges from roles are not looked at.
 */
async function checkFenceGrants(conn: Connection, grants: readonly string[], flavor: Flavor): Promise<CheckProblem[]> {
  if (allPrivileges(grants)) return [];
  const global = grants.filter((g) => /\bON \*\.\*/.test(g));
  const has = (privilege: string) => global.some((g) => new RegExp(`(GRANT |,\\s*)${privilege}(,| ON )`).test(g));
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
  const [major = 0, minor = 0] = String(rows[0]?.v).split('.').map(Number);
  // MariaDB's SUPER covered READ_ONLY ADMIN before 10.11; MySQL's still covers both of its privileges.
  const superEnough = flavor === 'mysql' || major * 100 + minor < 1011;
  const may = (superEnough && has('SUPER')) || fencePrivileges(flavor).split(', ').every(has);
  if (may) return [];
  return [
    {
      check: 'fence',
      warning: true,
      message: `the source user may not set read_only (it lacks ${fencePrivileges(flavor)}): a cutover with the default fence (read-only) would fail, leaving the source writable`,
      hint: await fenceFix(conn, flavor),
    },
  ];
}

/** A server setting the binlog stream needs: the value, the my.cnf line that sets it, why. */
interface BinlogSetting {
  readonly name: string;
  readonly ok: (value: string) => boolean;
  readonly wanted: string;
  readonly cnf: string;
  readonly why: string;
  /** Changeable at runtime with SET GLOBAL (log_bin and server_id are not). */
  readonly dynamic: boolean;
  /** Servers without the variable (MySQL before 8.0.1) do without it. */
  readonly optional?: boolean;
}

const BINLOG_SETTINGS: readonly BinlogSetting[] = [
  {
    name: 'log_bin',
    ok: (v) => v === 'ON',
    wanted: 'ON',
    cnf: 'log_bin=mysql-bin',
    why: 'without binary logging there is no change stream to read',
    dynamic: false,
  },
  {
    name: 'server_id',
    ok: (v) => v !== '0',
    wanted: 'a unique number other than 0',
    cnf: 'server_id=<a unique number>',
    why: 'a server with server_id 0 refuses replication clients',
    dynamic: false,
  },
  {
    name: 'binlog_format',
    ok: (v) => v === 'ROW',
    wanted: 'ROW',
    cnf: 'binlog_format=ROW',
    why: 'row events carry the changed rows; STATEMENT and MIXED do not',
    dynamic: true,
  },
  { name: 'binlog_row_image', ok: (v) => v === 'FULL', wanted: 'FULL', cnf: 'binlog_row_image=FULL', why: 'every change must carry whole rows', dynamic: true },
  {
    name: 'binlog_row_metadata',
    ok: (v) => v === 'FULL',
    wanted: 'FULL',
    cnf: 'binlog_row_metadata=FULL',
    why: 'column names and ENUM values travel in the binlog, so replay across ALTER TABLE is exact',
    dynamic: true,
    optional: true,
  },
];

/**
 * Every wrong binlog setting at once, each with the one fix for all of them: reported one by one,
 * each would surface only after the restart that fixed the one before.
 */
async function checkBinlogSettings(conn: Connection): Promise<CheckProblem[]> {
  const wrong: { setting: BinlogSetting; value: string | undefined }[] = [];
  for (const setting of BINLOG_SETTINGS) {
    const value = await variable(conn, setting.name);
    if (value === undefined && setting.optional) continue;
    if (!setting.ok((value ?? '').toUpperCase())) wrong.push({ setting, value });
  }
  const cnf = `put ${wrong.map((w) => w.setting.cnf).join(', ')} in the server's my.cnf [mysqld] section and restart it`;
  const hint = wrong.every((w) => w.setting.dynamic)
    ? `${cnf}, or, without a restart, ${wrong.map((w) => `SET GLOBAL ${w.setting.cnf.replace('=', " = '")}'`).join('; ')} (and still put ${wrong.length === 1 ? 'it' : 'them'} in my.cnf)`
    : cnf;
  return wrong.map(({ setting: s, value }) => ({ check: s.name, message: `${s.name} is ${value ?? 'unset'}; ferry needs ${s.wanted} (${s.why})`, hint }));
}

/**
 * Key types whose sort order differs from their comparison (ENUM/SET sort by ordinal, compare as
 * text; BIT likewise) or whose values do not round-trip exactly as text (FLOAT/DOUBLE): keyset
 * pagination over them could skip or repeat rows.
 */
const UNPAGEABLE_KEY_KINDS = new Set(['enum', 'set', 'bit', 'float', 'double']);

function checkTables(tables: readonly TableSchema[], failed: readonly UndescribableTable[]): CheckProblem[] {
  const problems: CheckProblem[] = [];
  if (tables.length === 0 && failed.length === 0) {
    problems.push({
      check: 'tables',
      message: 'no source table matches tables.include / tables.exclude',
      hint: 'fix the patterns; they match schema.table, e.g. "shop.*"',
    });
  }
  for (const t of tables.filter((t) => t.primaryKey.length === 0)) {
    problems.push({
      check: 'primary key',
      message: `table ${tableKey(t.source)} has no primary key; its updates and deletes cannot be matched to target rows`,
      hint: `add one (ALTER TABLE ${tableKey(t.source)} ADD PRIMARY KEY (...)) or exclude the table with tables.exclude`,
    });
  }
  for (const t of tables) {
    for (const name of t.primaryKey) {
      const c = t.columns.find((col) => col.name === name);
      if (c && UNPAGEABLE_KEY_KINDS.has(c.type.kind)) {
        problems.push({
          check: 'primary key',
          message: `table ${tableKey(t.source)}: primary-key column ${name} is ${c.sourceType}; ferry copies tables in key order and cannot page by ${c.type.kind.toUpperCase()} keys exactly`,
          hint: 'exclude the table with tables.exclude, or give it an integer, string, decimal, temporal or binary primary key',
        });
      }
    }
  }
  for (const f of failed) {
    problems.push({
      check: 'column types',
      message: `table ${tableKey(f.table)}: ${f.error.message}`,
      hint: 'exclude the table with tables.exclude, or change the column type',
    });
  }
  return problems;
}

/** Tables on engines without transactions: warned about, as the snapshot and rollbacks cannot be exact for them. */
async function checkEngines(conn: Connection, tables: readonly TableSchema[]): Promise<CheckProblem[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND ENGINE NOT IN ('InnoDB', 'XtraDB', 'RocksDB')",
  );
  const selected = new Set(tables.map((t) => tableKey(t.source)));
  return rows
    .filter((r) => selected.has(`${String(r.s)}.${String(r.n)}`))
    .map((r) => ({
      check: 'engine',
      warning: true,
      message: `table ${String(r.s)}.${String(r.n)} uses ${String(r.engine)}, which has no transactions: a consistent snapshot cannot cover it, and a rolled-back transaction that changed it stops ferry`,
      hint: `ALTER TABLE ${String(r.s)}.${String(r.n)} ENGINE=InnoDB, or copy it while it receives no writes`,
    }));
}

/** A source left read-only (a cutover's fence that nobody lifted, after ferry was killed mid-cutover): worth knowing. */
async function checkReadOnly(conn: Connection): Promise<CheckProblem[]> {
  if (!(await serverReadOnly(conn)).readOnly) return [];
  return [
    {
      check: 'read_only',
      warning: true,
      message: 'the source server is read_only: applications cannot write to it (a cutover fence that was never lifted?)',
      hint: 'if no cutover is under way: SET GLOBAL read_only = OFF',
    },
  ];
}

/** Everything `ferry check` verifies on a MySQL/MariaDB source (connectivity is checked by connecting). */
export async function checkMysqlSource(
  conn: Connection,
  flavor: Flavor,
  tables: readonly TableSchema[],
  failed: readonly UndescribableTable[],
): Promise<CheckProblem[]> {
  const grants = await showGrants(conn);
  return [
    ...checkGrants(grants),
    ...(await checkFenceGrants(conn, grants, flavor)),
    ...(await checkBinlogSettings(conn)),
    ...checkTables(tables, failed),
    ...(await checkEngines(conn, tables)),
    ...(await checkReadOnly(conn)),
  ];
}
