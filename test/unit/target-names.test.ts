import { describe, expect, it } from 'vitest';
import type { Index, Partitioning, TableSchema } from '../../src/core/schema.js';
import type { TargetNaming } from '../../src/core/target-naming.js';
import { clipBytes } from '../../src/engines/postgres/naming.js';
import { targetNameConflicts, targetNameProblems } from '../../src/pipeline/target-names.js';
import { targetTableId } from '../../src/core/table-mapping.js';

const POSTGRES: TargetNaming = { engine: 'postgres' };
const MYSQL: TargetNaming = { engine: 'mysql', lowerCaseTableNames: 0 };

function table(qualified: string, options: { columns?: string[]; indexes?: Index[]; targetSchema?: string; partitioning?: Partitioning } = {}): TableSchema {
  const [schema, name] = qualified.split('.') as [string, string];
  const source = { schema, name };
  const columns = (options.columns ?? ['id']).map((c) => ({
    name: c,
    type: { kind: 'int', bytes: 4, unsigned: false } as const,
    sourceType: 'int',
    nullable: false,
    autoIncrement: false,
    backfill: { value: null },
  }));
  return {
    engine: 'postgres',
    source,
    target: targetTableId(source, options.targetSchema),
    columns,
    primaryKey: [columns[0]!.name],
    indexes: options.indexes ?? [],
    ...(options.partitioning ? { partitioning: options.partitioning } : {}),
  };
}

const long = (prefix: string, length: number) => prefix + 'x'.repeat(length - prefix.length);

