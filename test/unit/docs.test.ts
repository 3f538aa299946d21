import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// README.md is the front door and docs/ the reference: the README stays short, every relative link
// in them leads somewhere, and every "DESIGN §x" a code comment cites is a section of docs/design.md.

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const markdownFiles = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text outside fenced code blocks: a `#` comment in a YAML example is not a heading. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchors of a file's headings: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative links `[text](target)` outside code: web addresses and mail are not checked. */
function relativeLinks(markdown: string): string[] {
  const text = prose(markdown).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every section a comment cites: "DESIGN §1.3", "DESIGN §1.3, §3 rule 9" (rule n of §3 is §3.n). */
function citedSections(text: string): string[] {
  return [...text.matchAll(/DESIGN (§[^\n]*)/g)].flatMap(([, rest]) =>
    [...rest!.matchAll(/§(\d+(?:\.\d+)?)(?: rule (\d+))?/g)].map(([, section, rule]) => (rule ? `${section}.${rule}` : section!)),
  );
}

describe('README.md', () => {
  it('is a front door of at most 200 lines', () => {
    const lines = read('README.md').split('\n').length;
    expect(lines, 'README.md grew past 200 lines: move the reference part to a file under docs/').toBeLessThanOrEqual(200);
  });

  it('keeps the two commands that matter on a fresh machine', () => {
    const readme = read('README.md');
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
  });
});

describe('links in README.md and docs/', () => {
  it.each(markdownFiles)('%s links only to files and headings that exist', (file) => {
    for (const link of relativeLinks(read(file))) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : relative(root, join(root, dirname(file), path));
      expect(existsSync(join(root, target)), `${file} links to ${link}: ${target} does not exist`).toBe(true);
      if (anchor !== undefined && target.endsWith('.md')) {
        expect([...anchorsOf(read(target))], `${file} links to ${link}: ${target} has no such heading`).toContain(anchor);
      }
    }
  });
});

describe('docs/design.md', () => {
  const sections = new Set([...prose(read('docs/design.md')).matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]!));

  it("says what the code comments' DESIGN §x refers to", () => {
    expect(read('docs/design.md')).toContain("DESIGN §x in code comments refers to this file's sections");
  });

  it('has a section for every DESIGN §x cited in the code (src/, test/, bench/, vitest.config.ts)', () => {
    const cited = [...sourceFiles('src'), ...sourceFiles('test'), ...sourceFiles('bench'), 'vitest.config.ts'].flatMap((file) =>
      citedSections(read(file)).map((section) => ({ file, section })),
    );
    expect(cited.length).toBeGreaterThan(0);
    for (const { file, section } of cited) {
      expect(sections.has(section), `${file} cites DESIGN §${section}, which docs/design.md has no heading for`).toBe(true);
    }
  });
});
