import type { TableId } from './change-event.js';

/** ferry's own bookkeeping tables: never replicated, whatever the include patterns say. */
export const FERRY_SCHEMA = 'ferry';
const FERRY_TABLES = new Set(['ferry_checkpoint', 'ferry_snapshot_progress', 'ferry_heartbeat']);

/** A glob on schema.table (`*` any run, `?` one character) as an anchored expression. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** A predicate on schema.table from include/exclude globs (`*` any run, `?` one character). */
export function makeTableFilter(include: readonly string[], exclude: readonly string[]): (t: TableId) => boolean {
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  return (t) => {
    if (t.schema === FERRY_SCHEMA || FERRY_TABLES.has(t.name)) return false;
    const name = `${t.schema}.${t.name}`;
    return inc.some((r) => r.test(name)) && !exc.some((r) => r.test(name));
  };
}

/** Where a source table lands: same schema and name unless `target.schema` puts everything in one. */
export function targetTableId(source: TableId, targetSchema: string | undefined): TableId {
  return { schema: targetSchema ?? source.schema, name: source.name };
}
