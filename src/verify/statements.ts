import type { TableId } from '../core/change-event.js';
import type { Engine } from '../core/schema.js';
import type { VerifySide } from '../core/verify-side.js';
import { qualified as myQualified } from '../engines/mysql/quoting.js';
import { qualified as pgQualified } from '../engines/postgres/quoting.js';
import type { KeySql, PhysicalColumn } from './canonical-sql.js';

/** One table on one side, as verify's statements need it. */
export interface SideTable {
  readonly engine: Engine;
  /** The quoted, qualified table name on this side. */
  readonly ref: string;
  /** The primary key's columns, in key order; empty for a table without one. */
  readonly key: readonly KeySql[];
  /** Each column as compared in Node: its row-text field, or its raw text for canonical(). */
  readonly values: readonly string[];
  /** The row's fingerprint term (rowHashSql). */
  readonly hash: string;
}

/** The rows with key in (from, to] by the key order of SideTable.key; a null bound is the table's end. */
export interface Chunk {
  readonly from: readonly string[] | null;
  readonly to: readonly string[] | null;
}

export interface Statement {
  readonly sql: string;
  readonly params: readonly string[];
}

export function tableRef(engine: Engine, id: TableId): string {
  return engine === 'postgres' ? pgQualified(id) : myQualified(id);
}

/** Placeholders in the order they appear in the text: `$n` on Postgres, `?` (positional) on MySQL. */
class Params {
  readonly values: string[] = [];
  constructor(private readonly engine: Engine) {}

  add(value: string): string {
    this.values.push(value);
    return this.engine === 'postgres' ? `$${this.values.length}` : '?';
  }
}

/**
 * `key > bound` or `key <= bound` by the key order. Postgres compares row values, which its btree
 * indexes serve; MySQL gets the expanded form `(a > ?) OR (a = ? AND b > ?)`, which an index range
 * scan serves on every server version.
 */
function compareKey(s: SideTable, op: '>' | '<=', bound: readonly string[], params: Params): string {
  if (s.engine === 'postgres' || s.key.length === 1) {
    const left = s.key.map((k) => k.expr);
    const right = s.key.map((k, i) => k.param(params.add(bound[i]!)));
    return s.key.length === 1 ? `${left[0]} ${op} ${right[0]}` : `(${left.join(', ')}) ${op} (${right.join(', ')})`;
  }
  const strict = op === '>' ? '>' : '<';
  const terms = s.key.map((k, i) => {
    const equal = s.key.slice(0, i).map((e, j) => `${e.expr} = ${e.param(params.add(bound[j]!))}`);
    return `(${[...equal, `${k.expr} ${i === s.key.length - 1 ? op : strict} ${k.param(params.add(bound[i]!))}`].join(' AND ')})`;
  });
  return `(${terms.join(' OR ')})`;
}

function rangeWhere(s: SideTable, c: Chunk, params: Params): string {
  const terms: string[] = [];
  if (c.from) terms.push(compareKey(s, '>', c.from, params));
  if (c.to) terms.push(compareKey(s, '<=', c.to, params));
  return terms.length > 0 ? ` WHERE ${terms.join(' AND ')}` : '';
}

/** The key `rows` rows after `after` (or from the start): the next chunk's upper bound, or no row at the table's end. */
export function boundarySql(s: SideTable, after: readonly string[] | null, rows: number): Statement {
  const params = new Params(s.engine);
  const where = after ? ` WHERE ${compareKey(s, '>', after, params)}` : '';
  const order = s.key.map((k) => k.expr).join(', ');
  const limit = s.engine === 'postgres' ? `LIMIT 1 OFFSET ${rows - 1}` : `LIMIT ${rows - 1}, 1`;
  return { sql: `SELECT ${s.key.map((k) => k.text).join(', ')} FROM ${s.ref} AS t${where} ORDER BY ${order} ${limit}`, params: params.values };
}

/** count(*) and the exact sum of the rows' fingerprint terms, both as decimal text. */
export function checksumSql(s: SideTable, c: Chunk): Statement {
  const params = new Params(s.engine);
  const where = rangeWhere(s, c, params);
  const sql = s.engine === 'postgres'
    ? `SELECT count(*)::text, coalesce(sum(${s.hash}), 0)::text FROM ${s.ref} AS t${where}`
    : `SELECT COUNT(*), COALESCE(SUM(${s.hash}), 0) FROM ${s.ref} AS t${where}`;
  return { sql, params: params.values };
}

/** The chunk's rows for comparison in Node: the keys' canonical texts, then SideTable.values, in key order. */
export function rowsSql(s: SideTable, c: Chunk): Statement {
  const params = new Params(s.engine);
  const where = rangeWhere(s, c, params);
  const order = s.key.length > 0 ? ` ORDER BY ${s.key.map((k) => k.expr).join(', ')}` : '';
  return { sql: `SELECT ${[...s.key.map((k) => k.match), ...s.values].join(', ')} FROM ${s.ref} AS t${where}${order}`, params: params.values };
}

/**
 * MySQL collations that order text by code point, which is UTF-8's byte order. Not utf8mb4_bin: it
 * pads with spaces, so 'a' sorts after 'a' followed by a tab.
 */
const MYSQL_BYTEWISE = /^(utf8mb4_nopad_bin|utf8mb4_0900_bin)$/;
const MYSQL_BINARY_TYPE = /^(binary|varbinary|tinyblob|blob|mediumblob|longblob)\b/;

/**
 * Postgres: the type as format_type prints it, the collation (the database's, spelled out, for
 * 'default'), and whether it orders by code point: C, POSIX, C.UTF-8 (glibc orders it by code point),
 * or the builtin provider. to_jsonb reads catalog columns older servers do not have.
 */
const PG_COLUMNS = `
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation = 0 THEN NULL
            WHEN co.collname = 'default' THEN 'default ' || coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') || ' ' || coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale', d.datcollate)
            ELSE co.collname::text END,
       CASE WHEN a.attcollation = 0 THEN false
            WHEN co.collname = 'default' THEN coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'b'
              OR (coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' AND d.datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8'))
            ELSE co.collprovider = 'b' OR (co.collprovider = 'c' AND co.collcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')) END::text
  FROM pg_attribute a
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  JOIN pg_database d ON d.datname = current_database()
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`;

const MYSQL_COLUMNS = 'SELECT COLUMN_NAME, LOWER(COLUMN_TYPE), COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?';

/** The table's columns as this side's catalog has them; empty when the table does not exist. */
export async function physicalColumns(side: VerifySide, id: TableId): Promise<Map<string, PhysicalColumn>> {
  if (side.engine === 'postgres') {
    const [exists] = await side.query('SELECT to_regclass($1)::text', [pgQualified(id)]);
    if (!exists?.[0]) return new Map();
    const rows = await side.query(PG_COLUMNS, [pgQualified(id)]);
    return new Map(rows.map(([name, type, collation, bytewise]) => [name!, { type: type!, collation: collation ?? null, bytewise: bytewise === 'true' }]));
  }
  const rows = await side.query(MYSQL_COLUMNS, [id.schema, id.name]);
  return new Map(rows.map(([name, type, collation]) => [name!, {
    type: type!,
    collation: collation ?? null,
    bytewise: MYSQL_BINARY_TYPE.test(type!) || MYSQL_BYTEWISE.test(collation ?? ''),
  }]));
}
