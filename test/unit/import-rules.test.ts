import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layout's import rules (DESIGN §2), checked on every file under src/: one database's knowledge
// lives in src/engines/<db>, the directions never import each other, and only the registry picks an
// engine. Each exception is listed by name below, with why, so the debt stays visible.

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every file under src/ (as `sources/mysql/mysql-source.ts`) with the src files it imports, resolved the same way. */
function importGraph(srcDir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files(srcDir)) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*'(\.{1,2}\/[^']+)'|^\s*import\s*'(\.{1,2}\/[^']+)'/gm)].map((m) => (m[1] ?? m[2])!);
    graph.set(
      relative(srcDir, file),
      specs.map((s) => normalize(join(relative(srcDir, dirname(file)), s)).replace(/\.js$/, '.ts')),
    );
  }
  return graph;
}

const ENGINES = ['mysql', 'postgres', 'mssql', 'kafka'];

/** `engines/mysql`, `sources/postgres`, `sinks/kafka` … for a file in an engine's folder; null elsewhere. */
function engineOf(path: string, top: string): string | null {
  const [first, second, third] = path.split('/');
  return first === top && third !== undefined && ENGINES.includes(second!) ? second! : null;
}

const under = (path: string, ...tops: string[]) => tops.some((t) => path.startsWith(`${t}/`));

interface Rule {
  readonly name: string;
  readonly broken: (from: string, to: string) => boolean;
}

const RULES: readonly Rule[] = [
  { name: 'sources never import sinks', broken: (f, t) => under(f, 'sources') && under(t, 'sinks') },
  { name: 'sinks never import sources', broken: (f, t) => under(f, 'sinks') && under(t, 'sources') },
  {
    name: 'an engine folder imports only core and itself',
    broken: (f, t) => engineOf(f, 'engines') !== null && !under(t, 'core') && engineOf(t, 'engines') !== engineOf(f, 'engines'),
  },
  { name: 'core imports only core', broken: (f, t) => under(f, 'core') && !under(t, 'core') },
  { name: 'transforms import only core and themselves', broken: (f, t) => under(f, 'transforms') && !under(t, 'core', 'transforms') },
  { name: 'sources, sinks and checkpoint stores never import pipeline', broken: (f, t) => under(f, 'sources', 'sinks', 'checkpoint') && under(t, 'pipeline') },
  {
    name: 'pipeline reaches sources, sinks, checkpoint stores and engines only through engines/registry.ts',
    broken: (f, t) => under(f, 'pipeline') && (under(t, 'sources', 'sinks', 'checkpoint') || (under(t, 'engines') && t !== 'engines/registry.ts')),
  },
  {
    name: "a source's or sink's engine folder is its own engine's",
    broken: (f, t) => {
      const own = engineOf(f, 'sources') ?? engineOf(f, 'sinks');
      const used = engineOf(t, 'engines');
      return own !== null && used !== null && used !== own;
    },
  },
  {
    name: 'the readers (verify, plan) reach sources, sinks and engines only through engines/registry.ts',
    broken: (f, t) => under(f, 'verify', 'plan') && (under(t, 'sources', 'sinks', 'checkpoint') || (under(t, 'engines') && t !== 'engines/registry.ts')),
  },
  { name: 'sinks reach checkpoint stores only through core ports (the registry hands them in)', broken: (f, t) => under(f, 'sinks') && under(t, 'checkpoint') },
];

/**
 * Imports that break a rule, each with the reason it stays. None today: a new one fails the test until
 * it is listed here with why; one that is gone fails it too, so the list only shrinks.
 */
const ALLOWED: Record<string, string> = {};

/** `=== 'mysql' ?`-style choices of an engine by name. */
const ENGINE_SWITCH = /[!=]==\s*'(mysql|postgres)'\s*\?/g;

/** The two files that may choose an engine by name: the registry, and config.ts, which validates the type. */
const MAY_SWITCH = new Set(['engines/registry.ts', 'config.ts']);

/** Engine switches that remain, by file, with their count (a switch may span lines) and why. */
const SWITCHES_LEFT: Record<string, { readonly count: number; readonly why: string }> = {
  'sinks/postgres/postgres-dialect.ts': {
    count: 1,
    why: "a table from a Postgres source keeps its own column type: the source table's engine, not a choice of adapter",
  },
};

describe('import rules (DESIGN §2)', () => {
  const graph = importGraph(src);

  it('finds the files and their imports', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('pipeline/endpoints.ts')).toContain('engines/registry.ts');
  });

  it.each(RULES.map((r) => [r.name, r] as const))('%s', (_, rule) => {
    const broken = [...graph].flatMap(([from, tos]) => tos.filter((to) => rule.broken(from, to)).map((to) => `${from} -> ${to}`));
    expect(broken.filter((b) => !(b in ALLOWED))).toEqual([]);
  });

  it('lists only exceptions that still exist', () => {
    const edges = new Set([...graph].flatMap(([from, tos]) => tos.map((to) => `${from} -> ${to}`)));
    expect(Object.keys(ALLOWED).filter((e) => !edges.has(e))).toEqual([]);
  });

  it("chooses an engine by name (=== 'mysql' ?) only in the registry and config.ts", () => {
    const found: Record<string, number> = {};
    for (const path of graph.keys()) {
      if (MAY_SWITCH.has(path)) continue;
      const count = readFileSync(join(src, path), 'utf8').match(ENGINE_SWITCH)?.length ?? 0;
      if (count > 0) found[path] = count;
    }
    expect(found).toEqual(Object.fromEntries(Object.entries(SWITCHES_LEFT).map(([path, s]) => [path, s.count])));
  });
});
