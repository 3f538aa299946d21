import type pg from 'pg';
import { tableKey } from '../../core/change-event.js';
import type { TableId } from '../../core/change-event.js';
import type { CheckProblem } from '../../core/check-problem.js';
import { checkPartitions } from './pg-partitions.js';
import type { PartitionedTable } from '../../core/schema.js';
import type { PgTable } from './pg-schema.js';

export interface PgCheckOptions {
  readonly slot: string;
  readonly publication: string;
  readonly filter: (t: TableId) => boolean;
  /** What the target makes of a partitioned table, to say it. */
  readonly partitionedTable?: PartitionedTable | undefined;
}

const IDENTITY_NAMES: Record<string, string> = { d: 'DEFAULT', f: 'FULL', i: 'USING INDEX', n: 'NOTHING' };

/** Everything `ferry check` verifies on a Postgres source (connectivity is checked by connecting). */
export async function checkPgSource(client: pg.ClientBase, tables: readonly PgTable[], o: PgCheckOptions): Promise<CheckProblem[]> {
  const problems: CheckProblem[] = [];
  const {
    rows: [s],
  } = await client.query(
    `SELECT current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots')::int AS max_slots,
            (SELECT count(*)::int FROM pg_replication_slots) AS used_slots,
            EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS slot_exists,
            current_setting('max_wal_senders')::int AS max_senders,
            (SELECT count(*)::int FROM pg_stat_replication) AS used_senders,
            r.rolreplication OR r.rolsuper AS replication, r.rolsuper AS superuser,
            has_database_privilege(current_database(), 'CREATE') AS can_create,
            current_user AS "user", current_database() AS database,
            EXISTS (SELECT 1 FROM pg_db_role_setting d JOIN pg_database db ON db.oid = d.setdatabase
                     WHERE db.datname = current_database() AND d.setrole = 0
                       AND 'default_transaction_read_only=on' = ANY (d.setconfig)) AS fenced
       FROM pg_roles r WHERE r.rolname = current_user`,
    [o.slot],
  );
  if (s.fenced) {
    problems.push({
      check: 'read-only',
      warning: true,
      message: `database ${s.database} has default_transaction_read_only = on: applications' new sessions cannot write (a cutover fence that was never lifted?)`,
      hint: `if no cutover is under way: ALTER DATABASE ${s.database} RESET default_transaction_read_only`,
    });
  }
  if (s.wal_level !== 'logical') {
    problems.push({
      check: 'wal_level',
      message: `wal_level is ${s.wal_level}; logical decoding needs wal_level=logical`,
      hint: "ALTER SYSTEM SET wal_level = 'logical'; then restart Postgres (on RDS/Aurora: rds.logical_replication = 1 in the parameter group)",
    });
  }
  if (!s.replication) {
    problems.push({
      check: 'replication privilege',
      message: `role ${s.user} has no REPLICATION attribute; it cannot create or read a replication slot`,
      hint: `as an admin: ALTER ROLE ${s.user} REPLICATION;`,
    });
  }
  if (!s.slot_exists && s.used_slots >= s.max_slots) {
    problems.push({
      check: 'replication slots',
      message: `all ${s.max_slots} replication slots are in use; ferry needs one for slot ${o.slot}`,
      hint: 'drop an unused slot (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart',
    });
  }
  if (s.used_senders >= s.max_senders) {
    problems.push({
      check: 'wal senders',
      message: `all ${s.max_senders} WAL senders are busy; ferry's change stream needs one`,
      hint: 'raise max_wal_senders and restart Postgres, or stop an idle replication client',
    });
  }
  problems.push(...(await checkPublication(client, tables, o.publication, s.superuser, s.can_create)));
  problems.push(...(await checkTables(client, tables)));
  problems.push(
    ...(await checkPartitions(
      client,
      tables.map((t) => t.schema),
      o.filter,
      o.partitionedTable,
    )),
  );
  return problems;
}

