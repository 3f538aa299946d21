import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, delimiter, join, sep } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** One Dockerfile instruction, continuation lines joined. */
interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

/** A stage built on this machine: its root stands in for the container's `/`. */
export interface BuiltStage {
  readonly name: string;
  /** The FROM image, not pulled: the machine's tools stand in for it. */
  readonly from: string;
  readonly root: string;
  /** WORKDIR on this machine: `root` + the container's WORKDIR. */
  readonly workdir: string;
  /** The stage's ENV lines. */
  readonly env: Readonly<Record<string, string>>;
  /** ENTRYPOINT, with `node` as the Node.js running the tests. */
  readonly entrypoint: readonly string[];
}

/** Instructions that change neither the files of a stage nor how its process starts (`docker run`'s arguments replace CMD). */
const NO_EFFECT_HERE = new Set(['USER', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'VOLUME', 'STOPSIGNAL', 'CMD']);

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!.trim();
    if (logical === '' || logical.startsWith('#')) continue;
    while (logical.endsWith('\\') && i + 1 < lines.length) logical = `${logical.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    const [keyword, ...rest] = logical.split(/\s+/);
    out.push({ line: start + 1, keyword: keyword!.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

/**
 * The environment a build step or the container gets: this process's, without what npm, vitest
 * and the checkout put there (npm_* settings, NODE_ENV, node_modules/.bin on PATH), plus the stage's ENV.
 * A step must not reach the checkout's tools or dependencies, as it could not in an image.
 */
export function stageEnv(stage: Pick<BuiltStage, 'env'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !['NODE_ENV', 'NODE_OPTIONS', 'NODE_PATH'].includes(k)) env[k] = v;
  }
  env.PATH = (env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.split(sep).includes('node_modules'))
    .join(delimiter);
  return { ...env, ...stage.env };
}

/**
 * Builds every stage of `dockerfile` without Docker (CI has no engine): COPY from `context` or an
 * earlier stage, WORKDIR, ENV and RUN (through `sh -c`) in a directory per stage under `into`.
 * The base image is not emulated: the machine's tools (node, npm) stand in for it.
 * Returns the stages, the last one being the image. .dockerignore is not applied: the COPY sources name what goes in.
 */
export async function buildStages(dockerfile: string, context: string, into: string): Promise<BuiltStage[]> {
  const stages: { name: string; from: string; root: string; dir: string; env: Record<string, string>; entrypoint: string[] }[] = [];
  const where = (i: Instruction) => `${dockerfile}:${i.line} (${i.keyword} ${i.args})`;
  for (const ins of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    if (ins.keyword === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(ins.args)?.[1] ?? String(stages.length);
      const root = join(into, name);
      mkdirSync(root, { recursive: true });
      stages.push({ name, from: ins.args.split(/\s+/)[0]!, root, dir: '/', env: {}, entrypoint: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${where(ins)}: an instruction before FROM`);
    const here = (path: string, root = stage.root) => join(root, path.startsWith('/') ? path : join(stage.dir, path));
    switch (ins.keyword) {
      case 'WORKDIR':
        stage.dir = ins.args.startsWith('/') ? ins.args : join(stage.dir, ins.args);
        mkdirSync(here('.'), { recursive: true });
        break;
      case 'ENV':
        if (!ins.args.includes('=')) throw new Error(`${where(ins)}: write ENV as KEY=value`);
        for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) stage.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
        break;
      case 'COPY': {
        const words = ins.args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        if (words.some((w) => w.startsWith('--') && !w.startsWith('--from=')))
          throw new Error(`${where(ins)}: COPY options other than --from are not mirrored here; teach test/helpers/dockerfile.ts`);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop()!;
        const source = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !source) throw new Error(`${where(ins)}: no stage named ${from}`);
        for (const p of paths) {
          const src = source ? join(source.root, p) : join(context, p);
          // Like Docker: into a directory when the destination ends with '/'; a directory's contents into the destination.
          const to = dest.endsWith('/') ? join(here(dest), basename(p)) : here(dest);
          cpSync(src, to, { recursive: true });
        }
        break;
      }
      case 'RUN':
        try {
          await exec('sh', ['-c', ins.args], { cwd: here('.'), env: stageEnv(stage), maxBuffer: 64 * 1024 * 1024 });
        } catch (err) {
          const e = err as { code?: number; stdout?: string; stderr?: string };
          throw new Error(`${where(ins)} exited ${e.code}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
        }
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = (JSON.parse(ins.args) as string[]).map((a, i) => (i === 0 && a === 'node' ? process.execPath : a));
        break;
      default:
        if (!NO_EFFECT_HERE.has(ins.keyword))
          throw new Error(`${where(ins)}: ${ins.keyword} is not mirrored here; teach test/helpers/dockerfile.ts what it does`);
    }
  }
  return stages.map((s) => ({ name: s.name, from: s.from, root: s.root, workdir: join(s.root, s.dir), env: s.env, entrypoint: s.entrypoint }));
}
