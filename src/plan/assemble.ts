import { tableKey } from '../core/change-event.js';
import type { NotCarried } from '../core/not-carried.js';
import type { CatalogueColumn, CatalogueTable, PlanCatalogue } from '../core/plan-catalogue.js';
import type { PlanTarget, TargetFacts } from '../core/plan-target.js';
import type { CarriedItem } from '../core/schema-fidelity.js';
import type { TableSchema } from '../core/schema.js';
import { VERDICTS, type Verdict } from '../core/verdict.js';
import { SQL_TARGETS } from '../engines/registry.js';
import { targetNameConflicts } from '../pipeline/target-names.js';
import type { ColumnPlan, Endpoint, PlanReport, TablePlan } from './plan-model.js';
import { assessColumn } from './verdict.js';

export interface PlanInputs {
  readonly pipeline: string;
  readonly source: Endpoint;
  readonly target: Endpoint;
  readonly catalogue: PlanCatalogue;
  readonly facts: TargetFacts;
  /** What the transform rules do to a table, one line each (transforms/rules.ts ruleEffects). */
  readonly effects?: (t: CatalogueTable) => readonly string[];
}

/** The report from what was read of both databases: per column verdicts, the target DDL, what is not carried. */
export function assemblePlan(i: PlanInputs): PlanReport {
  const target = SQL_TARGETS[i.facts.engine].planTarget;
  const notCarried: NotCarried[] = [...i.catalogue.notCarried];
  const schemas = new Set<string>();
  const replicated = i.catalogue.tables.filter((t) => !t.refused).map((t) => t.schema);
  const tables: TablePlan[] = i.catalogue.tables.map((t) => {
    const columns = t.columns.map((c) => columnPlan(t, c, i.facts, target));
    for (const index of t.refused ? [] : target.indexesLeftOut(t.schema)) {
      notCarried.push({
        kind: 'index',
        name: `${tableKey(t.source)}.${index.name}`,
        table: tableKey(t.source),
        detail: `an index over ${index.columns.join(', ')}, which the target type cannot index without a prefix length: ferry leaves it out`,
        action: 'create it on the target with prefix lengths before the cutover, or do without',
      });
    }
    const refused = t.refused || columns.some((c) => c.verdict === 'unsupported');
    // The schema once, with the first table that goes into it.
    const schema = refused || schemas.has(t.target.schema) ? [] : [target.createSchemaSql(t.target.schema)];
    if (!refused) schemas.add(t.target.schema);
    const carried = refused ? [] : target.carriedSchema(t.schema, replicated, i.facts);
    notCarried.push(...carried.filter((c) => c.when === 'never' && !severedKey(t.schema, c.kind, c.name, replicated)).map((c) => constraintNotCarried(t, c)));
    const atCutover = carried
      .filter((c) => c.when === 'finalize' && c.sql)
      .map((c) => ({ kind: c.kind, name: c.name, sql: c.sql!, ...(c.note ? { note: c.note } : {}) }));
    const effects = i.effects?.(t) ?? [];
    return {
      source: t.source,
      target: t.target,
      ...(effects.length > 0 ? { transforms: effects } : {}),
      columns,
      targetExists: i.facts.existingTables.has(tableKey(t.target)),
      ddl: refused ? [] : [...schema, ...target.tableDdl(t.schema, i.facts)],
      atCutover,
    };
  });
  for (const c of targetNameConflicts(
    i.catalogue.tables.map((t) => t.schema),
    target.naming(i.facts),
  )) {
    notCarried.push({ kind: 'target name', name: c.objects.join(', '), detail: c.message, action: c.hint, problem: true });
  }
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const t of tables) for (const c of t.columns) counts[c.verdict]++;
  return {
    pipeline: i.pipeline,
    source: i.source,
    target: i.target,
    tables,
    notCarried,
    summary: {
      tables: tables.length,
      columns: counts,
      notCarried: notCarried.length,
      problems: counts.unsupported + notCarried.filter((n) => n.problem).length,
    },
  };
}

const CONSTRAINT_KINDS = { default: 'default', 'not-null': 'not null', unique: 'unique', 'foreign-key': 'foreign key', check: 'check' } as const;

/** A default or constraint the target does not get, with the target code's reason. */
function constraintNotCarried(t: CatalogueTable, c: CarriedItem): NotCarried {
  const kind = CONSTRAINT_KINDS[c.kind];
  return {
    kind,
    name: `${tableKey(t.source)}.${c.name}`,
    table: tableKey(t.source),
    detail: c.note ?? 'not carried',
    action: `give ${tableKey(t.target)} an equivalent ${kind} by hand before the application moves to the target`,
  };
}

/** A foreign key to a table the pipeline does not replicate: named once, by the catalogue read (severedForeignKey). */
function severedKey(t: TableSchema, kind: CarriedItem['kind'], name: string, replicated: readonly TableSchema[]): boolean {
  const fk = kind === 'foreign-key' ? t.foreignKeys?.find((k) => k.name === name) : undefined;
  return fk !== undefined && !replicated.some((r) => tableKey(r.source) === tableKey(fk.references));
}

function columnPlan(t: CatalogueTable, c: CatalogueColumn, facts: TargetFacts, target: PlanTarget): ColumnPlan {
  const base = { name: c.name, sourceType: c.sourceType };
  if (c.unsupported)
    return { ...base, targetType: null, verdict: 'unsupported', note: `${c.unsupported}: exclude the table (tables.exclude) or change the column type` };
  if (!c.column) return { ...base, targetType: null, verdict: 'lossy', note: c.skipped ?? 'not replicated' };
  const targetType = target.columnType(t.schema, c.column);
  if (facts.missingTypes.has(targetType)) {
    return {
      ...base,
      targetType,
      verdict: 'unsupported',
      note: `the target has no type ${targetType}: create it (or install its extension) on the target before the snapshot`,
    };
  }
  const a = assessColumn(t.schema, c.column, facts.engine, targetType);
  if (!c.domain) return { ...base, targetType, verdict: a.verdict, ...(a.note ? { note: a.note } : {}) };
  const domain = `domain ${c.domain} carried as its base type`;
  return { ...base, targetType, verdict: a.verdict === 'exact' ? 'documented' : a.verdict, note: a.note ? `${domain}; ${a.note}` : domain };
}

/** Exit code of `ferry plan` (DESIGN §1.1): 1 when anything is unsupported (a column, or a key ferry cannot replicate), else 0. */
export function planExitCode(report: PlanReport): number {
  return report.summary.problems > 0 ? 1 : 0;
}
