/** The figures of one benchmark run, printed as a table and written as JSON. */
export interface Figure {
  readonly arm: string;
  readonly tool: string;
  /** Seconds per run (timed arms), or milliseconds (latency), or MiB (memory). */
  readonly values: number[];
  readonly unit: 's' | 'ms' | 'MiB';
  /** Rows (or transactions) each run moved, for a rate. */
  readonly work?: number;
  /** Further per-run figures (latency: p50 and max beside the p99 in `values`; the load's rate). */
  readonly also?: Record<string, number[]>;
}

export function best(values: readonly number[]): number {
  return Math.min(...values);
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** How many times faster ferry is than `peer`, on medians: >1 means ferry is faster. */
export function speedup(ferry: Figure, peer: Figure): number {
  return median(peer.values) / median(ferry.values);
}

export class Results {
  readonly figures: Figure[] = [];

  add(f: Figure): void {
    const known = this.figures.find((x) => x.arm === f.arm && x.tool === f.tool);
    if (!known) {
      this.figures.push({ ...f, values: [...f.values], also: f.also && Object.fromEntries(Object.entries(f.also).map(([k, v]) => [k, [...v]])) });
      return;
    }
    known.values.push(...f.values);
    for (const [k, v] of Object.entries(f.also ?? {})) known.also![k]!.push(...v);
  }

  get(arm: string, tool: string): Figure | undefined {
    return this.figures.find((f) => f.arm === arm && f.tool === tool);
  }

  /**
   * A fixed-width table: one line per arm and tool, with ferry's speed-up over it in the same arm.
   * Latency lines show the p99 as best and median.
   */
  table(): string {
    const lines = [['arm', 'tool', 'best', 'median', 'rate (median) / latency p50, max', 'ferry vs this']];
    for (const f of this.figures) {
      const ferry = this.figures.find((x) => x.arm === f.arm && x.tool.startsWith('ferry'));
      const rate =
        f.work && f.unit === 's'
          ? `${Math.round(f.work / median(f.values)).toLocaleString('en-US')}/s`
          : f.also?.p50
            ? `p50 ${fmt(median(f.also.p50), 'ms')}, max ${fmt(Math.max(...f.also.max!), 'ms')}`
            : '';
      const ratio = f.unit === 's' && ferry && ferry !== f ? `${speedup(ferry, f).toFixed(2)}×` : '';
      lines.push([f.arm, f.tool, fmt(best(f.values), f.unit), fmt(median(f.values), f.unit), rate, ratio]);
    }
    const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
    return lines
      .map((l) =>
        l
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n');
  }
}

function fmt(v: number, unit: Figure['unit']): string {
  return unit === 's' ? `${v.toFixed(2)} s` : unit === 'ms' ? `${v.toFixed(1)} ms` : `${v.toFixed(0)} MiB`;
}
