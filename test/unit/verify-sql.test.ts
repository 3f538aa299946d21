import { describe, expect, it } from 'vitest';
import type { Column, ColumnType, Engine } from '../../src/core/schema.js';
import type { RowFilter } from '../../src/core/transform-rules.js';
import { canonicalSql, comparedInNode, fieldSql, keySql, ownOrderIsByteOrder, rowHashSql } from '../../src/verify/canonical-sql.js';
import { boundarySql, checksumSql, rowsSql, type SideTable } from '../../src/verify/statements.js';
import type { PhysicalColumn } from '../../src/core/verify-sql.js';

const phys = (type: string, bytewise = false, collation: string | null = null): PhysicalColumn => ({ type, collation, bytewise });
const int: ColumnType = { kind: 'int', bytes: 4, unsigned: false };
const text: ColumnType = { kind: 'string', maxLength: null };
const varchar: ColumnType = { kind: 'string', maxLength: 20 };

describe('canonical text per kind and engine', () => {
  it.each<[string, Engine, ColumnType, PhysicalColumn, string]>([
    ['integers as digits, without ZEROFILL', 'mysql', int, phys('int(5) unsigned zerofill'), 'CAST(x + 0 AS CHAR)'],
    ['integers as digits', 'postgres', int, phys('integer'), 'x::text'],
    ['decimals without trailing fractional zeros', 'postgres', { kind: 'decimal', precision: 10, scale: 2 }, phys('numeric(10,2)'), 'trim_scale(x)::text'],
    [
      'decimals without trailing fractional zeros, by text on MySQL',
      'mysql',
      { kind: 'decimal', precision: 10, scale: 2 },
      phys('decimal(10,2)'),
      "IF(LOCATE('.', CAST(x + 0 AS CHAR)) = 0, CAST(x + 0 AS CHAR), TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(x + 0 AS CHAR))))",
    ],
    ['booleans as 1/0', 'postgres', { kind: 'bool' }, phys('boolean'), 'x::int::text'],
    ['TINYINT(1) booleans as 1 for anything but 0', 'mysql', { kind: 'bool' }, phys('tinyint(1)'), 'CAST(x <> 0 AS CHAR)'],
    [
      'timestamptz in UTC with six fractional digits',
      'postgres',
      { kind: 'timestamp', fsp: 6 },
      phys('timestamp(6) with time zone'),
      "CASE WHEN isfinite((x AT TIME ZONE 'UTC')) AND (x AT TIME ZONE 'UTC') >= '0001-01-01' THEN to_char((x AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS.US') ELSE (x AT TIME ZONE 'UTC')::text END",
    ],
    [
      'datetimes with six fractional digits, zero dates as NULL',
      'mysql',
      { kind: 'datetime', fsp: 0 },
      phys('datetime'),
      "IF(MONTH(x) = 0 OR DAYOFMONTH(x) = 0, NULL, DATE_FORMAT(x, '%Y-%m-%d %H:%i:%s.%f'))",
    ],
    ['zero dates as NULL', 'mysql', { kind: 'date' }, phys('date'), 'IF(MONTH(x) = 0 OR DAYOFMONTH(x) = 0, NULL, CAST(x AS CHAR))'],
    [
      'times (and intervals holding them) as microseconds',
      'postgres',
      { kind: 'time', fsp: 6 },
      phys('interval'),
      '(extract(epoch from x) * 1000000)::bigint::text',
    ],
    [
      'times as signed microseconds',
      'mysql',
      { kind: 'time', fsp: 3 },
      phys('time(3)'),
      "CAST(IF(x < TIME '00:00:00', -1, 1) * ((HOUR(x) * 3600 + MINUTE(x) * 60 + SECOND(x)) * 1000000 + MICROSECOND(x)) AS CHAR)",
    ],
    ['character(n) with its padding', 'postgres', varchar, phys('character(5)'), 'rpad(x::text, 5)'],
    ['text in UTF-8', 'mysql', text, phys('longtext'), 'CONVERT(x USING utf8mb4)'],
    ['bytes as lower-case hex', 'mysql', { kind: 'binary', fixedLength: 4 }, phys('binary(4)'), 'LOWER(HEX(x))'],
    ['bytea as lower-case hex', 'postgres', { kind: 'binary', fixedLength: null }, phys('bytea'), "encode(x, 'hex')"],
    ['bits as their digits', 'mysql', { kind: 'bit', length: 10 }, phys('bit(10)'), "LPAD(BIN(x), 10, '0')"],
    ['inet as its output text (no /32 added)', 'postgres', { kind: 'inet' }, phys('inet'), "CASE WHEN x IS NULL THEN NULL ELSE format('%s', x) END"],
    ['uuids in lower case', 'mysql', { kind: 'uuid' }, phys('uuid'), 'LOWER(CONVERT(x USING utf8mb4))'],
  ])('%s (%s)', (_, engine, type, p, sql) => {
    expect(canonicalSql(engine, type, p, 'x')).toBe(sql);
  });

  it('makes fields that no two values share: fixed texts as they are, free text length-prefixed, long values hashed, NULL as N', () => {
    expect(fieldSql('postgres', int, phys('integer'), 'x')).toBe("coalesce(x::text, 'N')");
    expect(fieldSql('postgres', varchar, phys('character varying(20)'), 'x')).toBe("coalesce(length(x::text) || ':' || x::text, 'N')");
    expect(fieldSql('mysql', varchar, phys('varchar(20)'), 'x')).toBe(
      "COALESCE(CONCAT(CHAR_LENGTH(CONVERT(x USING utf8mb4)), ':', CONVERT(x USING utf8mb4)), 'N')",
    );
    expect(fieldSql('postgres', text, phys('text'), 'x')).toBe("coalesce(md5(x::text), 'N')");
    expect(fieldSql('mysql', text, phys('longtext'), 'x')).toBe("COALESCE(MD5(CONVERT(x USING utf8mb4)), 'N')");
    // Long binary values are hashed as bytes on both engines, not as hex.
    expect(fieldSql('mysql', { kind: 'binary', fixedLength: null }, phys('longblob'), 'x')).toBe("COALESCE(MD5(x), 'N')");
    expect(fieldSql('postgres', { kind: 'binary', fixedLength: null }, phys('bytea'), 'x')).toBe("coalesce(md5(x), 'N')");
  });

  it('sums the first 60 bits of each row md5 as integers on both engines', () => {
    expect(rowHashSql('postgres', ['a', 'b'])).toBe("('x' || substr(md5(a || '|' || b), 1, 15))::bit(60)::bigint");
    expect(rowHashSql('mysql', ['a', 'b'])).toBe("CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', a, b)), 1, 15), 16, 10) AS UNSIGNED)");
  });
});

