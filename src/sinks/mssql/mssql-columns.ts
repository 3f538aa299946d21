import sql from 'mssql';
import { tableKey, type TableId } from '../../core/change-event.js';
import { FerryError } from '../../core/errors.js';
import type { TableSchema } from '../../core/schema.js';
import { qualified } from '../../engines/mssql/quoting.js';

/** A column of a target table as SQL Server describes it (sys.dm_exec_describe_first_result_set). */
export interface TargetColumn {
  readonly name: string;
  /** The server's own spelling of the column's type: `decimal(12,2)`, `nvarchar(50)`, `datetime2(6)`. */
  readonly type: string;
  readonly identity: boolean;
  /** A character column's collation (null for other types; absent where not described). */
  readonly collation?: string | null;
}

/**
 * How a value travels to a column of the target: as the column's own type where tedious encodes
 * that type exactly (integers, bit, float, real), as nvarchar(max) for text and varbinary(max) for
 * binary (the assignment to the column converts, in the column's own collation), and as text
 * (`'text'`) that the statement CASTs to the column's type everywhere else. tedious sends a decimal
 * through a JavaScript double and a datetime2 through a Date (milliseconds): their text keeps every
 * digit, and the server parses it.
 */
export type Wire = 'tinyint' | 'smallint' | 'int' | 'bigint' | 'bit' | 'float' | 'real' | 'nvarchar' | 'varbinary' | 'text';

const WIRES: Readonly<Record<string, Wire>> = {
  tinyint: 'tinyint',
  smallint: 'smallint',
  int: 'int',
  bigint: 'bigint',
  bit: 'bit',
  float: 'float',
  real: 'real',
  char: 'nvarchar',
  varchar: 'nvarchar',
  nchar: 'nvarchar',
  nvarchar: 'nvarchar',
  text: 'nvarchar',
  ntext: 'nvarchar',
  sysname: 'nvarchar',
  binary: 'varbinary',
  varbinary: 'varbinary',
  image: 'varbinary',
};

/** The type's name without its length, precision or scale, in lower case: `decimal(12,2)` → `decimal`. */
export function baseType(type: string): string {
  return type.replace(/\(.*$/s, '').trim().toLowerCase();
}

export function wireOf(c: TargetColumn): Wire {
  return WIRES[baseType(c.type)] ?? 'text';
}

/** The type a value of wire `w` has in a stage table and as a parameter. */
export function wireDeclaration(w: Wire): string {
  if (w === 'nvarchar' || w === 'text') return 'nvarchar(max)';
  return w === 'varbinary' ? 'varbinary(max)' : w;
}

/** The mssql type of a parameter or bulk column of wire `w`, declared as wireDeclaration says. */
export function wireType(w: Wire): sql.ISqlType {
  switch (w) {
    case 'tinyint':
      return sql.TinyInt();
    case 'smallint':
      return sql.SmallInt();
    case 'int':
      return sql.Int();
    case 'bigint':
      return sql.BigInt();
    case 'bit':
      return sql.Bit();
    case 'float':
      return sql.Float();
    case 'real':
      return sql.Real();
    case 'varbinary':
      return sql.VarBinary(sql.MAX);
    default:
      return sql.NVarChar(sql.MAX);
  }
}

/** `expr` (a value of `c`'s wire) as a value of the column's own type. */
export function asColumnType(c: TargetColumn, expr: string): string {
  return wireOf(c) === 'text' ? `CAST(${expr} AS ${c.type})` : expr;
}

/**
 * Column `expr` of `c`'s type as the text ferry compares and reads back: decimals with every digit,
 * temporals in ISO order with their whole fraction (a datetimeoffset as its UTC wall-clock time),
 * uuids in lower case; types the driver returns exactly (integers, bit, floats, strings, binary) as they are.
 */
export function textForm(c: TargetColumn, expr: string): string {
  switch (baseType(c.type)) {
    case 'decimal':
    case 'numeric':
      return `CONVERT(nvarchar(60), ${expr})`;
    case 'money':
    case 'smallmoney':
      return `CONVERT(nvarchar(60), ${expr}, 2)`;
    case 'date':
      return `CONVERT(nvarchar(10), ${expr}, 23)`;
    case 'datetime2':
    case 'datetime':
    case 'smalldatetime':
    case 'time':
      return `CONVERT(nvarchar(40), ${expr}, 121)`;
    case 'datetimeoffset':
      return `CONVERT(nvarchar(40), CAST(SWITCHOFFSET(${expr}, '+00:00') AS datetime2(7)), 121)`;
    case 'uniqueidentifier':
      return `LOWER(CONVERT(nvarchar(36), ${expr}))`;
    case 'xml':
    case 'sql_variant':
    case 'hierarchyid':
    case 'geography':
    case 'geometry':
      return `CONVERT(nvarchar(max), ${expr})`;
    default:
      return expr;
  }
}

/** What the server says of a table's columns; `@p1` is `SELECT * FROM` the table. */
export const DESCRIBE_SQL =
  'SELECT [name], [system_type_name], [is_identity_column], [collation_name], [error_message] FROM sys.dm_exec_describe_first_result_set(@p1, NULL, 0) ORDER BY [column_ordinal]';

export function describeParam(t: TableId): string {
  return `SELECT * FROM ${qualified(t)}`;
}

export interface DescribedRow {
  readonly name: string | null;
  readonly system_type_name: string | null;
  readonly is_identity_column: boolean | null;
  readonly collation_name?: string | null;
  readonly error_message: string | null;
}

/** The described columns of `table`, in `table.columns` order. */
export function targetColumns(table: TableSchema, rows: readonly DescribedRow[]): TargetColumn[] {
  const failed = rows.find((r) => r.error_message);
  if (failed) throw new FerryError('fatal', `cannot read the columns of target table ${tableKey(table.target)}: ${failed.error_message}`);
  const byName = new Map(rows.map((r) => [r.name, r]));
  return table.columns.map((c) => {
    const r = byName.get(c.name);
    if (!r?.system_type_name) {
      throw new FerryError('fatal', `target table ${tableKey(table.target)} has no column ${c.name}`, {
        hint: 'the target table differs from what ferry prepared; re-create it (snapshot.tablePrep: drop-and-create)',
      });
    }
    return { name: c.name, type: r.system_type_name, identity: r.is_identity_column === true, collation: r.collation_name ?? null };
  });
}
