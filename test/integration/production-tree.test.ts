import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDatabases } from '../helpers/databases.js';
import { buildStages, stageEnv, type BuiltStage } from '../helpers/dockerfile.js';
import { runCli, startStreaming, waitFor, type CliEntry } from '../helpers/ferry.js';

// What the container runs: the Dockerfile's stages built without Docker (CI has no engine), from
// the files its COPY lines name, so `npm prune --omit=dev` has removed the devDependencies. A
// runtime import of a devDependency passes every other test (they run the checkout's build, whose
// node_modules has everything) and fails only here, as it failed in the image (ERR_MODULE_NOT_FOUND).

const repo = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
/** devDependencies no runtime package needs (@types/node stays: mysql2 names it as a peer). */
const devOnly = Object.keys(pkg.devDependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev);

/** The packages a compiled module imports (statically or lazily), by package name. */
function importedPackages(js: string): string[] {
  const specifiers = [...js.matchAll(/\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g)].map(
    (m) => m[1] ?? m[2] ?? m[3]!,
  );
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

describe('the production tree: the Dockerfile built without Docker', () => {
  let dir: string;
  let image: BuiltStage;
  let entry: CliEntry;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-image-'));
    image = (await buildStages(join(repo, 'Dockerfile'), repo, dir)).at(-1)!;
    entry = { argv: image.entrypoint, cwd: image.workdir, env: stageEnv(image) };
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is built with the Node.js major of the image', () => {
    expect(image.from, 'the test stands in for the base image with its own node').toMatch(new RegExp(`^node:${process.versions.node.split('.')[0]}\\b`));
    expect(image.entrypoint).toEqual([process.execPath, 'dist/cli.js']);
  });

  it('holds no devDependency, and every package the compiled code imports', () => {
    const modules = join(image.workdir, 'node_modules');
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest']));
    for (const dev of devOnly) expect(existsSync(join(modules, dev)), `${dev} is a devDependency: pruned`).toBe(false);
    const files = readdirSync(join(image.workdir, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(files).toContain('cli.js');
    const imported = new Set(files.flatMap((f) => importedPackages(readFileSync(join(image.workdir, 'dist', f), 'utf8'))));
    expect(imported.size).toBeGreaterThan(5);
    for (const name of imported) {
      expect(existsSync(join(modules, name, 'package.json')), `dist imports ${name}, which the pruned tree lacks: make it a dependency`).toBe(true);
    }
  });

  it('--help exits 0', async () => {
    const r = await runCli(['--help'], {}, entry);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: ferry/);
  });

  describe('ferry run from the tree', () => {
    let db: TestDatabases;
    beforeAll(async () => {
      db = await testDatabases('prod_tree');
    });
    afterAll(async () => db?.close());

    it('snapshots a table, streams an insert, and exits 0 on SIGTERM', async () => {
      await db.my.query("CREATE TABLE items (id INT PRIMARY KEY, val VARCHAR(32) NOT NULL); INSERT INTO items SELECT seq, CONCAT('v', seq) FROM seq_1_to_100");
      const { ferry } = await startStreaming(db, {}, entry);
      const count = async () => Number((await db.pg.query('SELECT count(*) AS n FROM prod_tree.items')).rows[0].n);
      expect(await count(), 'the snapshot').toBe(100);

      await db.my.query("INSERT INTO items VALUES (101, 'streamed')");
      await waitFor(
        'the streamed insert in the target',
        async () => (await db.pg.query('SELECT val FROM prod_tree.items WHERE id = 101')).rows[0]?.val === 'streamed',
      );

      ferry.child.kill('SIGTERM');
      const result = await ferry.done;
      expect(result.code, result.stderr).toBe(0);
    });
  });
});
