import sql from 'mssql';
import { describe, expect, it } from 'vitest';
import { coerceError, FerryError } from '../../src/core/errors.js';
import { resourceExhaustion } from '../../src/core/resource-exhaustion.js';
import type { CatalogueTable } from '../../src/core/plan-catalogue.js';
import { isReadOnlyRefusal as mssqlReadOnly, mssqlConnectError } from '../../src/engines/mssql/errors.js';
import { collationComparison, mssqlNameRules } from '../../src/engines/mssql/naming.js';
import { CATALOG_COLLATION_SQL, SERVER_IDENTITY_SQL } from '../../src/engines/mssql/server.js';
import { isReadOnlyRefusal, targetEngine } from '../../src/engines/registry.js';
import { TARGET_CHECK_SQL, type TargetCheckRow, targetCheckProblems } from '../../src/sinks/mssql/mssql-target-check.js';
import { existingTableKeys, existingTablesSql, VERSION_SQL } from '../../src/sinks/mssql/mssql-target-probe.js';
import { parseTsql } from '../helpers/tsql.js';

// Errors shaped as mssql 12 over tedious 19 raise them (node_modules/mssql/lib/tedious/request.js,
// lib/error/*.js; tedious lib/connection.js, lib/connector.js, lib/token/handler.js).

/** A server error as mssql raises it from tedious's errorMessage event: RequestError over an Error whose `info` is the token. */
function serverError(num: number, message: string): sql.RequestError {
  const inner = Object.assign(new Error(message), { info: { number: num, message, state: 1, class: 16 } });
  return new sql.RequestError(inner as unknown as string, 'EREQUEST');
}

/** The same error when it comes through the request's completion: tedious's RequestError (its own `number`) wrapped. */
function completedRequestError(num: number, message: string): sql.RequestError {
  const inner = Object.assign(new Error(message), { code: 'EREQUEST', number: num });
  return new sql.RequestError(inner as unknown as string, 'EREQUEST');
}

/** A failed connect: mssql's ConnectionError over tedious's (`code`, `cause`). */
function connectFailure(code: string, message: string, cause?: unknown): sql.ConnectionError {
  const inner = Object.assign(new Error(message, cause === undefined ? {} : { cause }), { code });
  return new sql.ConnectionError(inner as unknown as string, code as sql.MSSQL_ERROR_CODE);
}

const WHERE = 'target ferry@db.example:1433';

