import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type Config, loadConfig, loadConfigs, type MysqlSourceConfig, parseConfig, parseConfigs, sqlSource } from '../../src/config.js';
import { FerryError } from '../../src/core/errors.js';

const mysqlSource = { type: 'mysql', url: 'mysql://ferry:secret@db.example:3306/shop' };
const target = { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop' };
const entry = (pipeline: string, more: object = {}) => ({ pipeline, source: mysqlSource, target, ...more });
const twoPipelines = (a: object = {}, b: object = {}, top: object = {}) => ({
  admin: { listen: '127.0.0.1:0' },
  log: { level: 'warn' },
  ...top,
  pipelines: [entry('a', a), entry('b', { dependsOn: ['a'], ...b })],
});

function problemOf(doc: unknown): FerryError {
  try {
    parseConfigs(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('config');
    return err as FerryError;
  }
  throw new Error('expected parseConfigs to refuse the document');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('parseConfigs', () => {
  it('reads a one-pipeline file as one pipeline, as parseConfig does, depending on none', () => {
    const doc = entry('orders');
    const { configs, multi } = parseConfigs(doc);
    expect(multi).toBe(false);
    expect(configs).toEqual([parseConfig(doc)]);
    expect(configs[0]!.dependsOn).toEqual([]);
  });

  it('reads every entry of pipelines: in file order, each with the top-level admin, log and notify', () => {
    const { configs, multi } = parseConfigs(twoPipelines({ snapshot: { parallelism: 2 } }));
    expect(multi).toBe(true);
    expect(configs.map((c) => [c.pipeline, c.dependsOn, c.admin?.listen, c.log.level])).toEqual([
      ['a', [], '127.0.0.1:0', 'warn'],
      ['b', ['a'], '127.0.0.1:0', 'warn'],
    ]);
    expect(configs.map((c) => c.snapshot.parallelism)).toEqual([2, 4]);
    const serverIdOf = (c: Config) => (sqlSource(c) as MysqlSourceConfig).serverId;
    expect(configs.map(serverIdOf)).toEqual([parseConfig(entry('a')), parseConfig(entry('b'))].map(serverIdOf));
    expect(Object.isFrozen(configs[1]!.dependsOn)).toBe(true);
  });

  it.each([
    ['a per-pipeline problem, by its path in the list', twoPipelines({}, { source: { type: 'mysql', url: 'http://x' } }), 'pipelines[1].source.url'],
    ['a missing key of an entry', { pipelines: [{ pipeline: 'a', target }] }, 'pipelines[0].source:'],
    ['an entry of another engine', twoPipelines({ source: { ...mysqlSource, slot: 's' } }), 'pipelines[0].source: "slot" is a key of postgres sources'],
    [
      'a rule of an entry checked after the schema',
      twoPipelines({}, { errors: { policy: 'dead-letter' }, target: { type: 'kafka', brokers: ['k:9092'], topicPrefix: 'p' } }),
      'pipelines[1].errors: the dead-letter policy',
    ],
    ['admin in an entry', twoPipelines({}, { admin: { listen: '127.0.0.1:9' } }), "pipelines[1].admin: admin is the process's"],
    ['notify in an entry', twoPipelines({ notify: { webhooks: [] } }), "pipelines[0].notify: notify is the process's"],
    [
      'a one-pipeline key beside pipelines:',
      { ...twoPipelines(), source: mysqlSource },
      "a file with pipelines: holds only admin, log and notify beside it: move source into each pipeline's entry",
    ],
    ['an empty list', { pipelines: [] }, 'pipelines: list at least one pipeline'],
    ['an entry that is no map', { pipelines: ['a'] }, 'pipelines[0]:'],
    [
      'two pipelines of one name',
      { pipelines: [entry('a'), entry('a', { source: { ...mysqlSource, serverId: 7 } })] },
      'pipelines[1].pipeline: a is also the name of pipelines[0]',
    ],
    ['a dependency on itself', twoPipelines({ dependsOn: ['a'] }), 'pipelines[0].dependsOn[0]: a is this pipeline itself'],
    [
      'a dependency on a pipeline not in the file',
      twoPipelines({}, { dependsOn: ['a', 'c'] }),
      'pipelines[1].dependsOn[1]: the file holds no pipeline c, only a, b',
    ],
    ['a cycle', twoPipelines({ dependsOn: ['b'] }), 'pipelines: dependsOn makes a cycle: a → b → a'],
    [
      'a longer cycle',
      { pipelines: [entry('a'), entry('b', { dependsOn: ['c'] }), entry('c', { dependsOn: ['a', 'd'] }), entry('d', { dependsOn: ['b'] })] },
      'cycle: b → c → d → b',
    ],
    [
      'one serverId for two pipelines on one MySQL server',
      twoPipelines({ source: { ...mysqlSource, serverId: 4242 } }, { source: { ...mysqlSource, serverId: 4242, url: 'mysql://other:pw@db.example/crm' } }),
      'pipelines[1].source.serverId: 4242 is also the source.serverId of pipelines[0], and both read the mysql server at db.example:3306',
    ],
    [
      'one slot for two pipelines on one Postgres server',
      {
        pipelines: [
          entry('a', {
            source: { type: 'postgres', url: 'postgres://u:p@localhost/shop', slot: 'ferry_s' },
            target: { ...target, url: 'postgres://u:p@pg2/x' },
          }),
          entry('b', {
            source: { type: 'postgres', url: 'postgres://u:p@127.0.0.1:5432/crm', slot: 'ferry_s' },
            target: { ...target, url: 'postgres://u:p@pg2/x' },
          }),
        ],
      },
      'pipelines[1].source.slot: ferry_s is also the source.slot of pipelines[0], and both read the postgres server at loopback:5432',
    ],
  ])('refuses %s, naming the key', (_, doc, message) => {
    const err = problemOf(doc);
    expect(err.message).toContain(message);
    expect(err.hint).toBeTruthy();
  });

  it('names an unset variable of an entry by its path, once', () => {
    const err = problemOf(twoPipelines({}, { target: { ...target, url: 'postgres://u:${PG_PW_UNSET_X}@pg/shop' } }));
    expect(err.message).toContain('pipelines[1].target.url: environment variable PG_PW_UNSET_X is not set');
    expect(err.message.match(/is not set/g)).toHaveLength(1);
  });

  it('takes one serverId, and one slot name, on different servers', () => {
    const other = { ...mysqlSource, serverId: 4242, url: 'mysql://u:p@db2.example:3306/shop' };
    expect(parseConfigs(twoPipelines({ source: { ...mysqlSource, serverId: 4242 } }, { source: other })).configs).toHaveLength(2);
  });

  it('refuses dependsOn in a one-pipeline file', () => {
    expect(problemOf(entry('a', { dependsOn: ['b'] })).message).toContain('dependsOn: this file holds one pipeline');
  });
});

describe('loadConfig and loadConfigs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-pipelines-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, doc: object) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(doc)); // JSON is YAML
    return path;
  };
  const refusal = (load: () => unknown) => {
    try {
      load();
    } catch (err) {
      return (err as FerryError).message;
    }
    throw new Error('expected a config error');
  };

  it('reads a pipelines: file, and one pipeline of it by name', () => {
    const multi = file('multi.yaml', twoPipelines());
    expect(loadConfigs(multi).configs.map((c) => c.pipeline)).toEqual(['a', 'b']);
    expect(loadConfig(multi, 'b').dependsOn).toEqual(['a']);
  });

  it('needs the name of a pipeline in a pipelines: file, and lists the names', () => {
    const multi = file('multi.yaml', twoPipelines());
    expect(refusal(() => loadConfig(multi))).toBe('this file holds pipelines a, b: pass --pipeline NAME');
    expect(refusal(() => loadConfig(multi, 'c'))).toBe('--pipeline c: this file holds no pipeline of that name, only a, b');
  });

  it('reads a one-pipeline file as before, and with its own name', () => {
    const one = file('one.yaml', entry('orders'));
    expect(loadConfig(one)).toEqual(parseConfig(entry('orders')));
    expect(loadConfig(one, 'orders').pipeline).toBe('orders');
    expect(loadConfigs(one).multi).toBe(false);
    expect(refusal(() => loadConfig(one, 'x'))).toContain('only orders');
  });
});
