import type { Config } from '../config.js';
import { tableKey } from '../core/change-event.js';
import type { Partition, TableSchema } from '../core/schema.js';
import type { CheckProblem } from '../core/check-problem.js';
import type { SourceCatalogue } from '../core/source-catalogue.js';
import type { NameKind, NameRules, TargetNaming } from '../core/target-naming.js';
import { nameRules } from '../engines/registry.js';
import { targetNaming } from './endpoints.js';

/** Two or more source objects that would land on one target name, or one name the target cannot hold. */
export interface NameConflict {
  /** The source objects, as the source names them (`s1.t`, `s1.t.a`). */
  readonly objects: readonly string[];
  readonly message: string;
  readonly hint: string;
}

interface Named {
  readonly kind: NameKind;
  readonly table: TableSchema;
  /** The name ferry gives the object on the target, unqualified. */
  readonly name: string;
  /** The source object (`s1.t`, `s1.t.a`). */
  readonly object: string;
  /** The namespace where names must differ: a target schema's relations, a source table's columns or (MySQL) indexes. */
  readonly scope: string;
}

const NO_RENAME = 'ferry has no rename rules yet';

/** Every mapping of `tables` under which two source objects share a target name, or a name the target would cut or refuse. */
export function targetNameConflicts(tables: readonly TableSchema[], naming: TargetNaming): NameConflict[] {
  const rules = nameRules(naming);
  const conflicts: NameConflict[] = [];
  const schemas = new Set<string>();
  for (const t of tables) {
    const why = rules.invalid(t.target.schema);
    if (why && !schemas.has(t.target.schema)) {
      schemas.add(t.target.schema);
      conflicts.push({
        objects: [tableKey(t.source)],
        message: `the target ${rules.schemaWord} ${t.target.schema} (of table ${tableKey(t.source)}) ${why}`,
        hint: `set target.schema to a name the target can hold, or exclude the tables of ${t.source.schema} (tables.exclude: ["${t.source.schema}.*"])`,
      });
    }
  }
  const groups = new Map<string, Named[]>();
  for (const n of tables.flatMap((t, i) => namedObjects(t, i, rules))) {
    const key = `${n.scope}\u0000${rules.fold(n.kind, n.name)}`;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  for (const group of groups.values()) {
    const only = group.length === 1 ? group[0]! : null;
    if (!only) conflicts.push(collision(group, rules));
    // ferry's own index names are cut to fit already.
    else if (only.kind !== 'index') {
      const why = rules.invalid(only.name);
      if (why)
        conflicts.push({
          objects: [only.object],
          message: `${only.kind} ${only.object}: its name ${why}`,
          hint: `rename it at the source, or exclude the table (tables.exclude: ["${tableKey(only.table.source)}"])`,
        });
    }
  }
  return conflicts;
}

/** The conflicts as `ferry check` reports them (and so the preflight of `ferry run`, before anything is written). */
export function targetNameProblems(tables: readonly TableSchema[], naming: TargetNaming): CheckProblem[] {
  return targetNameConflicts(tables, naming).map((c) => ({ check: 'target names', message: c.message, hint: c.hint }));
}

/** `ferry check`'s name check of the source's selected tables against the configured target. */
export async function targetNameCheck(config: Config, source: SourceCatalogue): Promise<CheckProblem[]> {
  const naming = await targetNaming(config);
  // A table ferry cannot describe is the source check's problem, named there.
  const tables = naming && (await source.describeTables().catch(() => null));
  return naming && tables ? targetNameProblems(tables, naming) : [];
}

/** The names ferry gives `t` and what it holds on the target; `nth` tells the table from the others. */
function namedObjects(t: TableSchema, nth: number, rules: NameRules): Named[] {
  const schema = `relations of ${rules.fold('schema', t.target.schema)}`;
  // Columns (and MySQL's indexes) only collide within one source table: tables sharing a target table are a collision of their own.
  const table = `of table ${nth}`;
  const object = tableKey(t.source);
  const out: Named[] = [{ kind: 'table', table: t, name: t.target.name, object, scope: schema }];
  for (const c of t.columns) out.push({ kind: 'column', table: t, name: c.name, object: `${object}.${c.name}`, scope: `columns ${table}` });
  if (rules.relationsShareSchema) {
    // One namespace per schema holds tables, partitions and indexes; ferry's index names are `<table>_<index>`.
    const partitions = (ps: readonly Partition[]): Named[] =>
      ps.flatMap((p) => [
        { kind: 'partition' as const, table: t, name: p.name, object: `${t.source.schema}.${p.name}`, scope: schema },
        ...partitions(p.partitioning?.partitions ?? []),
      ]);
    out.push(...partitions(t.partitioning?.partitions ?? []));
  }
  const indexes = rules.relationsShareSchema ? schema : `indexes ${table}`;
  for (const i of t.indexes) out.push({ kind: 'index', table: t, name: rules.indexName(t.target.name, i.name), object: `${object}.${i.name}`, scope: indexes });
  return out;
}

function collision(group: readonly Named[], rules: NameRules): NameConflict {
  const first = group[0]!;
  const last = group[group.length - 1]!;
  const kinds = new Set(group.map((n) => n.kind));
  const kind = kinds.size === 1 ? first.kind : null;
  const objects = group.map((n) => (kind ? n.object : `${n.kind} ${n.object}`));
  const list = `${kind ? `${kind === 'index' ? 'indexes' : `${kind}s`} ` : ''}${objects.slice(0, -1).join(', ')} and ${objects[objects.length - 1]}`;
  const name = rules.stored(first.name);
  const where =
    kind === 'column'
      ? `column ${name} of table ${tableKey(first.table.target)}`
      : `${kind === 'table' ? 'table' : 'name'} ${first.table.target.schema}.${name}`;
  // The same name as ferry writes it, or only once the target has cut or folded it.
  const sameName = group.every((n) => n.name === first.name && n.table.target.schema === first.table.target.schema);
  const bySchema = sameName && new Set(group.map((n) => n.table.source.schema)).size > 1;
  const reason = !sameName
    ? rules.folds(first.kind)
    : bySchema
      ? `target.schema puts every table in ${first.table.target.schema}`
      : 'ferry names an index <table>_<index>, and Postgres keeps tables, partitions and indexes under one name per schema';
  const effect =
    kind === 'table'
      ? 'their rows would mix, and a change to one would overwrite or delete rows of the other'
      : kind === 'column'
        ? 'one target table cannot hold both'
        : 'ferry would create only one of them';
  const hint =
    kind === 'column'
      ? `rename one of the columns at the source, or exclude the table (tables.exclude: ["${tableKey(first.table.source)}"]); ${NO_RENAME}`
      : `exclude one of the tables (tables.exclude: ["${tableKey(last.table.source)}"]) or rename one at the source${bySchema ? ', or leave target.schema unset so each table keeps its own schema' : ''}; ${NO_RENAME}`;
  return { objects: group.map((n) => n.object), message: `${list} land on one ${where} on the target (${reason}): ${effect}`, hint };
}
