import type { Mask, TransformRule, TransformsConfig } from '../core/transform-rules.js';
import { tableKey, type Row, type TableId, type Value } from '../core/change-event.js';
import { configError } from '../core/errors.js';
import type { Column, TableSchema } from '../core/schema.js';
import { makeTableFilter } from '../core/table-mapping.js';
import { maskedColumn, maskFunction, maskName } from './masks.js';
import { filterText, pushable, rowPredicate } from './row-filter.js';
import { IDENTITY, type TablePlan, type Transform } from './transform.js';

/** The rule a table falls under: the first whose match takes it. */
export interface RuleOf {
  readonly index: number;
  readonly rule: TransformRule;
}

/** `transforms.rules[0] (match "shop.customers")`: how every message names a rule. */
export function ruleName(r: RuleOf): string {
  return `transforms.rules[${r.index}] (match "${r.rule.match}")`;
}

/** The first rule matching source table `t`. */
export function ruleFor(rules: readonly TransformRule[], t: TableId): RuleOf | undefined {
  const index = rules.findIndex((r) => makeTableFilter([r.match], [])(t));
  return index < 0 ? undefined : { index, rule: rules[index]! };
}

/** What one rule does to one table's columns, by source column name. */
interface ColumnMapping {
  /** Source column → target name, for the columns that reach the target. */
  readonly names: ReadonlyMap<string, string>;
  /** Source column → its mask. */
  readonly masks: ReadonlyMap<string, Mask>;
  /** The rule filters rows: a key referencing the table may find its row left out. */
  readonly filtered: boolean;
}

function columnMapping(rule: TransformRule, sourceColumns: readonly string[]): ColumnMapping {
  const c = rule.columns;
  const kept = sourceColumns.filter((n) => (c?.include ? c.include.includes(n) : !c?.exclude?.includes(n)));
  const names = new Map(kept.map((n) => [n, c?.rename?.[n] ?? n]));
  const byTarget = new Map([...names].map(([s, t]) => [t, s]));
  const masks = new Map<string, Mask>();
  for (const [target, mask] of Object.entries(rule.mask ?? {})) {
    const source = byTarget.get(target);
    if (source !== undefined) masks.set(source, mask);
  }
  return { names, masks, filtered: rule.filter !== undefined };
}

/** The target table id of `source` under `rule`; `base` is where it lands without one (target.schema applied). */
function renamed(rule: TransformRule, base: TableId): TableId {
  if (!rule.rename) return base;
  const dot = rule.rename.indexOf('.');
  if (dot < 0) return { schema: base.schema, name: rule.rename };
  const name = rule.rename.slice(dot + 1);
  return { schema: rule.rename.slice(0, dot), name: name === '*' ? base.name : name };
}

/**
 * Why the rules cannot apply to these source tables, one line per problem: a rule that matches no
 * table (or only tables an earlier rule takes), a column it names that the table does not have, a
 * key column excluded, or masked by anything but hash (the only mask that keeps keys unique and stable).
 */
export function ruleProblems(t: TransformsConfig, tables: readonly TableSchema[]): string[] {
  const problems: string[] = [];
  t.rules.forEach((rule, index) => {
    const r = { index, rule };
    const matched = tables.filter((s) => makeTableFilter([rule.match], [])(s.source));
    const own = matched.filter((s) => ruleFor(t.rules, s.source)?.index === index);
    if (matched.length === 0) problems.push(`${ruleName(r)}: matches no source table ferry replicates`);
    else if (own.length === 0) problems.push(`${ruleName(r)}: every table it matches falls under an earlier rule (the first matching rule applies)`);
    if (rule.rename && !rule.rename.endsWith('.*') && own.length > 1) {
      problems.push(`${ruleName(r)}: renames ${own.length} tables (${own.map((s) => tableKey(s.source)).join(', ')}) onto one, ${rule.rename}`);
    }
    for (const s of own) problems.push(...tableProblems(r, s).map((p) => `${ruleName(r)}: ${tableKey(s.source)}: ${p}`));
  });
  return problems;
}

