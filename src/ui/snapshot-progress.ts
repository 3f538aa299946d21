import cliProgress from 'cli-progress';
import type { Logger } from 'pino';
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

function perSecond(rows: number, ms: number): number | null {
  return ms > 0 ? Math.round((rows * 1000) / ms) : null;
}

function rate(rows: number, ms: number): string {
  return String(perSecond(rows, ms) ?? '-');
}

/** A table being copied: rows so far (resumed ones included), and how many this run copied since `started`. */
interface Copying {
  readonly bar: cliProgress.SingleBar | null;
  readonly started: number;
  readonly resumedRows: number;
  estimatedRows: number;
  rows: number;
}

export interface ProgressOptions {
  readonly log: Logger;
  /** How often a table's progress is logged off a terminal. */
  readonly everyMs: number;
  /** Where the summary table goes instead (the demo's narrative on stdout). */
  readonly printSummary?: (text: string) => void;
  /** Bars on a terminal (the default); false for the log lines there too, where several pipelines would draw bars over each other. */
  readonly bars?: boolean;
}

/**
 * The snapshot's progress and its closing summary. On a terminal: per-table progress bars, then the
 * summary table. Elsewhere (containers, log shippers): a log line per table being copied every
 * `everyMs`, then the summary as one structured log line, so stderr stays JSON lines.
 */
export function showSnapshotProgress(events: FerryEventBus, { log, everyMs, printSummary, bars: drawBars = true }: ProgressOptions): () => void {
  const bars =
    process.stderr.isTTY && drawBars
      ? new cliProgress.MultiBar(
          { format: ' {table} |{bar}| {value}/{total} rows | {rate} rows/s', hideCursor: true, clearOnComplete: false, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : null;
  if (bars) terminal.attach(bars);
  const copying = new Map<string, Copying>();
  const stats = new Map<string, TableStats>();
  const speed = (c: Copying) => perSecond(c.rows - c.resumedRows, performance.now() - c.started);
  const logProgress = () => {
    for (const [table, c] of copying) {
      const percent = Math.min(100, Math.floor((c.rows * 100) / c.estimatedRows));
      log.info(
        { table, rows: c.rows, estimatedRows: c.estimatedRows, rowsPerSecond: speed(c) },
        `copying ${table}: ${c.rows} of about ${c.estimatedRows} rows (${percent}%), ${speed(c) ?? '-'} rows/s`,
      );
    }
  };
  // Off a terminal, from the first table copied to the snapshot's end.
  let timer: NodeJS.Timeout | null = null;
  const offs = [
    events.on('snapshot-table-started', ({ table, estimatedRows, resumedRows }) => {
      const total = Math.max(estimatedRows, resumedRows, 1);
      const bar = bars?.create(total, resumedRows, { table: table.padEnd(24), rate: '-' }) ?? null;
      copying.set(table, { bar, started: performance.now(), resumedRows, estimatedRows: total, rows: resumedRows });
      if (!bars) timer ??= setInterval(logProgress, everyMs).unref();
    }),
    events.on('snapshot-chunk-loaded', ({ table, totalRows }) => {
      const c = copying.get(table);
      if (!c) return;
      c.rows = totalRows;
      c.estimatedRows = Math.max(c.estimatedRows, totalRows);
      if (c.bar && totalRows > c.bar.getTotal()) c.bar.setTotal(totalRows);
      c.bar?.update(totalRows, { table: table.padEnd(24), rate: String(speed(c) ?? '-') });
    }),
    events.on('snapshot-table-done', ({ table, rows, ms }) => {
      const c = copying.get(table);
      c?.bar?.setTotal(Math.max(rows, 1));
      c?.bar?.update(rows, { table: table.padEnd(24), rate: rate(rows, ms) });
      copying.delete(table);
      stats.set(table, { rows, ms });
    }),
    events.on('snapshot-done', ({ ms }) => {
      stop();
      if (stats.size === 0) return;
      if (printSummary) printSummary(formatSummary(stats, ms));
      else if (bars) process.stderr.write(`${formatSummary(stats, ms)}\n`);
      else logSummary(log, stats, ms);
    }),
  ];
  const stop = () => {
    if (timer) clearInterval(timer);
    if (bars) terminal.detach();
  };
  return () => {
    stop();
    offs.forEach((off) => off());
  };
}

/** The summary table's content as one log line. */
function logSummary(log: Logger, stats: ReadonlyMap<string, TableStats>, totalMs: number): void {
  const tables = [...stats.entries()].map(([table, s]) => ({ table, rows: s.rows, ms: Math.round(s.ms), rowsPerSecond: perSecond(s.rows, s.ms) }));
  const rows = tables.reduce((n, t) => n + t.rows, 0);
  log.info(
    { tables, rows, ms: Math.round(totalMs), rowsPerSecond: perSecond(rows, totalMs) },
    `snapshot summary: ${tables.length} tables, ${rows} rows in ${(totalMs / 1000).toFixed(2)}s, ${rate(rows, totalMs)} rows/s`,
  );
}