describe('which kinds are compared in Node', () => {
  const kinds: ColumnType[] = [
    int,
    { kind: 'decimal', precision: null, scale: null },
    { kind: 'float' },
    { kind: 'double' },
    { kind: 'json' },
    { kind: 'array', element: int },
    text,
    { kind: 'timestamp', fsp: 6 },
    { kind: 'interval' },
    { kind: 'other' },
  ];
  it.each<[Engine, Engine, string[]]>([
    ['mysql', 'postgres', ['float', 'double', 'json', 'array']],
    ['postgres', 'mysql', ['float', 'double', 'json', 'array']],
    ['postgres', 'postgres', []],
    ['mysql', 'mysql', []],
  ])('%s → %s: %j', (source, target, expected) => {
    expect(kinds.filter((k) => comparedInNode(k, source, target)).map((k) => k.kind)).toEqual(expected);
  });
});

describe('key order', () => {
  it.each<[string, Engine, ColumnType, PhysicalColumn, boolean]>([
    ['integers everywhere', 'mysql', int, phys('int(11)'), true],
    ['text in a C collation', 'postgres', text, phys('text', true, 'C'), true],
    ['text in a linguistic collation', 'postgres', text, phys('text', false, 'und-x-icu'), false],
    ['character(n), which compares without its padding', 'postgres', varchar, phys('character(5)', true, 'C'), false],
    ['uuid (bytes in text order)', 'postgres', { kind: 'uuid' }, phys('uuid'), true],
    ['bytea', 'postgres', { kind: 'binary', fixedLength: null }, phys('bytea'), true],
    ['varchar in utf8mb4_nopad_bin', 'mysql', varchar, phys('varchar(20)', true, 'utf8mb4_nopad_bin'), true],
    ['varchar in utf8mb4_general_ci', 'mysql', varchar, phys('varchar(20)', false, 'utf8mb4_general_ci'), false],
    ["MariaDB's UUID type (stored with its segments swapped)", 'mysql', { kind: 'uuid' }, phys('uuid'), false],
    ['varbinary', 'mysql', { kind: 'binary', fixedLength: null }, phys('varbinary(16)', true), true],
  ])('own order is the shared order: %s', (_, engine, type, p, expected) => {
    expect(ownOrderIsByteOrder(engine, type, p)).toBe(expected);
  });

  it('compares keys as themselves with parameters of their own type, or as text in byte order', () => {
    const pgTs = keySql('postgres', { kind: 'timestamp', fsp: 6 }, phys('timestamp(6) with time zone'), 'x', true);
    expect([pgTs.expr, pgTs.param('$1')]).toEqual(['x', "($1::timestamp AT TIME ZONE 'UTC')"]);
    const pgNum = keySql('postgres', { kind: 'int', bytes: 8, unsigned: true }, phys('numeric(20,0)'), 'x', true);
    expect(pgNum.param('$1')).toBe('$1::numeric');
    const pgText = keySql('postgres', text, phys('text', false, 'und-x-icu'), 'x', false);
    expect([pgText.expr, pgText.param('$1')]).toEqual(['(x::text) COLLATE "C"', '$1::text COLLATE "C"']);
    const myText = keySql('mysql', varchar, phys('varchar(20)', false, 'utf8mb4_general_ci'), 'x', false);
    expect([myText.expr, myText.param('?')]).toEqual(['CAST(CONVERT(x USING utf8mb4) AS BINARY)', 'CAST(? AS BINARY)']);
    const myBig = keySql('mysql', { kind: 'int', bytes: 8, unsigned: true }, phys('bigint(20) unsigned'), 'x', true);
    expect([myBig.expr, myBig.param('?')]).toEqual(['x', 'CAST(? AS DECIMAL(65,0))']);
    // A time boundary is passed as the time's own text, which both engines read back; rows match by microseconds.
    const myTime = keySql('mysql', { kind: 'time', fsp: 0 }, phys('time'), 'x', true);
    expect(myTime.text).toBe('CAST(x AS CHAR)');
    expect(myTime.match).toBe(canonicalSql('mysql', { kind: 'time', fsp: 0 }, phys('time'), 'x'));
  });
});