function tableProblems({ rule }: RuleOf, s: TableSchema): string[] {
  const have = new Set(s.columns.map((c) => c.name));
  const unknown = (what: string, names: readonly string[]) =>
    names.filter((n) => !have.has(n)).map((n) => `${what} names column "${n}", which the source table does not have`);
  const c = rule.columns;
  const problems = [
    ...unknown('columns.include', c?.include ?? []),
    ...unknown('columns.exclude', c?.exclude ?? []),
    ...unknown('columns.rename', Object.keys(c?.rename ?? {})),
    ...unknown(
      'filter',
      (rule.filter ?? []).map((f) => f.column),
    ),
  ];
  const m = columnMapping(
    rule,
    s.columns.map((col) => col.name),
  );
  const targets = [...m.names.values()];
  for (const name of new Set(targets.filter((n, i) => targets.indexOf(n) !== i))) problems.push(`two columns would be named "${name}" in the target`);
  const masked = new Set([...m.masks.keys()].map((n) => m.names.get(n)));
  for (const name of Object.keys(rule.mask ?? {})) {
    if (masked.has(name)) continue;
    const wasRenamed = c?.rename?.[name];
    problems.push(
      wasRenamed
        ? `mask names column "${name}", which the rule renames: name it "${wasRenamed}"`
        : `mask names column "${name}", which the target table does not have`,
    );
  }
  for (const key of s.primaryKey) {
    if (!m.names.has(key)) problems.push(`the primary key column "${key}" is left out: every key column must reach the target`);
    const mask = m.masks.get(key);
    if (mask !== undefined && mask !== 'hash') {
      problems.push(
        `mask ${typeof mask === 'string' ? mask : JSON.stringify(mask)} on primary key column "${key}" would make keys equal or change them: only hash keeps keys unique and stable`,
      );
    }
  }
  return problems;
}

