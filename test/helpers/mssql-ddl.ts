import type { Column, ColumnType, TableSchema } from '../../src/core/schema.js';
import type { MssqlSession } from '../../src/sinks/mssql/mssql-session.js';
import type { SqlDriver } from '../../src/sinks/sql-driver.js';

/** Source tables as the MySQL and Postgres sources describe them, for the SQL Server sink's unit tests. */

export const int = (bytes: 1 | 2 | 3 | 4 | 8, unsigned = false): ColumnType => ({ kind: 'int', bytes, unsigned });

export function col(name: string, type: ColumnType, sourceType: string, o: Partial<Omit<Column, 'name' | 'type' | 'sourceType'>> = {}): Column {
  return { name, type, sourceType, nullable: false, autoIncrement: false, backfill: { value: null }, ...o };
}

/** shop.customers (MySQL): an unsigned AUTO_INCREMENT key, utf8mb4 text, a unique email. */
export const customers: TableSchema = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'customers' },
  target: { schema: 'shop', name: 'customers' },
  columns: [
    col('id', int(4, true), 'int(10) unsigned', { autoIncrement: true }),
    col('email', { kind: 'string', maxLength: 255 }, 'varchar(255)'),
    col('bio', { kind: 'string', maxLength: null }, 'text', { nullable: true }),
  ],
  primaryKey: ['id'],
  indexes: [{ name: 'email', columns: ['email'], unique: true }],
};

/** shop.orders (MySQL): a key referencing customers ON DELETE CASCADE, defaults, ENUM, JSON, BIGINT UNSIGNED, DATETIME(6), BIT, a CHECK. */
export const orders: TableSchema = {
  engine: 'mysql',
  source: { schema: 'shop', name: 'orders' },
  target: { schema: 'shop', name: 'orders' },
  columns: [
    col('id', int(8, true), 'bigint(20) unsigned', { autoIncrement: true }),
    col('customer_id', int(4, true), 'int(10) unsigned'),
    col('status', { kind: 'enum', values: ['new', 'paid', 'shipped'] }, "enum('new','paid','shipped')", {
      default: { kind: 'literal', value: 'new', text: "'new'" },
    }),
    col('total', { kind: 'decimal', precision: 12, scale: 2 }, 'decimal(12,2)', { default: { kind: 'literal', value: '0.00', text: '0.00' } }),
    col('note', { kind: 'string', maxLength: null }, 'text', { nullable: true }),
    col('attrs', { kind: 'json' }, 'json', { nullable: true }),
    col('created_at', { kind: 'datetime', fsp: 6 }, 'datetime(6)', { default: { kind: 'now', text: 'current_timestamp(6)' } }),
    col('paid_at', { kind: 'timestamp', fsp: 0 }, 'timestamp', { nullable: true }),
    col('flags', { kind: 'bit', length: 3 }, 'bit(3)', { nullable: true }),
    col('ref', { kind: 'string', maxLength: 64 }, 'varchar(64)', { nullable: true }),
  ],
  primaryKey: ['id'],
  indexes: [
    { name: 'customer', columns: ['customer_id'], unique: false },
    { name: 'ref', columns: ['ref'], unique: true },
  ],
  foreignKeys: [
    {
      name: 'orders_customer_fk',
      columns: ['customer_id'],
      references: customers.source,
      referencedColumns: ['id'],
      onDelete: 'cascade',
      onUpdate: 'restrict',
    },
  ],
  checks: [
    {
      name: 'total_positive',
      expression: '(`total` >= 0)',
      portable: { kind: 'compare', op: '>=', left: { kind: 'column', name: 'total' }, right: { kind: 'number', text: '0' } },
    },
  ],
};

/** public.events (Postgres): an identity key, timestamptz, uuid, unconstrained numeric, arrays, jsonb. */
export const events: TableSchema = {
  engine: 'postgres',
  source: { schema: 'public', name: 'events' },
  target: { schema: 'public', name: 'events' },
  columns: [
    col('id', int(8), 'bigint', { autoIncrement: true }),
    col('uid', { kind: 'uuid' }, 'uuid', { default: { kind: 'expression', text: 'gen_random_uuid()' } }),
    col('at', { kind: 'timestamp', fsp: 6 }, 'timestamp with time zone', { default: { kind: 'now', text: 'now()' } }),
    col('amount', { kind: 'decimal', precision: null, scale: null }, 'numeric', { nullable: true }),
    col('tags', { kind: 'array', element: { kind: 'string', maxLength: null } }, 'text[]', { nullable: true }),
    col('payload', { kind: 'json' }, 'jsonb', { nullable: true }),
    col('code', { kind: 'string', maxLength: 20 }, 'character varying(20)', { nullable: true }),
    col('active', { kind: 'bool' }, 'boolean', { default: { kind: 'literal', value: true, text: 'true' } }),
  ],
  primaryKey: ['id'],
  indexes: [{ name: 'events_at_idx', columns: ['at'], unique: false }],
  checks: [
    {
      name: 'events_amount_check',
      expression: '(amount >= (0)::numeric)',
      portable: { kind: 'compare', op: '>=', left: { kind: 'column', name: 'amount' }, right: { kind: 'number', text: '0' } },
    },
  ],
};