describe('statements', () => {
  const pk = (engine: Engine, names: string[]): SideTable => ({
    engine,
    ref: engine === 'postgres' ? '"s"."t"' : '`s`.`t`',
    key: names.map((n) => ({ text: `${n}_text`, match: `${n}_match`, expr: n, param: (p: string) => `${p}::int` })),
    values: ['v'],
    hash: 'h',
  });

  it('checksums a chunk (lo, hi] by row comparison on Postgres', () => {
    const s = checksumSql(pk('postgres', ['a', 'b']), { from: ['1', '2'], to: ['3', '4'] });
    expect(s.sql).toBe('SELECT count(*)::text, coalesce(sum(h), 0)::text FROM "s"."t" AS t WHERE (a, b) > ($1::int, $2::int) AND (a, b) <= ($3::int, $4::int)');
    expect(s.params).toEqual(['1', '2', '3', '4']);
  });

  it('checksums a chunk with the expanded key comparison on MySQL, parameters in the order they appear', () => {
    const s = checksumSql(pk('mysql', ['a', 'b']), { from: ['1', '2'], to: ['3', '4'] });
    expect(s.sql).toBe(
      'SELECT COUNT(*), COALESCE(SUM(h), 0) FROM `s`.`t` AS t WHERE ((a > ?::int) OR (a = ?::int AND b > ?::int)) AND ((a < ?::int) OR (a = ?::int AND b <= ?::int))',
    );
    expect(s.params).toEqual(['1', '1', '2', '3', '3', '4']);
  });

  it('takes the whole table in one chunk without a key, and open ends without bounds', () => {
    expect(checksumSql(pk('postgres', []), { from: null, to: null }).sql).toBe('SELECT count(*)::text, coalesce(sum(h), 0)::text FROM "s"."t" AS t');
    expect(rowsSql(pk('postgres', ['a']), { from: ['9'], to: null })).toEqual({
      sql: 'SELECT a_match, v FROM "s"."t" AS t WHERE a > $1::int ORDER BY a',
      params: ['9'],
    });
  });

  it("reads a chunk's rows with a transform's pushed filter in the SQL, values bound as the snapshot binds them; checksums and boundaries walk every row", () => {
    const plain = { sourceType: '', nullable: true, autoIncrement: false, backfill: { value: null } };
    const columns: Column[] = [
      { ...plain, name: 'region', type: { kind: 'string', maxLength: 10 } },
      { ...plain, name: 'n', type: { kind: 'int', bytes: 4, unsigned: false } },
    ];
    const conditions: RowFilter[] = [
      { column: 'region', op: 'in', value: ['eu', 'uk'] },
      { column: 'n', op: 'between', value: [-5, 2147483648] },
      { column: 'region', op: 'notnull' },
    ];
    const filtered = (engine: Engine): SideTable => ({ ...pk(engine, ['a']), filter: { conditions, columns } });
    expect(rowsSql(filtered('postgres'), { from: ['9'], to: ['20'] })).toEqual({
      sql: 'SELECT a_match, v FROM "s"."t" AS t WHERE a > $1::int AND a <= $2::int AND (t."region" IN ($3::text, $4::text)) AND (t."n" BETWEEN $5::bigint AND $6::bigint) AND (t."region" IS NOT NULL) ORDER BY a',
      params: ['9', '20', 'eu', 'uk', '-5', '2147483648'],
    });
    expect(rowsSql(filtered('mysql'), { from: null, to: ['20'] })).toEqual({
      sql: 'SELECT a_match, v FROM `s`.`t` AS t WHERE a <= ?::int AND (t.`region` IN (?, ?)) AND (t.`n` BETWEEN ? AND ?) AND (t.`region` IS NOT NULL) ORDER BY a',
      params: ['20', 'eu', 'uk', '-5', '2147483648'],
    });
    expect(checksumSql(filtered('postgres'), { from: null, to: null }).sql).not.toContain('region');
    expect(boundarySql(filtered('mysql'), null, 10).sql).not.toContain('region');
  });

  it('finds the next chunk boundary `rows` keys on', () => {
    expect(boundarySql(pk('postgres', ['a']), null, 1000).sql).toBe('SELECT a_text FROM "s"."t" AS t ORDER BY a LIMIT 1 OFFSET 999');
    expect(boundarySql(pk('mysql', ['a']), ['5'], 1000)).toEqual({
      sql: 'SELECT a_text FROM `s`.`t` AS t WHERE a > ?::int ORDER BY a LIMIT 999, 1',
      params: ['5'],
    });
  });
});
