import { median, speedup, type Results } from './results.js';

export interface Verdict {
  readonly text: string;
  readonly met: boolean;
}

/** The performance targets of the project, checked against this run's figures (absent arms are skipped). */
export function targets(r: Results): Verdict[] {
  const verdicts: Verdict[] = [];
  const ratio = (arm: string, peer: string, atLeast: number, what: string) => {
    const ferry = r.get(arm, 'ferry');
    const other = r.figures.find((f) => f.arm === arm && f.tool.startsWith(peer));
    if (!ferry || !other) return;
    const x = speedup(ferry, other);
    verdicts.push({ text: `${what}: ${x.toFixed(2)}× (target ≥ ${atLeast.toFixed(1)}×)`, met: x >= atLeast });
  };
  ratio('snapshot MariaDB → Postgres', 'pgloader', 2.0, 'snapshot MariaDB → Postgres vs pgloader');
  ratio('snapshot MariaDB → Postgres', 'raw pipe', 0.5, 'snapshot MariaDB → Postgres vs the raw pipe');
  ratio('snapshot Postgres → Postgres', 'pgcopydb', 1.0, 'snapshot Postgres → Postgres vs pgcopydb');
  ratio('CDC drain Postgres → Postgres', 'native', 0.8, 'CDC drain Postgres → Postgres vs native logical replication');
  for (const f of r.figures) {
    if (f.unit === 'ms' && f.tool.startsWith('ferry')) {
      const p99 = median(f.values);
      verdicts.push({ text: `${f.arm}, ${f.tool}: p99 ${p99.toFixed(1)} ms (target ≤ 100 ms)`, met: p99 <= 100 });
    }
    if (f.unit === 'MiB') {
      const peak = Math.max(...f.values);
      verdicts.push({ text: `${f.arm}, ${f.tool}: ${peak.toFixed(0)} MiB (target ≤ 256 MiB)`, met: peak <= 256 });
    }
  }
  return verdicts;
}