/** Refuses rules that do not fit the source tables: a config error naming each rule and problem (exit 2). */
export function checkRules(t: TransformsConfig, tables: readonly TableSchema[]): void {
  const problems = ruleProblems(t, tables);
  if (problems.length > 0) {
    throw configError(
      `invalid transforms:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      'correct the rules above (ferry plan -c FILE shows what each rule does)',
    );
  }
}

/** The transform of `transforms.rules`: the identity when there are none. */
export function rulesTransform(t: TransformsConfig): Transform {
  if (t.rules.length === 0) return IDENTITY;
  /** Source column → mask, of the table a foreign key references (its own rule's). */
  const masksOf = (table: TableId, columns: readonly string[]) => {
    const r = ruleFor(t.rules, table);
    return r ? columnMapping(r.rule, columns) : undefined;
  };
  return {
    plan(table) {
      const r = ruleFor(t.rules, table.source);
      // A table without a rule still has its references to tables with one renamed, or left out.
      if (!r) return table.foreignKeys?.some((fk) => ruleFor(t.rules, fk.references)) ? tablePlan({ match: '' }, table, t.salt, masksOf) : { table };
      const problems = tableProblems(r, table);
      if (problems.length > 0) throw configError(`${ruleName(r)}: ${tableKey(table.source)}: ${problems.join('; ')}`, 'correct the rule');
      return tablePlan(r.rule, table, t.salt, masksOf);
    },
  };
}

function tablePlan(
  rule: TransformRule,
  table: TableSchema,
  salt: string | undefined,
  referenced: (t: TableId, columns: readonly string[]) => ColumnMapping | undefined,
): TablePlan {
  const m = columnMapping(
    rule,
    table.columns.map((c) => c.name),
  );
  const target = renamed(rule, table.target);
  const pushdown = rule.filter ? pushable(rule.filter, table.columns) : [];
  const keeps = rule.filter ? { keeps: rowPredicate(rule.filter), ...(pushdown.length > 0 ? { pushdown } : {}) } : {};
  const name = (n: string) => m.names.get(n)!;
  const within = (names: readonly string[]) => names.every((n) => m.names.has(n));
  const foreignKeys = table.foreignKeys
    ?.filter((fk) => {
      if (!within(fk.columns)) return false;
      const other = referenced(fk.references, fk.referencedColumns);
      const otherNames = other?.names;
      if (other?.filtered || (otherNames && !fk.referencedColumns.every((n) => otherNames.has(n)))) return false;
      // Both sides must hold the same values: masked alike (hash with one salt) or not at all.
      return fk.columns.every((col, i) => m.masks.get(col) === other?.masks.get(fk.referencedColumns[i]!));
    })
    .map((fk) => {
      const otherNames = referenced(fk.references, fk.referencedColumns)?.names;
      return { ...fk, columns: fk.columns.map(name), referencedColumns: fk.referencedColumns.map((n) => otherNames?.get(n) ?? n) };
    });
  const changesColumns = m.names.size < table.columns.length || m.masks.size > 0 || [...m.names].some(([s, t]) => s !== t);
  if (!changesColumns) return { table: { ...table, target, ...(foreignKeys ? { foreignKeys } : {}) }, ...keeps };
  // A mask other than hash makes distinct values equal: no unique index or key reference stays true over it.
  const uniqueOver = (names: readonly string[]) => names.every((n) => (m.masks.get(n) ?? 'hash') === 'hash');
  const columns: Column[] = table.columns
    .filter((c) => m.names.has(c.name))
    .map((c) => {
      const mask = m.masks.get(c.name);
      return { ...(mask === undefined ? c : maskedColumn(c, table.engine, mask, salt)), name: name(c.name) };
    });
  const maskers = new Map([...m.masks].map(([n, mask]) => [n, maskFunction(mask, salt, table.columns.find((c) => c.name === n)!.type)]));
  return {
    table: {
      engine: table.engine,
      source: table.source,
      target,
      columns,
      primaryKey: table.primaryKey.map(name),
      indexes: table.indexes.filter((i) => within(i.columns)).map((i) => ({ ...i, columns: i.columns.map(name), unique: i.unique && uniqueOver(i.columns) })),
      ...(foreignKeys ? { foreignKeys } : {}),
      // Checks and partition bounds are source SQL over source column names and values: they are left out.
    },
    columns: (row) => {
      const out: Row = {};
      for (const [n, v] of Object.entries(row)) {
        const to = m.names.get(n);
        if (to === undefined) continue;
        const masker = maskers.get(n);
        out[to] = masker ? masker(v as Value) : v;
      }
      return out;
    },
    ...keeps,
  };
}

/**
 * What the table's rule does, one line per effect, as `ferry plan` prints it (source column names,
 * with the target's where they differ); nothing for a table no rule matches.
 */
export function ruleEffects(t: TransformsConfig, table: TableSchema): string[] {
  const r = ruleFor(t.rules, table.source);
  if (!r) return [];
  const { rule } = r;
  const m = columnMapping(
    rule,
    table.columns.map((c) => c.name),
  );
  const left = table.columns.map((c) => c.name).filter((n) => !m.names.has(n));
  const lines = [`${ruleName(r)}:`];
  if (rule.rename) lines.push(`  table renamed: ${tableKey(renamed(rule, table.target))}`);
  if (left.length > 0) lines.push(`  columns left out: ${left.join(', ')}`);
  for (const [source, target] of m.names) {
    const mask = m.masks.get(source);
    if (source === target && mask === undefined) continue;
    lines.push(`  column ${source}${source === target ? '' : ` → ${target}`}${mask === undefined ? '' : `: masked (${maskName(mask)})`}`);
  }
  const pushed = new Set(pushable(rule.filter ?? [], table.columns));
  for (const f of rule.filter ?? []) {
    lines.push(`  rows where ${filterText(f)} (${pushed.has(f) ? "the snapshot's SQL and ferry" : 'ferry'} filter the snapshot; ferry the stream)`);
  }
  return lines;
}

/** Source column → target column name, for the columns of `table` that reach the target under its rule (undefined: no rule). */
export function targetColumnNames(t: TransformsConfig, table: TableSchema): ReadonlyMap<string, string> | undefined {
  const r = ruleFor(t.rules, table.source);
  return (
    r &&
    columnMapping(
      r.rule,
      table.columns.map((c) => c.name),
    ).names
  );
}
