import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseFenced, fenceDatabase, unfenceDatabase } from '../../src/sources/postgres/pg-fence.js';

/** A Postgres fence the source user may not put up (it does not own the database): it says so, and nothing is left fenced. */
describe('Postgres fence without the database owner', () => {
  const name = 'pg_fence_not_owner';
  let admin: pg.Client;
  let user: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.query(
      `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferry_not_owner') THEN CREATE ROLE ferry_not_owner LOGIN; END IF; END $$`,
    );
    const url = new URL(inject('postgresUrl'));
    url.pathname = `/${name}`;
    url.username = 'ferry_not_owner';
    user = new pg.Client({ connectionString: url.toString() });
    await user.connect();
  });
  afterAll(async () => {
    await user?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin?.query('DROP ROLE IF EXISTS ferry_not_owner');
    await admin?.end();
  });

  it('fails naming the privilege, the fix and fence none; unfencing finds nothing up', async () => {
    const since = new Date();
    await expect(fenceDatabase(user, 10, () => false)).rejects.toThrow(
      /the fence failed, default_transaction_read_only was not set: the source user may not alter the database \(must be owner of database pg_fence_not_owner\); as an admin: ALTER DATABASE pg_fence_not_owner OWNER TO ferry_not_owner; or .*"fence": "none"/,
    );
    expect(await databaseFenced(user)).toBe(false);
    expect(await unfenceDatabase(user, since, false), 'nothing to lift').toBe(false);
  });
});
