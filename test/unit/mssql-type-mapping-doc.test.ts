import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ColumnType } from '../../src/core/schema.js';
import { mssqlType } from '../../src/sinks/mssql/mssql-dialect.js';
import { int } from '../helpers/mssql-ddl.js';

// docs/type-mapping.md's SQL Server tables against the dialect: every row's SQL Server type is what
// mssqlType makes of a sample of its source types, and every row has a sample here.

const doc = readFileSync(new URL('../../docs/type-mapping.md', import.meta.url), 'utf8');

/** The rows (source cell, target cell) of the tables under the SQL Server heading, one list per table. */
function sqlServerTables(): [string, string][][] {
  const start = doc.indexOf('## Type mapping (MySQL/MariaDB → SQL Server and Postgres → SQL Server)');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  const tables: [string, string][][] = [];
  let current: [string, string][] | null = null;
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) {
      current = null;
      continue;
    }
    const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '').trim());
    if (!current) tables.push((current = []));
    else if (!/^-+$/.test(cells[0]!.replace(/\|/g, ''))) current.push([cells[0]!, cells[1]!]);
  }
  return tables.map((t) => t.filter(([source]) => !/^-/.test(source)));
}

/** A sample of a row's source types, with the values of the doc's `n`, `p` and `s` for it. */
type Sample = readonly [ColumnType, Readonly<Record<string, number>>?];

const MYSQL: Record<string, readonly Sample[]> = {
  '`TINYINT`': [[int(1)]],
  '`TINYINT UNSIGNED`': [[int(1, true)]],
  '`TINYINT(1)` with `types.tinyint1: boolean`': [[{ kind: 'bool' }]],
  '`SMALLINT`': [[int(2)]],
  '`SMALLINT UNSIGNED`, `MEDIUMINT [UNSIGNED]`, `INT`': [[int(2, true)], [int(3)], [int(3, true)], [int(4)]],
  '`INT UNSIGNED`, `BIGINT`': [[int(4, true)], [int(8)]],
  '`BIGINT UNSIGNED`': [[int(8, true)]],
  '`DECIMAL(p,s)`': [
    [
      { kind: 'decimal', precision: 12, scale: 2 },
      { p: 12, s: 2 },
    ],
  ],
  '`FLOAT`': [[{ kind: 'float' }]],
  '`DOUBLE`': [[{ kind: 'double' }]],
  '`DATE`': [[{ kind: 'date' }]],
  '`DATETIME(n)`': [[{ kind: 'datetime', fsp: 6 }, { n: 6 }]],
  '`TIMESTAMP(n)`': [[{ kind: 'timestamp', fsp: 3 }, { n: 3 }]],
  '`TIME(n)`': [[{ kind: 'time', fsp: 2 }, { n: 2 }]],
  '`YEAR`': [[{ kind: 'year' }]],
  '`CHAR(n)`, `VARCHAR(n)`': [[{ kind: 'string', maxLength: 255 }, { n: 255 }]],
  '`TINYTEXT` … `LONGTEXT`': [[{ kind: 'string', maxLength: null }]],
  '`BINARY(n)`': [[{ kind: 'binary', fixedLength: 16 }, { n: 16 }]],
  '`VARBINARY(n)`, `*BLOB`': [[{ kind: 'binary', fixedLength: null }]],
  '`JSON` (MySQL and MariaDB)': [[{ kind: 'json' }]],
  '`ENUM(…)`': [[{ kind: 'enum', values: ['a', 'bcd'] }, { n: 3 }]],
  '`SET(…)`': [[{ kind: 'set', values: ['a', 'bc'] }, { n: 5 }]],
  '`BIT(1)`': [[{ kind: 'bit', length: 1 }]],
  '`BIT(n)`': [[{ kind: 'bit', length: 5 }, { n: 5 }]],
  '`UUID` (MariaDB 10.7+)': [[{ kind: 'uuid' }]],
};

