import type pg from 'pg';
import { tableKey } from '../../core/change-event.js';
import type { CatalogueTable } from '../../core/plan-catalogue.js';
import type { TargetFacts, TargetProbe } from '../../core/plan-target.js';
import { connectClient } from '../../engines/postgres/connection.js';
import { enumTypes } from './postgres-dialect.js';

/** Types Postgres → Postgres columns keep by name (user and extension types, arrays of them), and which of them are enums. */
function namedTypes(tables: readonly CatalogueTable[]): { types: string[]; enums: Set<string> } {
  const types = new Set<string>();
  const enums = new Set<string>();
  for (const t of tables) {
    if (t.schema.engine !== 'postgres') continue;
    for (const e of enumTypes(t.schema)) enums.add(e.name);
    for (const c of t.schema.columns) types.add(c.sourceType);
  }
  for (const e of enums) types.add(e);
  return { types: [...types], enums };
}

/** A Postgres target, read on a read-only session: version, the tables there already, the types it lacks. */
export async function openPostgresTargetProbe(url: string): Promise<TargetProbe> {
  const client = await connectClient(url, { connectionTimeoutMillis: 10_000 });
  return { probe: (tables) => probe(client, tables), close: () => client.end().catch(() => {}) };
}

async function probe(client: pg.ClientBase, tables: readonly CatalogueTable[]): Promise<TargetFacts & { version: string }> {
  await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  const {
    rows: [{ version }],
  } = await client.query("SELECT current_setting('server_version') AS version");
  const keys = tables.map((t) => tableKey(t.target));
  const { rows: existing } = await client.query(
    `SELECT n.nspname || '.' || c.relname AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname = ANY($1::text[])`,
    [keys],
  );
  const { types, enums } = namedTypes(tables);
  const { rows } = types.length === 0 ? { rows: [] } : await client.query('SELECT t AS name FROM unnest($1::text[]) t WHERE to_regtype(t) IS NULL', [types]);
  // An enum array is missing with its enum, which ferry creates.
  const missing: string[] = rows.map((r) => r.name);
  const isEnum = (name: string) => enums.has(name.replace(/(\[\])+$/, ''));
  return {
    engine: 'postgres',
    version,
    existingTables: new Set(existing.map((r) => r.key)),
    missingTypes: new Set(missing.filter((m) => !isEnum(m))),
    missingEnums: new Set(missing.filter((m) => enums.has(m))),
  };
}