describe('SQL Server errors: classified by number, wherever the driver put it', () => {
  it('reads the number from the token (info), from a wrapped tedious error, and from preceding errors', () => {
    expect(coerceError(serverError(1205, 'Transaction (Process ID 52) was deadlocked on lock resources')).kind).toBe('retriable');
    expect(coerceError(completedRequestError(1205, 'Transaction (Process ID 52) was deadlocked')).kind).toBe('retriable');
    const last = Object.assign(serverError(3621, 'The statement has been terminated.'), {
      precedingErrors: [serverError(1222, 'Lock request time out period exceeded.')],
    });
    expect(coerceError(last).kind).toBe('retriable');
  });

  // Sources: Microsoft SqlClient's SqlConfigurableRetryFactory.BaselineTransientErrors (which includes
  // tedious's src/transient-error-lookup.ts list); sys.messages for 1204, 1205, 1222.
  it.each([1204, 1205, 1222, 10928, 10929, 40143, 40197, 40501, 40540, 40613, 49918, 49919, 49920])('%i is retriable', (n) => {
    expect(coerceError(serverError(n, `error ${n}`)).kind).toBe('retriable');
  });

  it('a rejected row stays fatal: 2627 (duplicate key), 8152 (string truncated), 547 (constraint)', () => {
    for (const n of [2627, 8152, 547]) expect(coerceError(serverError(n, `error ${n}`)).kind).toBe('fatal');
  });

  it('a lost connection is retriable (ESOCKET, ETIMEOUT, ECONNCLOSED, ECLOSE)', () => {
    expect(coerceError(connectFailure('ESOCKET', 'Connection lost - read ECONNRESET')).kind).toBe('retriable');
    expect(coerceError(new sql.ConnectionError('Connection is closed.', 'ECONNCLOSED')).kind).toBe('retriable');
    expect(coerceError(Object.assign(new Error('Connection closed before request completed.'), { code: 'ECLOSE' })).kind).toBe('retriable');
    expect(coerceError(connectFailure('ETIMEOUT', 'Failed to connect to db.example:1433 in 10000ms')).kind).toBe('retriable');
  });

  // sys.messages: 9002 log full, 1105 filegroup full, 40544 Azure SQL size quota, 701 out of memory.
  it.each([
    [9002, "The transaction log for database 'mart' is full due to 'LOG_BACKUP'.", /transaction log is full/, /Back up the log/],
    [
      1105,
      "Could not allocate space for object 'dbo.t' in database 'mart' because the 'PRIMARY' filegroup is full.",
      /filegroup is full/,
      /Grow the filegroup/,
    ],
    [40544, "The database 'mart' has reached its size quota.", /size quota/, /maximum size/],
    [701, "There is insufficient system memory in resource pool 'default' to run this query.", /out of memory/, /Free memory/],
  ])('%i is a resource running out: retried, with what to free', (n, message, problem, hint) => {
    const e = serverError(n, message);
    expect(resourceExhaustion(e)?.problem).toMatch(problem);
    expect(resourceExhaustion(e)?.hint).toMatch(hint);
    expect(coerceError(e, 'target').kind).toBe('retriable');
    expect(coerceError(e, 'target').message).toContain(message);
  });

  it('3906 is a read-only database refusing the write (READ_ONLY, a readable secondary), through the registry too; 3908 and 3910 are not', () => {
    const refusal = serverError(3906, 'Failed to update database "mart" because the database is read-only.');
    expect(mssqlReadOnly(refusal)).toBe(true);
    expect(isReadOnlyRefusal(refusal)).toBe(true);
    expect(isReadOnlyRefusal(completedRequestError(3906, 'read-only'))).toBe(true);
    expect(mssqlReadOnly(serverError(3908, 'Could not run BEGIN TRANSACTION in database because the database is in bypass recovery mode.'))).toBe(false);
    expect(mssqlReadOnly(serverError(3910, 'Transaction context in use by another session.'))).toBe(false);
    // MySQL's errno 1290 is not a SQL Server number.
    expect(mssqlReadOnly(Object.assign(new Error('--read-only'), { errno: 1290 }))).toBe(false);
  });
});

