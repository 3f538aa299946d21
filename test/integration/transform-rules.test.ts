import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, cutoverEnd, startWithAdmin, waitReady } from '../helpers/admin.js';
import { type RunningCli, runCli, startCli, type VerifiedTable, verifyWithCli, waitFor, writeConfig } from '../helpers/ferry.js';
import { rowsAsText } from '../helpers/engine-sql.js';
import { startWriteLoad } from '../helpers/write-load.js';
import { ITEMS_DDL, ROUTES, type RouteDatabases, routeDatabases, seedItemsSql } from '../helpers/routes.js';

const SALT = `it-salt-${process.pid}-7f3a9c1e5b`;
const SALT_VARIABLE = 'FERRY_IT_MASK_SALT';
const SEED_ROWS = 20_000;
const REGIONS = ['eu', 'uk', 'us', 'fr'];

const hmac = (text: string) => createHmac('sha256', SALT).update(text).digest('hex');
const keepLast = (text: string, n: number) => (text.length <= n ? text : '*'.repeat(text.length - n) + text.slice(-n));

const CUSTOMERS_DDL =
  'CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100), phone VARCHAR(30), ssn VARCHAR(20), dob DATE NOT NULL, notes VARCHAR(200), region VARCHAR(10) NOT NULL)';

/** Row `i` of the seed and of the load: every 50th email and every 40th phone NULL, regions in turn. */
function customerValues(i: number): string {
  const email = i % 50 === 0 ? 'NULL' : `'user${i}@example.com'`;
  const phone = i % 40 === 0 ? 'NULL' : `'+44 20 ${String(i).padStart(7, '0')}'`;
  const dob = `'19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 9}'`;
  return `(${i}, ${email}, ${phone}, 'ssn-${i}', ${dob}, 'note ${i}', '${REGIONS[i % REGIONS.length]}')`;
}

/**
 * Writes until stopped: new customers, rows moved across the filter (eu/uk in, us/fr out) and back,
 * changed emails (their hashes change), deletes. Counts the moves.
 */
function startCustomerLoad(db: RouteDatabases) {
  let stop = false;
  let transactions = 0;
  let moves = 0;
  let next = 1_000_000;
  const done = (async () => {
    while (!stop) {
      const i = next;
      next += 2;
      const a = 1 + ((i * 7919) % SEED_ROWS);
      const b = 1 + ((i * 104729) % SEED_ROWS);
      const c = 1 + ((i * 31337) % SEED_ROWS);
      await db.source.query(`START TRANSACTION;
        INSERT INTO customers VALUES ${customerValues(i)}, ${customerValues(i + 1)};
        UPDATE customers SET region = CASE region WHEN 'eu' THEN 'us' WHEN 'uk' THEN 'fr' WHEN 'us' THEN 'uk' ELSE 'eu' END WHERE id IN (${a}, ${i});
        UPDATE customers SET email = CONCAT('changed${i}@example.com'), phone = '0${i}' WHERE id = ${b};
        DELETE FROM customers WHERE id = ${c};
        COMMIT;`);
      transactions++;
      moves += 2;
      await sleep(5);
    }
  })();
  done.catch(() => {});
  return {
    get transactions() {
      return transactions;
    },
    get moves() {
      return moves;
    },
    async stop() {
      stop = true;
      await done;
    },
  };
}

/** What the CLI's JSON log lines say (stderr is not a terminal here), one message a line. */
const logMessages = (stderr: string) =>
  stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return String(JSON.parse(line).msg);
      } catch {
        return line;
      }
    })
    .join('\n');

/** The rules both tests run: customers renamed, partly dropped, masked four ways and filtered; accounts under a hashed key. */
const transformsOf = (db: RouteDatabases) => ({
  salt: `\${${SALT_VARIABLE}}`,
  rules: [
    {
      match: `${db.sourceSchema}.customers`,
      rename: 'clients',
      columns: { exclude: ['notes'], rename: { email: 'email_address' } },
      mask: { email_address: 'hash', phone: { keepLast: 4 }, ssn: 'redact', dob: 'null' },
      filter: [{ column: 'region', op: 'in', value: ['eu', 'uk'] }],
    },
    { match: `${db.sourceSchema}.accounts`, mask: { id: 'hash', val: { keepFirst: 2 } } },
  ],
});

const routes = ROUTES;

