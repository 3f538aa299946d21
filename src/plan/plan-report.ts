import { tableKey } from '../core/change-event.js';
import type { CheckProblem } from '../core/check-problem.js';
import type { TargetEngine } from '../core/schema.js';
import { VERDICTS } from '../core/verdict.js';
import type { ColumnPlan, PlanReport, TablePlan } from './plan-model.js';

const ENGINE_NAMES: { readonly [E in TargetEngine]: string } = { mysql: 'MySQL/MariaDB', postgres: 'Postgres', mssql: 'SQL Server' };

/** The plan as text, the way `ferry plan` prints it: tables with their columns and DDL, then what is not carried. */
export function formatPlan(r: PlanReport): string {
  const lines = [
    `ferry plan for pipeline ${r.pipeline}`,
    `  source: ${ENGINE_NAMES[r.source.engine]} ${r.source.version} at ${r.source.endpoint}`,
    `  target: ${ENGINE_NAMES[r.target.engine]} ${r.target.version} at ${r.target.endpoint}`,
    '',
  ];
  for (const t of r.tables) lines.push(...formatTable(t), '');
  if (r.notCarried.length > 0) {
    lines.push(`not carried (${r.notCarried.length}):`);
    for (const n of r.notCarried) {
      lines.push(`  ${n.problem ? 'PROBLEM ' : ''}${n.kind} ${n.name}${n.table && !n.name.startsWith(`${n.table}.`) ? ` (table ${n.table})` : ''}`);
      lines.push(`      ${n.detail}`, `      action: ${n.action}`);
    }
    lines.push('');
  }
  const c = r.summary.columns;
  lines.push(
    `summary: ${r.summary.tables} table${r.summary.tables === 1 ? '' : 's'}, ${VERDICTS.map((v) => `${c[v]} ${v}`).join(', ')} column${VERDICTS.reduce((n, v) => n + c[v], 0) === 1 ? '' : 's'}; ${r.summary.notCarried} not carried`,
    r.summary.problems === 0
      ? 'nothing unsupported'
      : `${r.summary.problems} unsupported (${c.unsupported} column${c.unsupported === 1 ? '' : 's'}, ${r.summary.problems - c.unsupported} other): ferry check and ferry run refuse to start until each is fixed`,
  );
  return lines.join('\n');
}

function formatTable(t: TablePlan): string[] {
  const refused = t.columns.some((c) => c.verdict === 'unsupported');
  const head = `table ${tableKey(t.source)} → ${tableKey(t.target)}${t.targetExists ? ' (exists in the target: kept under snapshot.tablePrep create)' : ''}${refused ? ': REFUSED (unsupported column)' : ''}`;
  const rows = t.columns.map((c) => [c.name, c.sourceType, c.targetType ?? '—', c.verdict, c.note ?? '']);
  const widths = [0, 1, 2, 3].map((i) =>
    Math.min(40, Math.max(...rows.map((row) => row[i]!.length), ['column', 'source type', 'target type', 'verdict'][i]!.length)),
  );
  const cell = (row: string[]) =>
    `    ${row
      .slice(0, 4)
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')}  ${row[4]}`.trimEnd();
  const out = [head, ...(t.transforms ?? []).map((line) => `  ${line}`), cell(['column', 'source type', 'target type', 'verdict', 'note']), ...rows.map(cell)];
  if (t.ddl.length > 0) out.push('  target DDL:', ...t.ddl.map((sql) => `    ${sql.replace(/\n/g, '\n    ')};`));
  if (t.atCutover.length > 0)
    out.push('  at the cutover (finalizing):', ...t.atCutover.map((c) => `    ${c.kind} ${c.name}: ${c.sql}${c.note ? `  -- ${c.note}` : ''}`));
  return out;
}

/**
 * The plan's findings as `ferry check` reports them: unsupported columns and keys ferry cannot
 * replicate are problems; what is not carried is a warning with its action. A column whose source
 * type ferry cannot map at all (no target type) is left to the source's own check, which names it.
 */
export function planProblems(r: PlanReport): CheckProblem[] {
  const unsupported = r.tables.flatMap((t) =>
    t.columns.filter((c) => c.verdict === 'unsupported' && c.targetType !== null).map((c) => unsupportedColumn(t, c)),
  );
  // checkAll reports target names from the source's own description (pipeline/target-names.ts), once.
  const notCarried = r.notCarried
    .filter((n) => n.kind !== 'target name')
    .map(
      (n): CheckProblem => ({
        check: n.problem ? n.kind : `not carried: ${n.kind}`,
        message: `${n.name}: ${n.detail}`,
        hint: n.action,
        ...(n.problem ? {} : { warning: true }),
      }),
    );
  return [...unsupported, ...notCarried];
}

function unsupportedColumn(t: TablePlan, c: ColumnPlan): CheckProblem {
  return {
    check: 'column types',
    message: `table ${tableKey(t.source)}, column ${c.name} (${c.sourceType}): ${c.note ?? 'unsupported'}`,
    hint: `exclude the table (tables.exclude: ["${tableKey(t.source)}"]) or change the column`,
  };
}
