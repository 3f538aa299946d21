import cliProgress from 'cli-progress';
import type { FerryEventBus } from '../core/events.js';
import { terminal } from './terminal.js';

interface TableStats {
  rows: number;
  ms: number;
}

/** The snapshot's closing table, like pgloader's: rows, time and rows/s per table, then a total. */
export function formatSummary(stats: ReadonlyMap<string, TableStats>, totalMs: number): string {
  const rows = [...stats.entries()].map(([table, s]) => [table, String(s.rows), `${(s.ms / 1000).toFixed(2)}s`, rate(s.rows, s.ms)]);
  const total = [...stats.values()].reduce((n, s) => n + s.rows, 0);
  const all = [['table', 'rows', 'time', 'rows/s'], ...rows, ['total', String(total), `${(totalMs / 1000).toFixed(2)}s`, rate(total, totalMs)]];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(all[0]!), rule, ...all.slice(1, -1).map(line), rule, line(all[all.length - 1]!)].join('\n');
}

function rate(rows: number, ms: number): string {
  return ms > 0 ? String(Math.round((rows * 1000) / ms)) : '-';
}

/**
 * Per-table progress bars on a terminal while the snapshot runs, and the summary table at its end.
 * Writes to stderr; does nothing visible unless stderr is a TTY.
 */
export function showSnapshotProgress(events: FerryEventBus, print: (text: string) => void): () => void {
  const tty = Boolean(process.stderr.isTTY);
  const bars = tty
    ? new cliProgress.MultiBar({ format: ' {table} |{bar}| {value}/{total} rows | {rate} rows/s', hideCursor: true, clearOnComplete: false, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null;
  if (bars) terminal.attach(bars);
  const active = new Map<string, { bar: cliProgress.SingleBar | null; started: number }>();
  const stats = new Map<string, TableStats>();
  const offs = [
    events.on('snapshot-table-started', ({ table, estimatedRows, resumedRows }) => {
      const bar = bars?.create(Math.max(estimatedRows, resumedRows, 1), resumedRows, { table: table.padEnd(24), rate: '-' }) ?? null;
      active.set(table, { bar, started: performance.now() });
    }),
    events.on('snapshot-chunk-loaded', ({ table, totalRows }) => {
      const a = active.get(table);
      if (!a?.bar) return;
      if (totalRows > a.bar.getTotal()) a.bar.setTotal(totalRows);
      a.bar.update(totalRows, { table: table.padEnd(24), rate: rate(totalRows, performance.now() - a.started) });
    }),
    events.on('snapshot-table-done', ({ table, rows, ms }) => {
      const a = active.get(table);
      a?.bar?.setTotal(Math.max(rows, 1));
      a?.bar?.update(rows, { table: table.padEnd(24), rate: rate(rows, ms) });
      stats.set(table, { rows, ms });
    }),
    events.on('snapshot-done', ({ ms }) => {
      bars?.stop();
      terminal.detach();
      if (stats.size > 0) print(formatSummary(stats, ms));
    }),
  ];
  return () => {
    bars?.stop();
    terminal.detach();
    offs.forEach((off) => off());
  };
}