describe('target name conflicts', () => {
  it('finds same-named tables of two source schemas put in one target.schema, naming both and the fix', () => {
    const [conflict, ...others] = targetNameConflicts(
      [table('s1.t', { targetSchema: 'coll' }), table('s2.t', { targetSchema: 'coll' }), table('s2.u', { targetSchema: 'coll' })],
      POSTGRES,
    );
    expect(others).toEqual([]);
    expect(conflict!.objects).toEqual(['s1.t', 's2.t']);
    expect(conflict!.message).toBe(
      'tables s1.t and s2.t land on one table coll.t on the target (target.schema puts every table in coll): their rows would mix, and a change to one would overwrite or delete rows of the other',
    );
    expect(conflict!.hint).toMatch(/tables\.exclude: \["s2\.t"\].*rename one at the source, or leave target\.schema unset/);
  });

  it('lets tables keep their own schemas, and lets several source schemas share one when the names differ', () => {
    expect(targetNameConflicts([table('s1.t'), table('s2.t')], POSTGRES)).toEqual([]);
    expect(targetNameConflicts([table('s1.t', { targetSchema: 'coll' }), table('s2.u', { targetSchema: 'coll' })], MYSQL)).toEqual([]);
  });

  it('does not report the columns two merged tables share: the table collision says it', () => {
    const conflicts = targetNameConflicts(
      [table('s1.t', { targetSchema: 'c', columns: ['id', 'v'] }), table('s2.t', { targetSchema: 'c', columns: ['id', 'v'] })],
      MYSQL,
    );
    expect(conflicts.map((c) => c.objects)).toEqual([['s1.t', 's2.t']]);
  });

  it('finds 64-character table names Postgres cuts to one 63-byte name', () => {
    const a = `${long('orders_archive_', 64).slice(0, 63)}a`;
    const b = `${a.slice(0, 63)}b`;
    const [conflict, ...others] = targetNameConflicts([table(`app.${a}`), table(`app.${b}`)], POSTGRES);
    expect(others).toEqual([]);
    expect(conflict!.objects).toEqual([`app.${a}`, `app.${b}`]);
    expect(conflict!.message).toContain(`land on one table app.${a.slice(0, 63)} on the target (Postgres cuts names to 63 bytes)`);
  });

  it("refuses one name over Postgres's 63 bytes even alone: ferry would not find it again by its source name", () => {
    const column = long('c', 64);
    expect(targetNameProblems([table('app.t', { columns: ['id', column] })], POSTGRES)).toEqual([
      {
        check: 'target names',
        message: `column app.t.${column}: its name is 64 bytes long; Postgres cuts names to 63 bytes (it would create "${column.slice(0, 63)}") and ferry would not find it again by its source name`,
        hint: 'rename it at the source, or exclude the table (tables.exclude: ["app.t"])',
      },
    ]);
    expect(targetNameConflicts([table('app.t', { columns: ['id', long('c', 63)] })], POSTGRES)).toEqual([]);
  });

  it('counts bytes, not characters, and cuts at a character boundary as Postgres does', () => {
    const name = 'é'.repeat(32); // 32 characters, 64 bytes
    expect(clipBytes(name, 63)).toBe('é'.repeat(31));
    expect(targetNameConflicts([table('app.t', { columns: ['id', name] })], POSTGRES).map((c) => c.objects)).toEqual([[`app.t.${name}`]]);
    expect(targetNameConflicts([table('app.t', { columns: ['id', name] })], MYSQL)).toEqual([]);
  });

  it('refuses a target.schema Postgres would cut, once', () => {
    const schema = long('s', 70);
    const conflicts = targetNameConflicts([table('a.t', { targetSchema: schema }), table('a.u', { targetSchema: schema })], POSTGRES);
    expect(conflicts.map((c) => c.message)).toEqual([expect.stringMatching(new RegExp(`^the target schema ${schema} \\(of table a\\.t\\) is 70 bytes long`))]);
  });

  it('finds columns equal without case on a MySQL target, and only there', () => {
    const t = table('public.t', { columns: ['id', 'a', 'A'] });
    const [conflict, ...others] = targetNameConflicts([t], MYSQL);
    expect(others).toEqual([]);
    expect(conflict!.message).toBe(
      'columns public.t.a and public.t.A land on one column a of table public.t on the target (MySQL compares column names without regard to case): one target table cannot hold both',
    );
    expect(conflict!.hint).toMatch(/rename one of the columns at the source, or exclude the table \(tables\.exclude: \["public\.t"\]\)/);
    expect(targetNameConflicts([t], POSTGRES)).toEqual([]);
  });

  it.each([
    // MySQL folds one character to one: İ is i there, though JavaScript lowers it to two
    ['İ', 'i', true],
    ['É', 'é', true],
    ['é', 'e', false],
    ['ß', 'ss', false],
  ])('on MySQL, columns %s and %s collide: %s', (a, b, collide) => {
    expect(targetNameConflicts([table('public.t', { columns: ['id', a, b] })], MYSQL).length).toBe(collide ? 1 : 0);
  });

  it('finds the tables and columns that differ only in case, which one case-insensitive SQL Server database cannot hold apart, and only there', () => {
    const tables = [table('s.Orders'), table('s.orders'), table('s.t', { columns: ['id', 'Name', 'name '] })];
    const conflicts = targetNameConflicts(tables, { engine: 'mssql', collation: 'SQL_Latin1_General_CP1_CI_AS' });
    expect(conflicts.map((c) => c.objects)).toEqual([
      ['s.Orders', 's.orders'],
      ['s.t.Name', 's.t.name '],
    ]);
    expect(conflicts[0]!.message).toContain('the target compares names by its collation SQL_Latin1_General_CP1_CI_AS, without regard to case');
    const binary = { engine: 'mssql', collation: 'Latin1_General_BIN2' } as const;
    expect(targetNameConflicts(tables, binary)).toEqual([]);
    // Trailing spaces do not count in any collation.
    expect(targetNameConflicts([table('s.t', { columns: ['id', 'name', 'name '] })], binary).map((c) => c.objects)).toEqual([['s.t.name', 's.t.name ']]);
    expect(targetNameProblems([table(`s.${long('t', 129)}`)], binary)[0]!.message).toMatch(
      /is 129 UTF-16 code units long, and SQL Server refuses names longer than 128/,
    );
  });

  it('compares MySQL table names as lower_case_table_names says', () => {
    const tables = [table('public.Orders', { targetSchema: 'app' }), table('public.orders', { targetSchema: 'app' })];
    expect(targetNameConflicts(tables, MYSQL)).toEqual([]);
    const [conflict] = targetNameConflicts(tables, { engine: 'mysql', lowerCaseTableNames: 1 });
    expect(conflict!.message).toContain('(the target compares table names without regard to case (lower_case_table_names=1))');
    // Postgres schemas become MySQL databases when target.schema is unset: those fold too.
    expect(targetNameConflicts([table('App.t'), table('app.t')], { engine: 'mysql', lowerCaseTableNames: 2 }).map((c) => c.objects)).toEqual([
      ['App.t', 'app.t'],
    ]);
  });

  it('refuses names MySQL would refuse: longer than 64 characters, or ending with a space', () => {
    expect(targetNameConflicts([table('a.t', { columns: ['id', long('c', 64)] })], MYSQL)).toEqual([]);
    expect(targetNameConflicts([table('a.t', { columns: ['id', long('c', 65)] })], MYSQL)[0]!.message).toMatch(
      /its name is 65 characters long, and MySQL refuses names longer than 64/,
    );
    expect(targetNameConflicts([table('a.t', { columns: ['id', 'b '] })], MYSQL)[0]!.message).toMatch(/column a\.t\.b : its name ends with a space/);
  });

  it('finds Postgres index names ferry derives (<table>_<index>) that meet another relation of the schema', () => {
    const index = (name: string): Index => ({ name, columns: ['id'], unique: false });
    const conflicts = targetNameConflicts([table('s.a_b', { indexes: [index('c')] }), table('s.a', { indexes: [index('b_c')] }), table('s.x_i')], POSTGRES);
    expect(conflicts.map((c) => c.message)).toEqual([
      expect.stringContaining('indexes s.a_b.c and s.a.b_c land on one name s.a_b_c on the target (ferry names an index <table>_<index>'),
    ]);
    expect(targetNameConflicts([table('s.x', { indexes: [index('i')] }), table('s.x_i')], POSTGRES)[0]!.message).toContain(
      'index s.x.i and table s.x_i land on one name s.x_i',
    );
    // MySQL keeps index names per table, but without case.
    expect(targetNameConflicts([table('s.a_b', { indexes: [index('c')] }), table('s.a', { indexes: [index('b_c')] })], MYSQL)).toEqual([]);
    expect(targetNameConflicts([table('s.t', { indexes: [index('I'), index('i')] })], MYSQL).map((c) => c.objects)).toEqual([['s.t.I', 's.t.i']]);
  });

  it('finds partitions of two tables merged into one Postgres schema', () => {
    const partitioning = (name: string): Partitioning => ({ by: 'RANGE (id)', partitions: [{ name, bound: 'DEFAULT' }] });
    const conflicts = targetNameConflicts(
      [
        table('s1.t', { targetSchema: 'c', partitioning: partitioning('p_default') }),
        table('s2.u', { targetSchema: 'c', partitioning: partitioning('p_default') }),
      ],
      POSTGRES,
    );
    expect(conflicts.map((c) => c.objects)).toEqual([['s1.p_default', 's2.p_default']]);
    expect(conflicts[0]!.message).toContain(
      'partitions s1.p_default and s2.p_default land on one name c.p_default on the target (target.schema puts every table in c)',
    );
  });
});