const POSTGRES: Record<string, readonly Sample[]> = {
  '`smallint`, `integer`, `bigint`': [[int(2)], [int(4)], [int(8)]],
  '`numeric(p,s)`': [
    [
      { kind: 'decimal', precision: 30, scale: 4 },
      { p: 30, s: 4 },
    ],
  ],
  '`numeric` (unconstrained)': [[{ kind: 'decimal', precision: null, scale: null }]],
  '`real`, `double precision`': [[{ kind: 'float' }], [{ kind: 'double' }]],
  '`boolean`': [[{ kind: 'bool' }]],
  '`text`, `varchar(n)`, `char(n)`': [
    [{ kind: 'string', maxLength: null }],
    [{ kind: 'string', maxLength: 40 }, { n: 40 }],
    [{ kind: 'string', maxLength: 3 }, { n: 3 }],
  ],
  '`bytea`': [[{ kind: 'binary', fixedLength: null }]],
  '`date`': [[{ kind: 'date' }]],
  '`time(n)`': [[{ kind: 'time', fsp: 6 }, { n: 6 }]],
  '`timestamp(n)`': [[{ kind: 'datetime', fsp: 6 }, { n: 6 }]],
  '`timestamptz(n)`': [[{ kind: 'timestamp', fsp: 6 }, { n: 6 }]],
  '`interval`': [[{ kind: 'interval' }]],
  '`json`, `jsonb`': [[{ kind: 'json' }]],
  '`uuid`': [[{ kind: 'uuid' }]],
  'arrays (`int[]`, `text[]`, …)': [[{ kind: 'array', element: int(4) }], [{ kind: 'array', element: { kind: 'string', maxLength: null } }]],
  'enum types': [[{ kind: 'enum', values: ['sad', 'happy'] }, { n: 5 }]],
  '`inet`, `cidr`': [[{ kind: 'inet' }]],
  '`bit(1)`, `bit(n)`': [[{ kind: 'bit', length: 1 }], [{ kind: 'bit', length: 12 }, { n: 12 }]],
  'anything else (`point`, `money`, `tsvector`, `xml`, …)': [[{ kind: 'other' }]],
};

/** A type as the doc writes it (`nvarchar(2n)`, `decimal(p,s)`) with the sample's values put in. */
function instantiate(code: string, vars: Readonly<Record<string, number>> = {}): string {
  return code.replace(/\(([^)]*)\)/, (_, args: string) => {
    const value = (a: string) => {
      const m = /^(\d*)([nps])$/.exec(a.trim());
      if (!m) return a.trim();
      if (vars[m[2]!] === undefined) throw new Error(`the sample gives no ${m[2]} for ${code}`);
      return String(Number(m[1] || 1) * vars[m[2]!]!);
    };
    return `(${args.split(',').map(value).join(',')})`;
  });
}

/** The SQL Server types a row's target cell names, in the order of its source types. */
function targetTypes(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

describe("docs/type-mapping.md's SQL Server tables", () => {
  const [mysqlRows, postgresRows] = sqlServerTables();

  it('are there, one from MySQL and one from Postgres', () => {
    expect(mysqlRows?.length).toBeGreaterThan(20);
    expect(postgresRows?.length).toBeGreaterThan(15);
  });

  for (const [engine, rows, samples] of [
    ['MySQL', mysqlRows ?? [], MYSQL],
    ['Postgres', postgresRows ?? [], POSTGRES],
  ] as const) {
    it(`${engine}: every row has samples here, and every sample its row`, () => {
      expect(rows.map(([source]) => source).sort()).toEqual(Object.keys(samples).sort());
    });

    it.each(rows.map(([source, target]) => [source, target] as const))(`${engine} %s → %s is what the dialect makes`, (source, target) => {
      const types = targetTypes(target);
      const list = samples[source] ?? [];
      expect(list.length).toBeGreaterThan(0);
      list.forEach(([type, vars], i) => {
        const documented = types.length === list.length ? types[i]! : types[0]!;
        expect(mssqlType(type)).toBe(instantiate(documented, vars));
      });
    });
  }
});
