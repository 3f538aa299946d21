import { sqlSource, sqlTarget, targetSchemaOf, type Config } from '../config.js';
import type { CheckProblem } from '../core/check-problem.js';
import { coerceError, FerryError } from '../core/errors.js';
import { makeTableFilter } from '../core/table-mapping.js';
import { SQL_SOURCES, SQL_TARGETS } from '../engines/registry.js';
import { tableKey } from '../core/change-event.js';
import { ruleEffects } from '../transforms/rules.js';
import { assemblePlan } from './assemble.js';
import { transformCatalogue } from './transformed.js';
import type { PlanReport } from './plan-model.js';
import { planProblems } from './plan-report.js';

/**
 * The assessment of `ferry plan` and `ferry check`: reads the source's catalogue and the target's on
 * read-only sessions (never through a sink, which would create ferry's schema) and writes nothing.
 * Any failure to read either side is a FerryError of kind 'config' (exit 2: ferry could not assess).
 */
export async function makePlan(config: Config): Promise<PlanReport> {
  const source = sqlSource(config);
  const target = sqlTarget(config);
  const filter = makeTableFilter(config.tables.include, config.tables.exclude);
  const targetSchema = targetSchemaOf(config);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const reader = await SQL_SOURCES[source.type].openCatalogue(source.url).catch((err) => unreachable(err, 'source'));
    closers.push(() => reader.close());
    const read = await reader.read({ filter, targetSchema, tinyint1: config.types.tinyint1 }, target.type);
    const catalogue = transformCatalogue(read, config.transforms);
    const probe = await SQL_TARGETS[target.type].openTargetProbe(target.url).catch((err) => unreachable(err, 'target'));
    closers.push(() => probe.close());
    const facts = await probe.probe(catalogue.tables);
    return assemblePlan({
      pipeline: config.pipeline,
      source: { engine: source.type, endpoint: SQL_SOURCES[source.type].describeEndpoint(source.url), version: catalogue.version },
      target: { engine: target.type, endpoint: SQL_TARGETS[target.type].describeEndpoint(target.url), version: facts.version },
      catalogue,
      facts,
      effects: (t) => ruleEffects(config.transforms, read.tables.find((s) => tableKey(s.source) === tableKey(t.source))?.schema ?? t.schema),
    });
  } catch (err) {
    const e = coerceError(err);
    throw e.kind === 'config'
      ? e
      : new FerryError('config', `ferry could not assess the databases: ${e.message}`, {
          cause: err,
          hint: e.hint ?? 'check source.url and target.url, and that both servers are reachable',
        });
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

function unreachable(err: unknown, side: 'source' | 'target'): never {
  const e = coerceError(err, side);
  throw new FerryError('config', e.message, {
    cause: err,
    hint: e.hint ?? `check ${side}.url (host, port, user, password, database) and that the server is running`,
  });
}

/**
 * The plan's findings for `ferry check` (and so the preflight of `ferry run`): nothing for a Kafka
 * end, which has no target DDL; an assessment that fails is a warning, as the source and target
 * checks name an unreachable database themselves.
 */
export async function planCheckProblems(config: Config): Promise<CheckProblem[]> {
  if (config.source.type === 'kafka' || config.target.type === 'kafka') return [];
  try {
    return planProblems(await makePlan(config));
  } catch (err) {
    const e = coerceError(err);
    return [
      {
        check: 'plan',
        warning: true,
        message: `the schema assessment (ferry plan) could not run: ${e.message}`,
        hint: e.hint ?? 'run ferry plan -c FILE for the details',
      },
    ];
  }
}
