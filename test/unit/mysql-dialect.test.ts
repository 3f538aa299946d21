import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import {
  columnTypeSql,
  createTableSql,
  deleteSql,
  insertSql,
  loadDataSql,
  loadField,
  mysqlType,
  normalizeColumnType,
  patchSql,
  rowExistsSql,
  toMysql,
} from '../../src/sinks/mysql/mysql-dialect.js';

function col(name: string, type: ColumnType, sourceType = '(test)', nullable = false): Column {
  return { name, type, sourceType, nullable, autoIncrement: false, backfill: { value: null } };
}

const pgTable: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'items' },
  target: { schema: 'shop', name: 'items' },
  columns: [
    col('id', { kind: 'string', maxLength: null }, 'text'),
    col('qty', { kind: 'int', bytes: 4, unsigned: false }, 'integer'),
    col('data', { kind: 'binary', fixedLength: null }, 'bytea', true),
    col('flags', { kind: 'bit', length: 4 }, 'bit(4)', true),
  ],
  primaryKey: ['id'],
  indexes: [],
};

describe('mysqlType (other engines → MySQL)', () => {
  it.each([
    [{ kind: 'int', bytes: 8, unsigned: true }, 'bigint unsigned'],
    [{ kind: 'bool' }, 'tinyint(1)'],
    [{ kind: 'decimal', precision: null, scale: null }, 'decimal(65,30)'],
    [{ kind: 'decimal', precision: 12, scale: 2 }, 'decimal(12,2)'],
    [{ kind: 'timestamp', fsp: 6 }, 'datetime(6)'],
    [{ kind: 'string', maxLength: 20 }, 'varchar(20)'],
    [{ kind: 'string', maxLength: null }, 'longtext'],
    [{ kind: 'json' }, 'json'],
    [{ kind: 'array', element: { kind: 'int', bytes: 4, unsigned: false } }, 'json'],
    [{ kind: 'enum', values: ["it's", 'b'] }, "enum('it''s','b')"],
    [{ kind: 'uuid' }, 'char(36)'],
    [{ kind: 'interval' }, 'varchar(100)'],
    [{ kind: 'inet' }, 'varchar(43)'],
    [{ kind: 'other' }, 'longtext'],
  ] as [ColumnType, string][])('%j → %s', (type, expected) => {
    expect(mysqlType(type)).toBe(expected);
  });

  it('gives text key columns a VARCHAR an index can hold', () => {
    expect(columnTypeSql(pgTable, pgTable.columns[0]!)).toBe('varchar(752)');
  });

  it("keeps a MySQL table's own column types", () => {
    const t: TableSchema = { ...pgTable, engine: 'mysql', columns: [col('id', { kind: 'int', bytes: 4, unsigned: true }, 'int(10) unsigned')] };
    expect(columnTypeSql(t, t.columns[0]!)).toBe('int(10) unsigned');
    expect(normalizeColumnType('int(10) unsigned')).toBe(normalizeColumnType('int unsigned'));
    expect(normalizeColumnType('json')).toBe(normalizeColumnType('longtext'));
    expect(normalizeColumnType('tinyint(1)')).not.toBe(normalizeColumnType('tinyint(4)'));
  });

  it('creates cross-engine tables with a collation that compares like Postgres', () => {
    expect(createTableSql(pgTable, 'utf8mb4_nopad_bin')).toBe(
      'CREATE TABLE IF NOT EXISTS `shop`.`items` (\n  `id` varchar(752) NOT NULL,\n  `qty` int NOT NULL,\n  `data` longblob NULL,\n  `flags` bit(4) NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin',
    );
  });
});

describe('statements', () => {
  it('inserts plainly, never ON DUPLICATE KEY UPDATE (it would update the row of whichever unique key collides)', () => {
    expect(insertSql(pgTable, pgTable.columns.slice(0, 2))).toBe('INSERT INTO `shop`.`items` (`id`, `qty`) VALUES ?');
  });
  it('deletes by key set and patches only the columns a change carried', () => {
    expect(deleteSql(pgTable)).toBe('DELETE FROM `shop`.`items` WHERE `id` IN (?)');
    expect(deleteSql({ ...pgTable, primaryKey: ['id', 'qty'] })).toBe('DELETE FROM `shop`.`items` WHERE (`id`, `qty`) IN (?)');
    expect(patchSql(pgTable, pgTable.columns.slice(0, 2))).toBe('UPDATE `shop`.`items` SET `id` = ?, `qty` = ? WHERE `id` = ?');
    expect(rowExistsSql({ ...pgTable, primaryKey: ['id', 'qty'] })).toBe('SELECT 1 FROM `shop`.`items` WHERE `id` = ? AND `qty` = ? LIMIT 1');
  });
  it('loads binary and BIT columns as hex through UNHEX', () => {
    expect(loadDataSql(pgTable)).toBe(
      "LOAD DATA LOCAL INFILE 'ferry' INTO TABLE `shop`.`items` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (`id`, `qty`, @v2, @v3) SET `data` = UNHEX(@v2), `flags` = UNHEX(@v3)",
    );
  });
});

describe('values', () => {
  it('escapes LOAD DATA fields and writes NULL as \\N', () => {
    expect(loadField(null)).toBe('\\N');
    expect(loadField('a\tb\nc\\d\0')).toBe('a\\tb\\nc\\\\d\\0');
    expect(loadField('\\N')).toBe('\\\\N');
    expect(loadField(Buffer.from([1, 255]))).toBe('01ff');
    expect(loadField(true)).toBe('1');
  });
  it('turns booleans, bit strings and Postgres arrays into what MySQL takes', () => {
    const t = pgTable.target;
    expect(toMysql({ kind: 'bool' }, true, t, 'b')).toBe(1);
    expect(toMysql({ kind: 'bit', length: 10 }, '1010101010', t, 'b')).toEqual(Buffer.from([0x02, 0xaa]));
    expect(toMysql({ kind: 'array', element: { kind: 'int', bytes: 4, unsigned: false } }, '{1,NULL,3}', t, 'a')).toBe('[1,null,3]');
    expect(toMysql({ kind: 'array', element: { kind: 'string', maxLength: null } }, '{"a b",c}', t, 'a')).toBe('["a b","c"]');
    expect(toMysql({ kind: 'array', element: { kind: 'int', bytes: 8, unsigned: false } }, '{9007199254740993}', t, 'a')).toBe('[9007199254740993]');
    expect(toMysql({ kind: 'array', element: { kind: 'bool' } }, '{t,NULL}', t, 'a')).toBe('[true,null]');
    expect(() => toMysql({ kind: 'timestamp', fsp: 6 }, 'infinity', t, 'ts')).toThrow(/no MySQL DATETIME equivalent/);
  });
});