/**
 * A SQL Server session that records what it runs and answers queries with `answer` (by statement):
 * the sink's DDL code runs against it as against a server, without one.
 */
export class FakeSession {
  readonly statements: string[] = [];
  readonly queries: { sql: string; params: readonly unknown[] }[] = [];
  readonly procedures: { name: string; inputs: Record<string, unknown> }[] = [];
  returnValue = 0;

  constructor(readonly answer: (sql: string, params: readonly unknown[]) => Record<string, unknown>[] = () => []) {}

  async run(sql: string): Promise<void> {
    this.statements.push(sql);
  }

  async query<T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    this.queries.push({ sql, params });
    return this.answer(sql, params) as T[];
  }

  request() {
    const inputs: Record<string, unknown> = {};
    return {
      input: (name: string, value: unknown) => {
        inputs[name] = value;
      },
      execute: async (name: string) => {
        this.procedures.push({ name, inputs });
        return { returnValue: this.returnValue };
      },
    };
  }

  get session(): MssqlSession {
    return this as unknown as MssqlSession;
  }
}

/** A driver whose every transaction runs on `session`, recording BEGIN/COMMIT/ROLLBACK among the statements. */
export function fakeDriver(session: FakeSession): SqlDriver<MssqlSession> {
  return {
    checkout: async () => session.session,
    run: (c, sql) => c.run(sql),
    giveBack: () => {},
    loadRows: async () => {},
    close: async () => {},
  };
}

/** A column of a parsed CREATE TABLE or ALTER TABLE ADD/ALTER COLUMN, as the tests compare it. */
export interface ParsedColumn {
  readonly type: string;
  readonly nullable: boolean;
  readonly identity: boolean;
  readonly collate: string | null;
  readonly hasDefault: boolean;
  readonly hasCheck: boolean;
}

interface ColumnNode {
  column: { column: string };
  definition?: { dataType: string; length?: number | string; scale?: number };
  nullable?: { type: string };
  auto_increment?: unknown;
  collate?: { collate: { name: string } };
  default_val?: unknown;
  check?: unknown;
}

function parsedColumn(n: ColumnNode): ParsedColumn {
  const d = n.definition!;
  const args = d.length === undefined ? '' : `(${d.length}${d.scale === undefined ? '' : `,${d.scale}`})`;
  return {
    type: `${d.dataType.toLowerCase()}${args}`,
    nullable: n.nullable?.type !== 'not null',
    identity: n.auto_increment !== undefined,
    collate: n.collate?.collate.name ?? null,
    hasDefault: n.default_val !== undefined,
    hasCheck: n.check !== undefined,
  };
}

/** The columns (by name) and primary-key columns of a parsed CREATE TABLE. */
export function createdTable(ast: unknown): { table: string; columns: Map<string, ParsedColumn>; primaryKey: string[] | null } {
  const stmt = (
    ast as { table: { db: string; table: string }[]; create_definitions: (ColumnNode & { constraint_type?: string; definition: unknown })[] }[]
  )[0]!;
  const columns = new Map<string, ParsedColumn>();
  let primaryKey: string[] | null = null;
  for (const d of stmt.create_definitions) {
    if (d.constraint_type === 'primary key') primaryKey = (d.definition as unknown as { column: string }[]).map((c) => c.column);
    else columns.set(d.column.column, parsedColumn(d));
  }
  return { table: `${stmt.table[0]!.db}.${stmt.table[0]!.table}`, columns, primaryKey };
}

/** The one column an ALTER TABLE … ADD or ALTER COLUMN statement defines. */
export function alteredColumn(ast: unknown): { action: string; name: string; column: ParsedColumn } {
  const expr = (ast as { expr: (ColumnNode & { action: string })[] }[])[0]!.expr[0]!;
  return { action: expr.action, name: expr.column.column, column: parsedColumn(expr) };
}
