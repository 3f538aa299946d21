/** Kinds of source objects ferry does not carry to the target. */
export type NotCarriedKind =
  | 'trigger'
  | 'view'
  | 'materialized view'
  | 'routine'
  | 'event'
  | 'rule'
  | 'generated column'
  | 'on update'
  | 'index'
  | 'partitioning'
  | 'foreign key'
  | 'domain constraint'
  | 'sequence'
  | 'unlogged table'
  | 'default'
  | 'not null'
  | 'unique'
  | 'check'
  /** Source objects that would share one target name (pipeline/target-names.ts). */
  | 'target name';

/** A source object ferry will not carry, and what the operator does about it. */
export interface NotCarried {
  readonly kind: NotCarriedKind;
  /** The object's name as the source knows it (`shop.audit_insert`, `shop.orders.total`). */
  readonly name: string;
  /** The replicated table it belongs to or concerns, when there is one. */
  readonly table?: string;
  /** What it is and what happens to it. */
  readonly detail: string;
  readonly action: string;
  /** A problem (`ferry check` fails) rather than something to do around the cutover. */
  readonly problem?: boolean;
}

/**
 * What to do with a source's trigger, view or routine on the target: `translatedTo` names the SQL
 * its definition is translated to ('Postgres'), null when the target runs the source's own.
 */
export function routineActions(translatedTo: string | null): { trigger: string; view: string; routine: string } {
  const translate = translatedTo ? `, translated to ${translatedTo} SQL` : '';
  return {
    // On a MySQL target ferry's writes would fire it; on Postgres, apply sessions run as a replica and would not, but the rule is the same.
    trigger: `create it on the target at the cutover, once ferry has stopped${translate}; not before: the rows ferry writes already carry its effect`,
    view: `create it on the target${translate}, before the application moves`,
    routine: `create it on the target${translate}, before the application moves`,
  };
}

/** A partitioned source table: the target gets one plain table. */
export function partitionNotCarried(table: string, layout: string): NotCarried {
  return {
    kind: 'partitioning',
    name: table,
    table,
    detail: `${layout}: the target gets one unpartitioned table with all the rows`,
    action: `to keep a partitioned layout, create ${table} partitioned on the target before the snapshot (snapshot.tablePrep: create keeps an existing table whose columns match)`,
  };
}

export interface SeveredKey {
  /** `schema.table.constraint` of the referencing table. */
  readonly name: string;
  readonly child: string;
  readonly parent: string;
  /** The referencing table is replicated (and the referenced one is not); else the other way round. */
  readonly childSelected: boolean;
  /** The key's cascading rules (`ON DELETE CASCADE` …). */
  readonly cascading: readonly string[];
  /** The source logs the rows its referential actions change (Postgres does; InnoDB does not). */
  readonly logsCascades: boolean;
}

/** A foreign key between a replicated table and one that is not. */
export function severedForeignKey(k: SeveredKey): NotCarried {
  if (!k.childSelected) {
    return {
      kind: 'foreign key',
      name: k.name,
      table: k.parent,
      detail: `${k.child}, which is not replicated, references ${k.parent}: the key stays at the source`,
      action: `include ${k.child} (tables.include) if the application needs it on the target; otherwise nothing to do`,
    };
  }
  if (k.cascading.length > 0 && !k.logsCascades) {
    return {
      kind: 'foreign key',
      name: k.name,
      table: k.child,
      problem: true,
      detail: `${k.child} is replicated but the table it references, ${k.parent}, is not: the rows InnoDB changes through ${k.cascading.join(', ')} are not in the binlog, and ferry can replay them only with the parent's changes, so the target's ${k.child} would keep rows the source changed or deleted`,
      action: `include ${k.parent} (tables.include), or exclude ${k.child} (tables.exclude)`,
    };
  }
  return {
    kind: 'foreign key',
    name: k.name,
    table: k.child,
    detail: `the table it references, ${k.parent}, is not replicated, so the target cannot have this foreign key`,
    action: `include ${k.parent} (tables.include), or after the cutover recreate the key against wherever ${k.parent}'s rows live`,
  };
}

/** `1 partition`, `3 partitions`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