/** The publication must exist with the selected tables, or ferry must be able to create or extend it. */
async function checkPublication(
  client: pg.ClientBase,
  tables: readonly PgTable[],
  name: string,
  superuser: boolean,
  canCreate: boolean,
): Promise<CheckProblem[]> {
  const {
    rows: [pub],
  } = await client.query(
    `SELECT p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AS all_ops, p.puballtables, p.pubviaroot,
            pg_has_role(p.pubowner, 'USAGE') AS owner
       FROM pg_publication p WHERE p.pubname = $1`,
    [name],
  );
  const list = tables.map((t) => tableKey(t.schema.source)).join(', ');
  const createHint = `as the tables' owner: CREATE PUBLICATION ${name} FOR TABLE ${list || '…'};`;
  const notOwned = tables.filter((t) => !t.owned).map((t) => tableKey(t.schema.source));
  if (!pub) {
    if (superuser || (canCreate && notOwned.length === 0)) return [];
    return [
      {
        check: 'publication',
        message: `publication ${name} does not exist and this user may not create it (${canCreate ? `it does not own ${notOwned.join(', ')}` : 'no CREATE privilege on the database'})`,
        hint: createHint,
      },
    ];
  }
  const problems: CheckProblem[] = [];
  if (!pub.all_ops) {
    problems.push({
      check: 'publication',
      message: `publication ${name} does not publish every operation (insert, update, delete, truncate)`,
      hint: `ALTER PUBLICATION ${name} SET (publish = 'insert, update, delete, truncate');`,
    });
  }
  const partitioned = tables.filter((t) => t.schema.partitioning).map((t) => tableKey(t.schema.source));
  if (!pub.pubviaroot && partitioned.length > 0) {
    const may = pub.owner || superuser;
    problems.push({
      check: 'publication',
      warning: may,
      message: `publication ${name} publishes partitions as tables of their own (publish_via_partition_root is off), so changes to ${partitioned.join(', ')} would arrive as their partitions'${may ? '; ferry switches it on before it takes the snapshot' : ''}`,
      hint: `as the publication's owner: ALTER PUBLICATION ${name} SET (publish_via_partition_root = true);`,
    });
  }
  if (!pub.puballtables) {
    const { rows } = await client.query('SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1', [name]);
    const published = new Set(rows.map((r) => `${r.schema}.${r.name}`));
    // Without publish_via_partition_root the view lists a partitioned table's partitions instead: the problem above covers it.
    const missing = tables.map((t) => tableKey(t.schema.source)).filter((t) => !published.has(t) && (pub.pubviaroot || !partitioned.includes(t)));
    if (missing.length > 0 && !(pub.owner && (superuser || notOwned.length === 0))) {
      problems.push({
        check: 'publication',
        message: `publication ${name} lacks ${missing.join(', ')} and this user may not add ${missing.length === 1 ? 'it' : 'them'}`,
        hint: `as the publication's owner: ALTER PUBLICATION ${name} ADD TABLE ${missing.join(', ')};`,
      });
    }
  }
  return problems;
}

async function checkTables(client: pg.ClientBase, tables: readonly PgTable[]): Promise<CheckProblem[]> {
  const problems: CheckProblem[] = [];
  if (tables.length === 0) {
    problems.push({
      check: 'tables',
      message: 'no source table matches tables.include / tables.exclude',
      hint: 'fix the patterns; they match schema.table, e.g. "public.*"',
    });
  }
  for (const t of tables) {
    const name = tableKey(t.schema.source);
    if (t.schema.primaryKey.length === 0 && t.replicaIdentity === 'f') {
      problems.push({
        check: 'primary key',
        warning: true,
        message: `table ${name} has no primary key: its rows are keyed by all columns (replica identity FULL), applied one change at a time, and an interrupted snapshot must start over`,
        hint: `add a primary key (ALTER TABLE ${name} ADD PRIMARY KEY (...)) for set-based apply and resumable snapshots`,
      });
    } else if (t.schema.primaryKey.length === 0) {
      const identity = IDENTITY_NAMES[t.replicaIdentity] ?? t.replicaIdentity;
      problems.push({
        check: 'primary key',
        message: `table ${name} has no primary key (replica identity ${identity}); its updates and deletes cannot be matched to target rows`,
        hint: `add one (ALTER TABLE ${name} ADD PRIMARY KEY (...)), or let the WAL carry whole rows (ALTER TABLE ${name} REPLICA IDENTITY FULL), or exclude the table with tables.exclude`,
      });
    } else if (!covers(t.identityColumns, t.schema.primaryKey)) {
      const identity = t.replicaIdentity === 'i' ? `USING INDEX (${t.identityColumns.join(', ')})` : (IDENTITY_NAMES[t.replicaIdentity] ?? t.replicaIdentity);
      problems.push({
        check: 'replica identity',
        message: `table ${name} has replica identity ${identity}, which does not carry its primary key (${t.schema.primaryKey.join(', ')}): updates and deletes would arrive without the key`,
        hint: `ALTER TABLE ${name} REPLICA IDENTITY DEFAULT;`,
      });
    }
    const {
      rows: [p],
    } = await client.query("SELECT has_table_privilege($1::oid, 'SELECT') AS ok", [t.oid]);
    if (!p.ok) problems.push({ check: 'grants', message: `the source user may not SELECT from ${name}`, hint: `GRANT SELECT ON ${name} TO <user>;` });
  }
  return problems;
}

/** The WAL's identifying columns include every primary-key column. */
export function covers(identity: readonly string[], primaryKey: readonly string[]): boolean {
  return primaryKey.length > 0 && primaryKey.every((c) => identity.includes(c));
}