describe('connecting to SQL Server: one clear error naming the server, never the password', () => {
  const refused = connectFailure(
    'ESOCKET',
    'Failed to connect to 127.0.0.1:1 - Could not connect (sequence)',
    new AggregateError([Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })], 'Could not connect (sequence)'),
  );

  it.each([
    ['a closed port (ECONNREFUSED, one per address tried)', refused, 'ECONNREFUSED'],
    [
      'a host that does not resolve (ENOTFOUND)',
      connectFailure(
        'ESOCKET',
        'Failed to connect to nowhere.invalid:1433 - getaddrinfo ENOTFOUND nowhere.invalid',
        Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }),
      ),
      'ENOTFOUND',
    ],
    ['a connect timeout (ETIMEOUT)', connectFailure('ETIMEOUT', 'Failed to connect to db.example:1433 in 10000ms'), 'ETIMEOUT'],
  ])('%s: retriable, "unreachable", host and port, the fix', (_, err, code) => {
    const e = mssqlConnectError(err, WHERE, 'target.url');
    expect(e.kind).toBe('retriable');
    expect(e.message).toBe(`${WHERE} is unreachable (${code})`);
    expect(e.hint).toMatch(/check the host and port in target\.url/);
  });

  it('18456 (login failed): a config error naming the user and the password keys', () => {
    const e = mssqlConnectError(connectFailure('ELOGIN', "Login failed for user 'ferry'."), WHERE, 'target.url');
    expect(e.kind).toBe('config');
    expect(e.message).toBe(`${WHERE}: login failed for user 'ferry' (Login failed for user 'ferry'.)`);
    expect(e.hint).toMatch(/user and password in target\.url \(or target\.passwordFile\).*mixed-mode/);
  });

  it('4060 (cannot open the database): a config error naming the database fix; 40613 (Azure, reconfiguring): retriable', () => {
    const db = mssqlConnectError(connectFailure('ELOGIN', 'Cannot open database "mart" requested by the login. The login failed.'), WHERE, 'target.url');
    expect([db.kind, db.hint]).toEqual(['config', expect.stringMatching(/fix the database name in target\.url/)]);
    const azure = mssqlConnectError(
      connectFailure('ELOGIN', "Database 'mart' on server 'srv' is not currently available. Please retry the connection later."),
      WHERE,
      'target.url',
    );
    expect(azure.kind).toBe('retriable');
  });

  it('a server that requires encryption while TLS is off (EENCRYPT), and a certificate that fails, are config errors with the tls fix', () => {
    const encrypt = mssqlConnectError(connectFailure('EENCRYPT', "Server requires encryption, set 'encrypt' config option to true."), WHERE, 'target.url');
    expect([encrypt.kind, encrypt.hint]).toEqual(['config', expect.stringContaining('target.tls.mode: verify-full')]);
    const cert = mssqlConnectError(
      connectFailure(
        'ESOCKET',
        'Failed to connect to db.example:1433 - self-signed certificate in certificate chain',
        Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
      ),
      WHERE,
      'target.url',
    );
    expect(cert.kind).toBe('config');
    expect(cert.message).toMatch(/TLS certificate failed verification \(SELF_SIGNED_CERT_IN_CHAIN/);
    expect(cert.hint).toContain('target.tls.ca');
  });

  it('leaves a FerryError as it is', () => {
    const e = new FerryError('config', 'x');
    expect(mssqlConnectError(e, WHERE, 'target.url')).toBe(e);
  });
});

describe('SQL Server names', () => {
  it("reads a collation's comparison from its name", () => {
    expect(collationComparison('SQL_Latin1_General_CP1_CI_AS')).toEqual({ ignoreCase: true, ignoreAccents: false });
    expect(collationComparison('Latin1_General_100_CI_AI_SC_UTF8')).toEqual({ ignoreCase: true, ignoreAccents: true });
    expect(collationComparison('Latin1_General_CS_AS_KS_WS')).toEqual({ ignoreCase: false, ignoreAccents: false });
    expect(collationComparison('Latin1_General_BIN2')).toEqual({ ignoreCase: false, ignoreAccents: false });
  });

  it('compares names as the collation does, always without trailing spaces, and refuses names over 128 characters', () => {
    const ci = mssqlNameRules('SQL_Latin1_General_CP1_CI_AS');
    expect(ci.fold('table', 'Orders ')).toBe(ci.fold('table', 'orders'));
    expect(ci.fold('table', 'café')).not.toBe(ci.fold('table', 'cafe'));
    expect(mssqlNameRules('Latin1_General_100_CI_AI').fold('column', 'Café')).toBe('cafe');
    const cs = mssqlNameRules('Latin1_General_BIN2');
    expect(cs.fold('table', 'Orders')).not.toBe(cs.fold('table', 'orders'));
    expect(cs.fold('table', 'a ')).toBe(cs.fold('table', 'a'));
    expect(ci.invalid('x'.repeat(128))).toBeNull();
    expect(ci.invalid('x'.repeat(129))).toBe('is 129 UTF-16 code units long, and SQL Server refuses names longer than 128 (nvarchar(128))');
    // A character outside the BMP takes two of the 128.
    expect(ci.invalid('😀'.repeat(64))).toBeNull();
    expect(ci.invalid(`${'😀'.repeat(64)}x`)).toMatch(/^is 129 UTF-16 code units long/);
    expect(ci.schemaWord).toBe('schema');
  });
});

