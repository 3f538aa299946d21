import type { DifferingRange, TableVerdict } from './verify.js';

const DIFFERENCE = { missing: 'missing in the target', extra: 'extra in the target', changed: 'values differ' } as const;

/** A key range as printed: `(from, to]`, with the table's ends as `start` and `end`. */
export function formatRange(r: Pick<DifferingRange, 'from' | 'to'>): string {
  return `(${r.from ?? 'start'}, ${r.to ?? 'end'}]`;
}

/** One line per table, then one per differing key range (and the note on how it was compared, if any). */
export function formatVerdict(v: TableVerdict): string[] {
  const lines = [`${v.equal ? 'equal ' : 'DIFFER'}  ${v.table}  ${v.rows} rows by ${v.method}  source ${v.source}  target ${v.target}`];
  if (v.note) lines.push(`        ${v.note}`);
  for (const r of v.differingRanges) {
    const keys = r.keys
      ? `; ${r.differingKeys} differ: ${r.keys.map((k) => `${k.key} (${DIFFERENCE[k.difference]})`).join(', ')}${r.differingKeys! > r.keys.length ? ', …' : ''}`
      : '';
    lines.push(`        keys ${formatRange(r)}: ${r.sourceRows} rows at the source, ${r.targetRows} in the target${keys}`);
  }
  return lines;
}

export function formatThroughput(rows: number, ms: number): string {
  const seconds = Math.max(ms, 1) / 1000;
  return `${rows} source rows compared in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s)`;
}
