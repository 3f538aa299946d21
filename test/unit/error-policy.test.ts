import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { pickKey } from '../../src/core/change-event.js';
import { errorPolicyOf } from '../../src/core/error-policy.js';
import { FerryError } from '../../src/core/errors.js';
import type { TableSchema } from '../../src/core/schema.js';
import { joinUnits, rowUnits, unitRow } from '../../src/sinks/row-isolation.js';
import type { RowsWrite } from '../../src/sinks/row-writes.js';

const minimal = {
  pipeline: 'orders',
  source: { type: 'mysql', url: 'mysql://ferry:secret@db.example:3306/shop' },
  target: { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop' },
};

function configProblem(doc: unknown): string {
  try {
    parseConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('config');
    return (err as FerryError).describe();
  }
  throw new Error('expected parseConfig to reject the document');
}

describe('errors: the policy of each table', () => {
  it('is stop for every table when the config has no errors section', () => {
    const config = parseConfig(minimal);
    expect(config.errors).toEqual({ policy: 'stop', tables: {} });
    expect(errorPolicyOf(config.errors)('shop.orders')).toBe('stop');
  });

  it('is the first glob that matches the source schema.table, in the order written, else errors.policy', () => {
    const config = parseConfig({
      ...minimal,
      errors: { policy: 'dead-letter', tables: { 'shop.audit_*': 'stop', 'shop.*': 'dead-letter', 'shop.audit_2024': 'dead-letter', 'sho?.pay*': 'stop' } },
    });
    const policy = errorPolicyOf(config.errors);
    expect(policy('shop.audit_2024')).toBe('stop');
    expect(policy('shop.orders')).toBe('dead-letter');
    expect(policy('shop.payments')).toBe('dead-letter');
    expect(policy('shoe.payments')).toBe('stop');
    expect(policy('crm.clients')).toBe('dead-letter');
    // A dot in a glob is a dot, not any character.
    expect(errorPolicyOf({ policy: 'stop', tables: { 'a.b': 'dead-letter' } })('axb')).toBe('stop');
  });

  it('refuses an unknown policy, naming the key', () => {
    expect(configProblem({ ...minimal, errors: { policy: 'skip' } })).toMatch(/errors\.policy: .*"stop"\|"dead-letter"\|"quarantine-table"/);
    expect(configProblem({ ...minimal, errors: { tables: { 'shop.*': 'ignore' } } })).toMatch(/errors\.tables\.shop\.\*/);
  });

  it('takes quarantine-table on a Postgres, MySQL or SQL Server target, and refuses it where it cannot work, naming why and the fix', () => {
    expect(parseConfig({ ...minimal, errors: { policy: 'quarantine-table' } }).errors.policy).toBe('quarantine-table');
    const mysqlTarget = { ...minimal, target: { type: 'mysql', url: 'mysql://ferry:secret@my.example:3306/shop' } };
    expect(parseConfig({ ...mysqlTarget, errors: { tables: { 'shop.x': 'quarantine-table' } } }).errors.tables).toEqual({ 'shop.x': 'quarantine-table' });
    const mssql = { ...minimal, target: { type: 'mssql', url: 'mssql://sa:secret@sql.example:1433/shop' } };
    expect(parseConfig({ ...mssql, errors: { tables: { 'shop.x': 'quarantine-table' } } }).errors.tables).toEqual({ 'shop.x': 'quarantine-table' });
    const kafka = { ...minimal, target: { type: 'kafka', brokers: ['k:9092'], topicPrefix: 'orders' } };
    expect(configProblem({ ...kafka, errors: { policy: 'quarantine-table' } })).toMatch(
      /quarantine-table policy is not built for a kafka target\n {2}fix: a kafka target rejects no rows/,
    );
    const applier = { ...minimal, source: { type: 'kafka', brokers: ['k:9092'], topicPrefix: 'orders', group: 'apply' } };
    expect(configProblem({ ...applier, errors: { policy: 'quarantine-table' } })).toMatch(
      /not built for the Kafka appliers \(source type kafka\)\n {2}fix: each partition keeps its own offset/,
    );
    expect(parseConfig({ ...applier, errors: { policy: 'dead-letter' } }).errors.policy).toBe('dead-letter');
  });

  it('takes dead-letter on every SQL target, SQL Server too, and refuses it on a Kafka target, which rejects no rows', () => {
    const mssql = { ...minimal, target: { type: 'mssql', url: 'mssql://sa:secret@sql.example:1433/shop' } };
    expect(parseConfig({ ...mssql, errors: { tables: { 'shop.x': 'dead-letter' } } }).errors.tables).toEqual({ 'shop.x': 'dead-letter' });
    expect(parseConfig({ ...mssql, errors: { policy: 'dead-letter' } }).errors.policy).toBe('dead-letter');
    const kafka = { ...minimal, target: { type: 'kafka', brokers: ['k:9092'], topicPrefix: 'orders' } };
    expect(configProblem({ ...kafka, errors: { policy: 'dead-letter' } })).toMatch(/not built for a kafka target/);
  });
});

describe('a rejected write, row by row', () => {
  const t = { primaryKey: ['id'] } as unknown as TableSchema;
  const w: RowsWrite = {
    kind: 'rows',
    table: { schema: 's', name: 't' },
    deletes: [{ id: 1 }],
    transients: [{ id: 2 }],
    patches: [{ match: { id: 3 }, set: { v: 'p' } }],
    upserts: [{ id: 4, v: 'u' }],
    inserts: [{ id: 5, v: 'i' }],
  };

  it('comes apart in the order applyRows applies it, and any run of it joins back into one write', () => {
    const units = rowUnits(w);
    expect(units.map((u) => u.part)).toEqual(['deletes', 'transients', 'patches', 'upserts', 'inserts']);
    expect(joinUnits(w, units)).toEqual(w);
    expect(joinUnits(w, units.slice(2, 4))).toEqual({ ...w, deletes: [], transients: [], inserts: [] });
  });

  it('names each row by its key, operation and last image', () => {
    expect(rowUnits(w).map((u) => unitRow(t, u))).toEqual([
      { key: { id: 1 }, operation: 'delete', row: { id: 1 } },
      { key: { id: 2 }, operation: 'delete', row: { id: 2 } },
      { key: { id: 3 }, operation: 'update', row: { id: 3, v: 'p' } },
      { key: pickKey({ id: 4 }, ['id']), operation: 'upsert', row: { id: 4, v: 'u' } },
      { key: { id: 5 }, operation: 'insert', row: { id: 5, v: 'i' } },
    ]);
  });
});