describe.each(routes)('transform rules through the CLI, $label', (route) => {
  const name = `xrules_${route.source}`;
  let db: RouteDatabases;
  const runs: RunningCli[] = [];
  beforeAll(async () => {
    db = await routeDatabases(route, name);
    process.env[SALT_VARIABLE] = SALT;
  });
  afterAll(async () => {
    for (const r of runs) r.child.kill('SIGKILL');
    delete process.env[SALT_VARIABLE];
    await db?.close();
  });

  const run = () => {
    const r = startCli(['run', '-c', config]);
    runs.push(r);
    return r;
  };
  let config: string;

  it('plan shows each rule effect and bad rules stop plan, check and run (exit 2); run renames, drops, masks (a key by hash) and filters snapshot rows and streamed changes alike, through kill -9; the salt is never printed', async () => {
    await db.source.query(CUSTOMERS_DDL);
    await db.source.query(ITEMS_DDL);
    await db.source.query(seedItemsSql(route.source, 500));
    // accounts: its key hashed (keys stay unique and stable through the load's key changes), val partly kept.
    await db.source.query(ITEMS_DDL.replace('items', 'accounts'));
    await db.source.query(seedItemsSql(route.source, 2000).replace('INSERT INTO items', 'INSERT INTO accounts'));
    for (let from = 1; from <= SEED_ROWS; from += 500) {
      await db.source.query(`INSERT INTO customers VALUES ${Array.from({ length: 500 }, (_, k) => customerValues(from + k)).join(', ')}`);
    }
    config = writeConfig(
      db.config({
        snapshot: { chunkRows: 100, parallelism: 1 },
        apply: { batchMaxRows: 100, batchMaxMs: 20 },
        transforms: transformsOf(db),
      }),
    );
    // ferry plan shows each effect of the rule; a rule naming a column the table lacks stops plan, check and run (exit 2).
    const plan = await runCli(['plan', '-c', config]);
    expect(plan.code, plan.stderr).toBe(0);
    for (const line of [
      `table ${db.sourceSchema}.customers → ${db.targetSchema}.clients`,
      `transforms.rules[0] (match "${db.sourceSchema}.customers"):`,
      'columns left out: notes',
      'column email → email_address: masked (hash)',
      'column phone: masked (keepLast 4)',
      'column ssn: masked (redact)',
      'column dob: masked (null)',
      "rows where region in [eu, uk] (the snapshot's SQL and ferry filter the snapshot; ferry the stream)",
    ])
      expect(plan.stdout).toContain(line);
    expect(plan.stdout).toMatch(/email\s+(character varying|varchar)\(100\)\s+(character varying|varchar)\(64\)/);
    const bad = writeConfig(
      db.config({ transforms: { rules: [{ match: `${db.sourceSchema}.customers`, columns: { exclude: ['nope'] }, mask: { id: 'redact' } }] } }),
    );
    for (const command of ['plan', 'check', 'run']) {
      const r = await runCli([command, '-c', bad]);
      expect(r.code, `${command}: ${r.stdout}${r.stderr}`).toBe(2);
      const said = logMessages(r.stderr);
      expect(said).toContain(`transforms.rules[0] (match "${db.sourceSchema}.customers"): ${db.sourceSchema}.customers: columns.exclude names column "nope"`);
      expect(said).toContain('only hash keeps keys unique and stable');
    }

    const load = startCustomerLoad(db);
    const accountsLoad = startWriteLoad(db.source, 'accounts', { firstId: 1_000_000, pauseMs: 5, seedRows: 2000 });
    const phases: string[] = [];
    try {
      // One kill right after a snapshot chunk, one mid-stream.
      let ferry = run();
      // A quick snapshot may be done before the first look: its progress rows are gone then, and the kill lands in the stream.
      await waitFor('a snapshot chunk', async () => (await db.snapshotRows()) > 0 || (await db.checkpoint())?.phase === 'stream', 60_000);
      phases.push((await db.checkpoint())?.phase ?? 'none');
      ferry.child.kill('SIGKILL');
      expect((await ferry.done).signal).toBe('SIGKILL');
      ferry = run();
      await waitFor('the stream to start', async () => (await db.checkpoint())?.phase === 'stream' && /streaming from/.test(ferry.output()), 120_000);
      await sleep(1500);
      phases.push((await db.checkpoint())?.phase ?? 'none');
      ferry.child.kill('SIGKILL');
      expect((await ferry.done).signal).toBe('SIGKILL');
    } finally {
      await load.stop();
      await accountsLoad.stop();
    }
    const ferry = run();
    await db.waitCaughtUp(120_000);

    const source = await rowsAsText(db.source, db.sourceSchema, 'customers', ['id', 'email', 'phone', 'ssn', 'region']);
    const kept = source.filter((r) => r.region === 'eu' || r.region === 'uk');
    const expected = kept.map((r) => ({
      id: r.id,
      email_address: r.email === null ? null : hmac(r.email),
      phone: r.phone === null ? null : keepLast(r.phone, 4),
      ssn: 'REDACTED',
      dob: null,
      region: r.region,
    }));
    // The filter's IN on a text column is the snapshot's SQL too: about half the seeded rows were read.
    const copied = runs.flatMap((r) => [...logMessages(r.output()).matchAll(/copied \S+\.customers: (\d+) rows/g)].map((m) => Number(m[1])));
    const snapshotRead = Math.max(0, ...copied);
    expect(snapshotRead).toBeGreaterThan(0);
    expect(snapshotRead).toBeLessThan(SEED_ROWS * 0.75);
    const target = await rowsAsText(db.target, db.targetSchema, 'clients', ['id', 'email_address', 'phone', 'ssn', 'dob', 'region']);
    expect(target.length).toBe(expected.length);
    expect(target).toEqual(expected);
    // notes is left out, and customers itself never reaches the target.
    const columns = await db.target.query(
      `SELECT column_name AS c FROM information_schema.columns WHERE table_schema = '${db.targetSchema}' AND table_name = 'clients' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => String(c.c ?? c.C ?? c.COLUMN_NAME))).toEqual(['id', 'email_address', 'phone', 'ssn', 'dob', 'region']);
    const customersThere = await db.target.query(
      `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '${db.targetSchema}' AND table_name = 'customers'`,
    );
    expect(Number(customersThere[0]!.n)).toBe(0);

    const byHash = (a: Record<string, string | null>, b: Record<string, string | null>) => (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0);
    const accountsSource = await rowsAsText(db.source, db.sourceSchema, 'accounts', ['id', 'grp', 'val', 'amount']);
    const accounts = (await rowsAsText(db.target, db.targetSchema, 'accounts', ['id', 'grp', 'val', 'amount'])).sort(byHash);
    expect(accounts).toEqual(
      accountsSource.map((r) => ({ id: hmac(r.id!), grp: r.grp, val: r.val!.slice(0, 2) + '*'.repeat(r.val!.length - 2), amount: r.amount })).sort(byHash),
    );

    // verify compares the masked, renamed and filtered tables through their rules, exactly, in both modes.
    const verdict = await verifyWithCli(config);
    const byTable = Object.fromEntries(verdict.tables.map((t) => [t.table.split('.').pop(), t]));
    expect(verdict.equal, JSON.stringify(verdict.tables)).toBe(true);
    expect(byTable.items).toMatchObject({ equal: true, method: 'sql' });
    // The filter's IN is in the SQL of verify's source reads as in the snapshot's: only the kept rows are read.
    expect(byTable.customers).toMatchObject({
      equal: true,
      method: 'transforms',
      rows: kept.length,
      source: String(kept.length),
      target: String(kept.length),
    });
    expect(byTable.customers!.note).toContain("the source's SQL applies region in [eu, uk]");
    expect(byTable.accounts).toMatchObject({ equal: true, method: 'transforms', rows: accountsSource.length });
    const counted = await verifyWithCli(config, 'counts');
    expect(counted.equal, JSON.stringify(counted.tables)).toBe(true);
    expect(counted.tables.find((t) => t.table.endsWith('.customers'))).toMatchObject({ source: String(kept.length), method: 'transforms' });

    // A tampered target: one masked value changed, one kept row deleted, one account's masked value changed: not equal, naming the keys.
    const [changed, deleted] = [kept[10]!.id!, kept[20]!.id!];
    await db.target.query(`UPDATE ${db.targetSchema}.clients SET phone = 'tampered' WHERE id = ${changed}`);
    await db.target.query(`DELETE FROM ${db.targetSchema}.clients WHERE id = ${deleted}`);
    await db.target.query(`UPDATE ${db.targetSchema}.accounts SET val = 'tampered' WHERE id = '${accounts[0]!.id}'`);
    const tampered = await verifyWithCli(config, 'checksums', ['--recheck', '0']);
    expect(tampered.equal).toBe(false);
    const after: Record<string, VerifiedTable> = Object.fromEntries(tampered.tables.map((t) => [t.table.split('.').pop(), t]));
    const keysOf = (v: VerifiedTable) => v.differingRanges.flatMap((r) => r.keys ?? []);
    expect(after.items!.equal).toBe(true);
    expect(after.customers!.equal).toBe(false);
    const differing = keysOf(after.customers!);
    expect(differing).toEqual(
      expect.arrayContaining([
        { key: changed, difference: 'changed' },
        { key: deleted, difference: 'missing' },
      ]),
    );
    expect(after.accounts!.equal).toBe(false);
    expect(keysOf(after.accounts!)).toEqual([{ key: accounts[0]!.id, difference: 'changed' }]);
    expect((await verifyWithCli(config, 'counts')).tables.find((t) => t.table.endsWith('.customers'))).toMatchObject({
      equal: false,
      source: String(kept.length),
      target: String(kept.length - 1),
    });

    ferry.child.kill('SIGTERM');
    const last = await ferry.done;
    expect(last.code, last.stderr).toBe(0);
    const printed = (await Promise.all(runs.map((r) => r.done))).map((r) => r.stdout + r.stderr).join('\n');
    expect(printed.length).toBeGreaterThan(0);
    expect(printed).not.toContain(SALT);
    console.log(
      `transform rules ${route.label}: ${source.length} source customers, ${target.length} in the target (masked: hash, keepLast 4, redact, null), ${source.length - kept.length} filtered out; the snapshot's SQL read ${snapshotRead} of its ${SEED_ROWS}+ rows, verify's ${byTable.customers!.rows} of ${source.length}; ${load.transactions} load transactions with ${load.moves} region-changing updates (rows moved into or out of the filter); kills at ${phases.join(', ')}; accounts: ${accounts.length} rows under hashed keys after ${accountsLoad.transactions} load transactions with key changes`,
    );
    expect(phases).toContain('stream');
  });
});

// Postgres fences one database (default_transaction_read_only); a MariaDB fence is server-wide and has its test in cutover.test.ts.
describe.each(ROUTES.filter((r) => r.source === 'postgres'))('a cutover with transform rules, $label', (route) => {
  const name = `xrules_cut_${route.target}`;
  let db: RouteDatabases;
  let ferry: RunningCli | undefined;
  beforeAll(async () => {
    db = await routeDatabases(route, name);
    process.env[SALT_VARIABLE] = SALT;
  });
  afterAll(async () => {
    ferry?.child.kill('SIGKILL');
    delete process.env[SALT_VARIABLE];
    await db?.source.query(`ALTER DATABASE ${db.name} RESET default_transaction_read_only`).catch(() => {});
    await db?.close();
  });

  it('verifies the masked, filtered tables by checksums through their rules and completes, under a write load', async () => {
    await db.source.query(CUSTOMERS_DDL);
    await db.source.query(ITEMS_DDL.replace('items', 'accounts'));
    await db.source.query(seedItemsSql(route.source, 1000).replace('INSERT INTO items', 'INSERT INTO accounts'));
    await db.source.query(`INSERT INTO customers VALUES ${Array.from({ length: 2000 }, (_, k) => customerValues(k + 1)).join(', ')}`);
    const started = await startWithAdmin(db.config({ apply: { batchMaxRows: 100, batchMaxMs: 20 }, transforms: transformsOf(db) }));
    ferry = started.ferry;
    await waitReady(started.admin);
    const load = startCustomerLoad(db);
    await waitFor('load transactions', async () => load.transactions >= 20);
    const post = await adminCall(started.admin, '/cutover', { method: 'POST', body: JSON.stringify({ maxLagSeconds: 30, verify: 'checksums' }) });
    expect(post.status).toBe(202);
    const end = await cutoverEnd(started.admin, 120_000);
    await load.stop().catch(() => {});
    expect(end.state, String(end.reason)).toBe('completed');
    const verdicts = end.verify as { table: string; equal: boolean; method: string; rows: number; source: string }[];
    const customers = verdicts.find((v) => v.table.endsWith('.customers'))!;
    expect(customers).toMatchObject({ equal: true, method: 'transforms' });
    expect(verdicts.find((v) => v.table.endsWith('.accounts'))).toMatchObject({ equal: true, method: 'transforms' });
    const kept = await db.target.query(`SELECT count(*) AS n FROM ${db.targetSchema}.clients`);
    expect(customers.source).toBe(String(kept[0]!.n));
    console.log(
      `cutover with transform rules ${route.label}: completed after ${load.transactions} load transactions; verified through the rules: customers ${customers.rows} source rows read (its filter in the source's SQL), ${customers.source} kept`,
    );
  });
});