describe('the registry: SQL Server is a target engine', () => {
  const target = { type: 'mssql', url: 'mssql://ferry@db.example:1433/mart' } as const;

  it('targetEngine gives its entry: URL style, endpoint without password, schema word, a partitioned table as one table', () => {
    const engine = targetEngine(target as never);
    expect(engine.url.schemes).toEqual(['mssql', 'sqlserver']);
    expect(engine.describeEndpoint('mssql://ferry:s3cret@db.example/mart')).toBe('ferry@db.example:1433');
    expect(engine.schemaWord).toBe('schema');
    expect(engine.partitionedTable).toBe('one table');
  });
});

describe('ferry check on SQL Server: the statement', () => {
  const [ast] = parseTsql(TARGET_CHECK_SQL) as [{ columns: { as: string }[]; from: { db: string | null; table: string }[]; where: unknown }];

  it('is one T-SQL SELECT whose columns are the row targetCheckProblems reads, from the database the session is in', () => {
    const row: Record<keyof TargetCheckRow, true> = {
      product_version: true,
      engine_edition: true,
      database_name: true,
      user_name: true,
      compatibility_level: true,
      updateability: true,
      encrypt_option: true,
      create_table: true,
      create_schema: true,
      alter_any_schema: true,
      can_select: true,
      can_insert: true,
      can_update: true,
      can_delete: true,
      reseeds: true,
    };
    expect(ast.columns.map((c) => c.as).sort()).toEqual(Object.keys(row).sort());
    expect(ast.from.map((f) => `${f.db}.${f.table}`)).toEqual(['sys.databases']);
    expect(JSON.stringify(ast.where)).toMatch(/"column":"database_id".*"DB_ID"/);
    for (const permission of ['CREATE TABLE', 'CREATE SCHEMA', 'ALTER ANY SCHEMA', 'SELECT', 'INSERT', 'UPDATE', 'DELETE']) {
      expect(TARGET_CHECK_SQL).toContain(`HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', '${permission}')`);
    }
  });

  const good: TargetCheckRow = {
    product_version: '16.0.4135.4',
    engine_edition: 3,
    database_name: 'mart',
    user_name: 'ferry',
    compatibility_level: 160,
    updateability: 'READ_WRITE',
    encrypt_option: 'TRUE',
    create_table: 1,
    create_schema: 1,
    alter_any_schema: 1,
    can_select: 1,
    can_insert: 1,
    can_update: 1,
    can_delete: 1,
    reseeds: 1,
  };

  it('passes SQL Server 2017+ and Azure SQL (which reports 12.x) at compatibility level 130+, with the grants', () => {
    expect(targetCheckProblems(good, true)).toEqual([]);
    expect(targetCheckProblems({ ...good, product_version: '15.0.2000.5', compatibility_level: 130 }, true)).toEqual([]);
    expect(targetCheckProblems({ ...good, product_version: '12.0.2000.8', engine_edition: 5 }, true)).toEqual([]);
    expect(targetCheckProblems({ ...good, product_version: '12.0.2000.8', engine_edition: 8, encrypt_option: 'FALSE' }, false)).toEqual([]);
  });

  it("warns on SQL Server 2017, which has no UTF-8 collation: verify's checksums (and the cutover's) need 2019, counts run", () => {
    const problems = targetCheckProblems({ ...good, product_version: '14.0.3456.2', compatibility_level: 140 }, true);
    expect(problems).toEqual([
      {
        check: 'target version',
        warning: true,
        message: expect.stringContaining('SQL Server 14.0.3456.2 has no UTF-8 collation'),
        hint: expect.stringContaining('cutover.verify: counts'),
      },
    ]);
  });

  it('refuses SQL Server 2016, compatibility level 120, Azure Synapse, a read-only database, and an unencrypted connection TLS asked for', () => {
    const checks = (row: Partial<TargetCheckRow>, encrypted = true) => targetCheckProblems({ ...good, ...row }, encrypted).map((p) => [p.check, p.message]);
    expect(checks({ product_version: '13.0.5026.0' })).toEqual([
      ['target version', expect.stringContaining('SQL Server 13.0.5026.0; ferry writes into SQL Server 2017')],
    ]);
    expect(checks({ compatibility_level: 120 })).toEqual([['compatibility level', expect.stringContaining('compatibility level 120; ferry needs 130')]]);
    expect(checks({ engine_edition: 6, product_version: '10.0.0.0' })).toEqual([['target version', expect.stringContaining('Azure Synapse')]]);
    expect(checks({ updateability: 'READ_ONLY' })).toEqual([['target', expect.stringContaining('database mart is read-only')]]);
    expect(checks({ encrypt_option: 'FALSE' })).toEqual([['target tls', expect.stringContaining('not encrypted')]]);
    expect(checks({ encrypt_option: 'FALSE' }, false)).toEqual([]);
  });

  it('warns when the user may reseed an IDENTITY only in schemas it owns: DBCC CHECKIDENT wants the owner, db_owner or db_ddladmin', () => {
    expect(TARGET_CHECK_SQL).toContain("IS_ROLEMEMBER(N'db_owner')");
    expect(TARGET_CHECK_SQL).toContain("IS_ROLEMEMBER(N'db_ddladmin')");
    expect(targetCheckProblems({ ...good, reseeds: 0 }, true)).toEqual([
      {
        check: 'target grants',
        warning: true,
        message: expect.stringMatching(/neither db_owner nor db_ddladmin.*DBCC CHECKIDENT.*schema ferry did not create/),
        hint: 'ALTER ROLE db_ddladmin ADD MEMBER [ferry];',
      },
    ]);
  });

  it('refuses a user who may not create schemas or tables, with the GRANT; warns when writes are granted only on schemas ferry creates', () => {
    const problems = targetCheckProblems({ ...good, create_table: 0, create_schema: 0, can_update: 0, alter_any_schema: 0 }, true);
    expect(problems.filter((p) => !p.warning).map((p) => p.hint)).toEqual(['GRANT CREATE SCHEMA TO [ferry];', 'GRANT CREATE TABLE TO [ferry];']);
    const [warning] = problems.filter((p) => p.warning);
    expect(warning!.message).toBe(
      'the target user has no database-wide ALTER, UPDATE: ferry can write only into the schemas it creates (it owns them), not into one that exists already',
    );
    expect(warning!.hint).toContain('GRANT SELECT, INSERT, UPDATE, DELETE, ALTER ON SCHEMA::[schema] TO [ferry];');
  });
});

