import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/ui/snapshot-progress.js';

describe('formatSummary', () => {
  it('lists rows, time and rows/s per table, aligned, with a total', () => {
    const text = formatSummary(
      new Map([
        ['shop.orders', { rows: 5000, ms: 250 }],
        ['contentsearchdb.metadata', { rows: 105827, ms: 2000 }],
      ]),
      2100,
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^table\s+rows\s+time\s+rows\/s$/);
    expect(lines[2]).toMatch(/^shop\.orders\s+5000\s+0\.25s\s+20000$/);
    expect(lines[3]).toMatch(/^contentsearchdb\.metadata\s+105827\s+2\.00s\s+52914$/);
    expect(lines[5]).toMatch(/^total\s+110827\s+2\.10s\s+52775$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it('shows "-" for a rate when no time passed', () => {
    expect(formatSummary(new Map([['a.b', { rows: 0, ms: 0 }]]), 0)).toMatch(/a\.b\s+0\s+0\.00s\s+-/);
  });
});
