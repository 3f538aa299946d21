import type { Config } from './config.js';
import { serverOf } from './core/endpoint-url.js';
import { configError } from './core/errors.js';
import { SQL_SOURCES } from './engines/registry.js';

/** A key of the pipeline at `i` of a `pipelines:` file, as the operator writes it. */
const keyOf = (i: number, key: string) => `pipelines[${i}].${key}`;

/**
 * The checks across the pipelines of one `pipelines:` file (`configs` in file order), each already
 * checked on its own: unique names, dependencies on other pipelines of the file without a cycle, and
 * no two pipelines reading one server as one replica or through one slot.
 */
export function checkPipelines(configs: readonly Config[]): void {
  const names = configs.map((c) => c.pipeline);
  names.forEach((name, i) => {
    const first = names.indexOf(name);
    if (first !== i) {
      throw configError(
        `${keyOf(i, 'pipeline')}: ${name} is also the name of pipelines[${first}]`,
        'give each pipeline a name of its own: it names its checkpoint, its default slot and server id, and its metrics',
      );
    }
  });
  configs.forEach((c, i) => {
    c.dependsOn.forEach((d, j) => {
      if (d === c.pipeline) throw configError(`${keyOf(i, `dependsOn[${j}]`)}: ${d} is this pipeline itself`, 'list only other pipelines of the file');
      if (!names.includes(d)) {
        throw configError(`${keyOf(i, `dependsOn[${j}]`)}: the file holds no pipeline ${d}, only ${names.join(', ')}`, 'name a pipeline of this file');
      }
    });
  });
  const cycle = cycleOf(configs);
  if (cycle) {
    throw configError(
      `pipelines: dependsOn makes a cycle: ${cycle.join(' → ')}`,
      'remove one of these dependencies: each pipeline in it would wait for itself',
    );
  }
  checkOneReaderEach(configs);
}

/** The first dependency cycle, as the names along it back to the first (a → b → a), or undefined. */
function cycleOf(configs: readonly Config[]): string[] | undefined {
  const dependsOn = new Map(configs.map((c) => [c.pipeline, c.dependsOn]));
  const acyclic = new Set<string>();
  const visit = (name: string, path: readonly string[]): string[] | undefined => {
    const at = path.indexOf(name);
    if (at >= 0) return [...path.slice(at), name];
    if (acyclic.has(name)) return undefined;
    for (const d of dependsOn.get(name) ?? []) {
      const cycle = visit(d, [...path, name]);
      if (cycle) return cycle;
    }
    acyclic.add(name);
    return undefined;
  };
  for (const c of configs) {
    const cycle = visit(c.pipeline, []);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Two pipelines reading one MySQL server with one serverId are one replica to it (it drops the first
 * connection when the second comes); two reading one Postgres server through one slot (slot names are
 * the server's, not a database's) would take each other's changes.
 */
function checkOneReaderEach(configs: readonly Config[]): void {
  const readers = new Map<string, number>();
  configs.forEach((c, i) => {
    if (c.source.type === 'kafka') return;
    const [key, id] = 'serverId' in c.source ? ['source.serverId', String(c.source.serverId)] : ['source.slot', c.source.slot];
    const server = serverOf(c.source.url, SQL_SOURCES[c.source.type].url.defaultPort);
    const reader = `${c.source.type} ${server} ${id}`;
    const first = readers.get(reader);
    if (first !== undefined) {
      throw configError(
        `${keyOf(i, key)}: ${id} is also the ${key} of pipelines[${first}], and both read the ${c.source.type} server at ${server}`,
        `give each pipeline its own ${key}, or leave it out (the default is derived from the pipeline name)`,
      );
    }
    readers.set(reader, i);
  });
}