describe('what ferry plan and the registry read of a SQL Server target', () => {
  it('identity, collation and version statements are T-SQL SELECTs of one row', () => {
    for (const statement of [SERVER_IDENTITY_SQL, CATALOG_COLLATION_SQL, VERSION_SQL]) {
      const [ast] = parseTsql(statement) as [{ type: string; columns: { as: string }[] }];
      expect(ast.type).toBe('select');
      expect(ast.columns).toHaveLength(1);
    }
    expect(CATALOG_COLLATION_SQL).toMatch(/FROM sys\.schemas AS s WHERE s\.schema_id = 1$/);
  });

  it('reads the tables of the schemas it names, one parameter each, and matches them as the target compares names', () => {
    const [ast] = parseTsql(existingTablesSql(3)) as [
      { from: { db: string | null; table: string }[]; where: { operator: string; right: { value: unknown[] } } },
    ];
    expect(ast.from.map((f) => `${f.db}.${f.table}`)).toEqual(['sys.tables', 'sys.schemas']);
    expect(ast.where.operator).toBe('IN');
    expect(existingTablesSql(3)).toContain('IN (@p1, @p2, @p3)');
    const catalogue = (schema: string, name: string) => ({ target: { schema, name } }) as unknown as CatalogueTable;
    const tables = [catalogue('shop', 'orders'), catalogue('shop', 'items')];
    const found = [{ schema: 'Shop', name: 'ORDERS' }];
    expect(existingTableKeys(tables, found, 'SQL_Latin1_General_CP1_CI_AS')).toEqual(new Set(['shop.orders']));
    expect(existingTableKeys(tables, found, 'Latin1_General_BIN2')).toEqual(new Set());
  });
});
