import type sql from 'mssql';
import type { MssqlSession } from '../../src/sinks/mssql/mssql-session.js';
import { DESCRIBE_SQL } from '../../src/sinks/mssql/mssql-columns.js';
import { INDEX_COLUMNS_SQL } from '../../src/sinks/mssql/mssql-unique.js';
import { COLUMN_NAMES_SQL } from '../../src/sinks/mssql/mssql-writes.js';
import { parseTsql, splitStatements } from './tsql.js';

/**
 * A model of the data statements ferry's SQL Server sink sends, run over tables held in memory: no
 * SQL Server runs here, so this is what the statements do *if SQL Server behaves as its documentation
 * says* for these shapes: stage DDL, INSERT … VALUES / … SELECT [WHERE NOT EXISTS], DELETE and
 * UPDATE joined to the stage, SELECT … INTO from that join, DELETE TOP (1), an UPDATE through a
 * TOP (1) CTE, the misses count, IDENTITY_INSERT, duplicate keys (2627, 2601) and collation
 * conflicts (468) raised as the server words them, savepoints (SAVE TRANSACTION, ROLLBACK
 * TRANSACTION to one) and what an error does to an open transaction under XACT_ABORT ON or OFF.
 * Anything else throws, so a statement outside the model fails its test instead of passing on a guess.
 *
 * Values are compared by their text (a decimal CAST to its scale, a bigint by its digits), which is
 * what the server's conversions of ferry's text wires amount to for the values the tests use.
 */

type Node = { readonly type?: string; readonly [k: string]: unknown };
type Row = Record<string, unknown>;

export interface ModelTable {
  readonly columns: string[];
  /** Each column's type as the server spells it (what sys.dm_exec_describe_first_result_set answers). */
  readonly types?: Readonly<Record<string, string>>;
  /** Character columns' collations where not the server's default (MODEL_COLLATION). */
  readonly collations?: Readonly<Record<string, string>>;
  readonly identity?: string;
  readonly primaryKey?: readonly string[];
  readonly unique?: readonly { readonly name: string; readonly columns: readonly string[] }[];
  rows: Row[];
}

export interface ModelResult {
  readonly recordsets: Row[][];
  readonly rowsAffected: number[];
}

/** A server error as mssql reports it: the error's number and message. */
export class ModelError extends Error {
  constructor(
    readonly number: number,
    message: string,
  ) {
    super(message);
  }
}

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

/**
 * Errors that abort the batch and end the open transaction whatever XACT_ABORT says: conversion
 * errors. The model's others end only their statement under XACT_ABORT OFF.
 */
const BATCH_ABORTING = new Set([245, 241, 8114]);

/** What mssql answers a request in a transaction the server ended (the connection went back to the pool). */
export const TRANSACTION_ENDED = 'Transaction has not begun. Call begin() first.';

/** CAST as the model knows it: to a decimal's scale, an integer's digits, text, or bytes. */
function cast(v: unknown, target: { dataType: string; scale?: number }): unknown {
  if (v === null || v === undefined) return null;
  const type = target.dataType.toUpperCase();
  if (type === 'DECIMAL' || type === 'NUMERIC') {
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(v));
    if (!m) throw new ModelError(8114, `Error converting data type nvarchar to numeric: ${String(v)}`);
    const scale = target.scale ?? 0;
    const fraction = (m[3] ?? '').padEnd(scale, '0');
    if (/[1-9]/.test(fraction.slice(scale))) throw new Error(`the model does not round: ${String(v)} to scale ${scale}`);
    return `${m[1]}${m[2]}${scale > 0 ? `.${fraction.slice(0, scale)}` : ''}`;
  }
  if (['INT', 'BIGINT', 'SMALLINT', 'TINYINT'].includes(type)) return BigInt(String(v)).toString();
  if (type === 'VARBINARY') return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf16le');
  if (Buffer.isBuffer(v)) throw new Error('the model does not convert binary to text');
  return String(v);
}

/** The server's default collation, which tempdb's tables (the stage) and undeclared character columns get. */
export const MODEL_COLLATION = 'SQL_Latin1_General_CP1_CI_AS';

/** The collation of column `c` of `t` where it holds characters; null for other types. */
function collationOf(t: ModelTable, c: string): string | null {
  return /char|text/i.test(t.types?.[c] ?? '') ? (t.collations?.[c] ?? MODEL_COLLATION) : null;
}

const tableName = (t: Node) => (t.db ? `${String(t.db)}.${String(t.table)}` : String(t.table));

export class TsqlModel {
  readonly tables = new Map<string, ModelTable>();
  /** Tables a foreign key references (`schema.name`): what sys.foreign_keys would list. */
  readonly referenced = new Set<string>();
  /** Every statement run, in order. */
  readonly statements: string[] = [];
  /** The kind of statement each IF ran. */
  readonly branches: string[] = [];
  #identityInsert: string | null = null;
  #saved: Map<string, ModelTable> | null = null;
  /** The session's XACT_ABORT: ON, as tedious sets it at login for the sink (mssql-sink.ts). */
  #xactAbort = true;
  /** The open transaction's savepoints, oldest first, with the tables as they were. */
  #savepoints: { name: string; tables: Map<string, ModelTable> }[] = [];
  /** Whether the server ended the open transaction on an error: its session's further requests fail. */
  ended = false;

  define(name: string, table: Omit<ModelTable, 'rows'> & { rows?: Row[] }): void {
    this.tables.set(name, { ...table, rows: table.rows ?? [] });
  }

  /** What sys.dm_exec_describe_first_result_set answers for `SELECT * FROM [schema].[name]`. */
  describe(select: string): Row[] {
    const m = /^SELECT \* FROM \[(.*)\]\.\[(.*)\]$/.exec(select);
    const t = m ? this.tables.get(`${m[1]}.${m[2]}`) : undefined;
    if (!t) return [{ name: null, system_type_name: null, is_identity_column: null, error_message: `Invalid object name '${select}'.` }];
    return t.columns.map((c) => ({
      name: c,
      system_type_name: t.types?.[c] ?? 'int',
      is_identity_column: t.identity === c,
      collation_name: collationOf(t, c),
      error_message: null,
    }));
  }

  /** What the catalog queries ferry sends answer (parameters `p1…`), or null for any other statement. */
  catalog(statement: string, params: Row): Row[] | null {
    const table = () => String(params.p1).replace(/^\[(.*)\]\.\[(.*)\]$/, '$1.$2');
    if (statement === DESCRIBE_SQL) return this.describe(String(params.p1));
    if (statement === COLUMN_NAMES_SQL) return (this.tables.get(table())?.columns ?? []).map((name) => ({ name }));
    if (statement === INDEX_COLUMNS_SQL) {
      const index = this.tables.get(table())?.unique?.find((u) => u.name === params.p2);
      return (index?.columns ?? []).map((name) => ({ name }));
    }
    return null;
  }

  rows(name: string): Row[] {
    return this.#table(name).rows;
  }

  #table(name: string): ModelTable {
    const t = this.tables.get(name);
    if (!t) throw new ModelError(208, `Invalid object name '${name}'.`);
    return t;
  }

  #copy(): Map<string, ModelTable> {
    return new Map([...this.tables].map(([k, t]) => [k, { ...t, rows: t.rows.map((r) => ({ ...r })) }]));
  }

  #restore(tables: Map<string, ModelTable>): void {
    this.tables.clear();
    for (const [k, t] of tables) this.tables.set(k, t);
  }

  begin(): void {
    this.#saved = this.#copy();
    this.ended = false;
  }

  end(commit: boolean): void {
    if (!commit && this.#saved) this.#restore(this.#saved);
    this.#saved = null;
    this.#savepoints = [];
  }

  /**
   * Runs `batch`. In a transaction, a server error (ModelError) ends it under XACT_ABORT ON, as a
   * batch-aborting error does under OFF; any other under OFF undoes its own statement only, and the
   * batch goes on (the request fails with the first error at its end).
   */
  run(batch: string, params: Row = {}): ModelResult {
    const texts = splitStatements(batch);
    const trees = parseTsql(batch);
    const recordsets: Row[][] = [];
    const rowsAffected: number[] = [];
    let failed: ModelError | null = null;
    texts.forEach((statement, i) => {
      this.statements.push(statement);
      const tree = trees[i] as Node | Node[];
      const ast = (Array.isArray(tree) ? tree[0] : tree) as Node;
      const before = this.#saved && !this.#xactAbort ? this.#copy() : null;
      try {
        if ('gap' in ast) return this.#gap(statement);
        const out = this.#statement(ast, params);
        if (out.recordset) recordsets.push(out.recordset);
        if (out.affected !== undefined) rowsAffected.push(out.affected);
      } catch (err) {
        if (!(err instanceof ModelError) || !this.#saved) throw err;
        if (!before || BATCH_ABORTING.has(err.number)) {
          this.end(false);
          this.ended = true;
          throw err;
        }
        this.#restore(before);
        failed ??= err;
      }
    });
    if (failed) throw failed;
    return { recordsets, rowsAffected };
  }

  #gap(statement: string): void {
    const savepoint = /^(SAVE|ROLLBACK) TRANSACTION \[(.*)\]$/.exec(statement);
    if (savepoint) {
      this.#savepoint(savepoint[1] as 'SAVE' | 'ROLLBACK', savepoint[2]!);
      return;
    }
    const m = /^SET IDENTITY_INSERT \[(.*)\]\.\[(.*)\] (ON|OFF)$/.exec(statement);
    if (!m) throw new Error(`unmodelled: ${statement}`);
    const name = `${m[1]}.${m[2]}`;
    if (!this.#table(name).identity) throw new ModelError(8106, `Table '${name}' does not have the identity property. Cannot perform SET operation.`);
    if (m[3] === 'OFF') {
      if (this.#identityInsert === name) this.#identityInsert = null;
      return;
    }
    if (this.#identityInsert && this.#identityInsert !== name) {
      throw new ModelError(8107, `IDENTITY_INSERT is already ON for table '${this.#identityInsert}'. Cannot perform SET operation for table '${name}'.`);
    }
    this.#identityInsert = name;
  }

  /** SAVE TRANSACTION marks the tables as they are; ROLLBACK TRANSACTION puts back the latest mark of that name, and drops the marks after it. */
  #savepoint(verb: 'SAVE' | 'ROLLBACK', name: string): void {
    if (!this.#saved) throw new ModelError(verb === 'SAVE' ? 628 : 3903, `The ${verb} TRANSACTION request has no corresponding BEGIN TRANSACTION.`);
    if (verb === 'SAVE') {
      this.#savepoints.push({ name, tables: this.#copy() });
      return;
    }
    const at = this.#savepoints.map((p) => p.name).lastIndexOf(name);
    if (at < 0) throw new ModelError(6401, `Cannot roll back ${name}. No transaction or savepoint of that name was found.`);
    this.#restore(this.#savepoints[at]!.tables);
    this.#savepoints = this.#savepoints.slice(0, at + 1);
    this.#savepoints[at] = { name, tables: this.#copy() };
  }

  #statement(ast: Node, params: Row): { recordset?: Row[]; affected?: number } {
    switch (ast.type) {
      case 'drop': {
        const name = tableName((ast.name as Node[])[0]!);
        if (!this.tables.has(name) && ast.prefix !== 'if exists') throw new ModelError(3701, `Cannot drop the table '${name}'`);
        this.tables.delete(name);
        return {};
      }
      case 'create': {
        const name = tableName((ast.table as Node[])[0]!);
        if (this.tables.has(name)) throw new ModelError(2714, `There is already an object named '${name}' in the database.`);
        const definitions = (ast.create_definitions as Node[]).map((d) => ({
          name: String((d.column as Node).column),
          type: String((d.definition as Node).dataType).toLowerCase(),
          collation: ((d.collate as Node | undefined)?.collate as { name?: string } | undefined)?.name,
        }));
        const columns = definitions.map((d) => d.name);
        const types = Object.fromEntries(definitions.map((d) => [d.name, d.type]));
        const collations = Object.fromEntries(definitions.flatMap((d) => (d.collation ? [[d.name, d.collation]] : [])));
        this.tables.set(name, { columns, types, collations, rows: [] });
        return {};
      }
      case 'insert':
        return { affected: this.#insert(ast, params) };
      case 'delete':
        return { affected: this.#delete(ast, params) };
      case 'update':
        return { affected: this.#update(ast, params) };
      case 'select':
        if (!(ast.into as Node | null)?.expr) return { recordset: this.#select(ast, params) };
        this.#selectInto(ast, params);
        return {};
      case 'truncate':
        this.#table(tableName((ast.name as Node[])[0]!)).rows = [];
        return {};
      case 'set': {
        const [assign] = ast.expr as { left: { value: string }; right: { name: { name: { value: string }[] } } }[];
        if (assign?.left.value.toUpperCase() !== 'XACT_ABORT') throw new Error('unmodelled SET');
        this.#xactAbort = assign.right.name.name[0]!.value.toUpperCase() === 'ON';
        return {};
      }
      case 'if': {
        const branch = (this.#referencing(ast.boolean_expr as Node) ? ast.if_expr : ast.else_expr) as { ast: Node };
        this.branches.push(String(branch.ast.type));
        return this.#statement(branch.ast, params);
      }
      default:
        throw new Error(`unmodelled statement: ${String(ast.type)}`);
    }
  }

  /** `EXISTS (SELECT 1 FROM sys.foreign_keys WHERE referenced_object_id = OBJECT_ID(N'[s].[t]'))`, the one IF the sink sends. */
  #referencing(e: Node): boolean {
    const sub = (e.args as { value: { ast: Node }[] }).value[0]!.ast;
    if (tableName((sub.from as Node[])[0]!) !== 'sys.foreign_keys') throw new Error('unmodelled IF');
    const named = (((sub.where as Node).right as Node).args as { value: Node[] }).value[0]!.value as string;
    return this.referenced.has(named.replace(/^\[(.*)\]\.\[(.*)\]$/, '$1.$2'));
  }

  #eval(e: Node, env: Readonly<Record<string, Row | undefined>>, params: Row): unknown {
    switch (e.type) {
      case 'number':
        return e.value;
      case 'null':
        return null;
      case 'single_quote_string':
        return e.value;
      case 'column_ref': {
        const column = String(e.column);
        if (column.startsWith('@')) {
          const key = column.slice(1);
          if (!(key in params)) throw new Error(`no parameter ${column}`);
          return params[key];
        }
        const row = env[String(e.table ?? '')];
        if (!row || !(column in row)) throw new Error(`unknown column ${String(e.table ?? '')}.${column}`);
        return row[column];
      }
      case 'cast':
        return cast(this.#eval(e.expr as Node, env, params), (e.target as { dataType: string; scale?: number }[])[0]!);
      default:
        throw new Error(`unmodelled expression: ${String(e.type)}`);
    }
  }

  #test(e: Node, env: Readonly<Record<string, Row | undefined>>, params: Row): boolean {
    if (e.type === 'binary_expr') {
      const op = String(e.operator).toUpperCase();
      if (op === 'AND') return this.#test(e.left as Node, env, params) && this.#test(e.right as Node, env, params);
      if (op === 'OR') return this.#test(e.left as Node, env, params) || this.#test(e.right as Node, env, params);
      if (op === '=') this.#collation(e.left as Node, e.right as Node, env);
      const left = text(this.#eval(e.left as Node, env, params));
      if (op === 'IS') return left === null;
      const right = text(this.#eval(e.right as Node, env, params));
      if (op === '=') return left !== null && right !== null && left === right;
    }
    if (e.type === 'unary_expr' && e.operator === 'NOT EXISTS') {
      const sub = (e.expr as { ast: Node }).ast;
      const from = (sub.from as Node[])[0]!;
      const alias = String(from.as);
      return !this.#table(tableName(from)).rows.some((r) => this.#test(sub.where as Node, { ...env, [alias]: r }, params));
    }
    throw new Error(`unmodelled predicate: ${JSON.stringify(e).slice(0, 200)}`);
  }

  /**
   * Refuses `=` between character columns of two collations, neither named by a COLLATE clause (both
   * implicit: error 468), as the server does; a parameter, a CAST or a COLLATE clause resolves it.
   */
  #collation(left: Node, right: Node, env: Readonly<Record<string, Row | undefined>>): void {
    const implicit = (e: Node): string | null => {
      if (e.type !== 'column_ref' || e.collate || String(e.column).startsWith('@')) return null;
      const row = env[String(e.table ?? '')];
      const owner = row ? [...this.tables.values()].find((t) => t.rows.includes(row)) : undefined;
      return owner ? collationOf(owner, String(e.column)) : null;
    };
    const [a, b] = [implicit(left), implicit(right)];
    if (a && b && a !== b) throw new ModelError(468, `Cannot resolve the collation conflict between "${a}" and "${b}" in the equal to operation.`);
  }

  /** The stage's rows joined to `target`'s by `on`: each target row with the first stage row it matches. */
  #joined(target: ModelTable, from: readonly Node[], params: Row): { row: Row; staged: Row }[] {
    const [t, s] = from;
    if (!t || !s || s.join !== 'INNER JOIN') throw new Error('unmodelled: a join other than target INNER JOIN stage');
    const stage = this.#table(tableName(s));
    return target.rows.flatMap((row) => {
      const staged = stage.rows.find((st) => this.#test(s.on as Node, { [String(t.as)]: row, [String(s.as)]: st }, params));
      return staged ? [{ row, staged }] : [];
    });
  }

  #insert(ast: Node, params: Row): number {
    const name = tableName((ast.table as Node[])[0]!);
    const target = this.#table(name);
    const columns = ast.columns as string[];
    if (target.identity && columns.includes(target.identity) && this.#identityInsert !== name) {
      throw new ModelError(544, `Cannot insert explicit value for identity column in table '${name}' when IDENTITY_INSERT is set to OFF.`);
    }
    const values = ast.values as Node;
    let rows: unknown[][];
    if (values.type === 'values') {
      rows = (values.values as Node[]).map((tuple) => (tuple.value as Node[]).map((e) => this.#eval(e, {}, params)));
    } else {
      const from = (values.from as Node[])[0]!;
      const alias = String(from.as);
      rows = this.#table(tableName(from))
        .rows.filter((st) => !values.where || this.#test(values.where as Node, { [alias]: st }, params))
        .map((st) => (values.columns as Node[]).map((c) => this.#eval(c.expr as Node, { [alias]: st }, params)));
    }
    for (const values of rows) {
      const row = Object.fromEntries(target.columns.map((c) => [c, null])) as Row;
      columns.forEach((c, i) => {
        if (!target.columns.includes(c)) throw new ModelError(207, `Invalid column name '${c}'.`);
        row[c] = values[i];
      });
      target.rows.push(row);
    }
    this.#checkKeys(name, target);
    return rows.length;
  }

  #delete(ast: Node, params: Row): number {
    const from = ast.from as Node[];
    const top = (ast.table as Node[])[0]!;
    const target = this.#table(tableName(from[0]!));
    const matching = () => target.rows.filter((r) => !ast.where || this.#test(ast.where as Node, { '': r }, params));
    const doomed = from.length > 1 ? this.#joined(target, from, params).map((j) => j.row) : top.type === 'expr' ? matching().slice(0, 1) : matching();
    target.rows = target.rows.filter((r) => !doomed.includes(r));
    return doomed.length;
  }

  #update(ast: Node, params: Row): number {
    const set = ast.set as { column: string; value: Node }[];
    let name: string;
    let hits: { row: Row; env: Record<string, Row | undefined> }[];
    if (ast.with) {
      const cte = ((ast.with as Node[])[0]!.stmt as { ast: Node }).ast;
      name = tableName((cte.from as Node[])[0]!);
      const limit = (cte.top as { value: number } | null)?.value ?? Number.POSITIVE_INFINITY;
      hits = this.#table(name)
        .rows.filter((r) => this.#test(cte.where as Node, { '': r }, params))
        .slice(0, limit)
        .map((row) => ({ row, env: { '': row } }));
    } else {
      const from = ast.from as Node[];
      name = tableName(from[0]!);
      hits = this.#joined(this.#table(name), from, params).map((j) => ({ row: j.row, env: { [String(from[0]!.as)]: j.row, [String(from[1]!.as)]: j.staged } }));
    }
    const target = this.#table(name);
    for (const s of set) {
      if (s.column === target.identity) throw new ModelError(8102, `Cannot update identity column '${s.column}'.`);
    }
    const changes = hits.map((h) => ({ row: h.row, values: set.map((s) => this.#eval(s.value, h.env, params)) }));
    for (const c of changes) set.forEach((s, i) => (c.row[s.column] = c.values[i]));
    this.#checkKeys(name, target);
    return hits.length;
  }

  #select(ast: Node, params: Row): Row[] {
    const from = (ast.from as Node[])[0]!;
    const alias = String(from.as);
    const rows = this.#table(tableName(from)).rows.filter((st) => !ast.where || this.#test(ast.where as Node, { [alias]: st }, params));
    const out: Row = {};
    for (const c of ast.columns as { expr: Node; as: string }[]) {
      const f = c.expr;
      if (f.type !== 'aggr_func') throw new Error('unmodelled select: aggregates only');
      if (f.name === 'COUNT') out[c.as] = rows.length;
      else if (f.name === 'MIN') {
        const values = rows.map((r) => Number(this.#eval((f.args as { expr: Node }).expr, { [alias]: r }, params)));
        out[c.as] = values.length ? Math.min(...values) : null;
      } else throw new Error(`unmodelled aggregate ${String(f.name)}`);
    }
    return [out];
  }

  /** `SELECT … INTO #t FROM target AS t INNER JOIN stage AS s ON …`: a new table of the joined rows' columns. */
  #selectInto(ast: Node, params: Row): void {
    const name = String((ast.into as Node).expr);
    if (this.tables.has(name)) throw new ModelError(2714, `There is already an object named '${name}' in the database.`);
    const from = ast.from as Node[];
    const selected = ast.columns as { expr: Node; as: string }[];
    const rows = this.#joined(this.#table(tableName(from[0]!)), from, params).map((j) => {
      const env = { [String(from[0]!.as)]: j.row, [String(from[1]!.as)]: j.staged };
      return Object.fromEntries(selected.map((c) => [c.as, this.#eval(c.expr, env, params)]));
    });
    this.tables.set(name, { columns: selected.map((c) => c.as), rows });
  }

  /** A duplicate in the primary key or a unique index, worded as SQL Server words it. */
  #checkKeys(name: string, t: ModelTable): void {
    const keys = [
      ...(t.primaryKey ? [{ name: `PK_${name}`, columns: t.primaryKey, constraint: true }] : []),
      ...(t.unique ?? []).map((u) => ({ ...u, constraint: false })),
    ];
    for (const k of keys) {
      const seen = new Set<string>();
      for (const r of t.rows) {
        const v = k.columns.map((c) => text(r[c]) ?? '<NULL>').join(', ');
        if (seen.has(v)) {
          throw k.constraint
            ? new ModelError(
                2627,
                `Violation of PRIMARY KEY constraint '${k.name}'. Cannot insert duplicate key in object '${name}'. The duplicate key value is (${v}).`,
              )
            : new ModelError(2601, `Cannot insert duplicate key row in object '${name}' with unique index '${k.name}'. The duplicate key value is (${v}).`);
        }
        seen.add(v);
      }
    }
  }
}

/** A request as mssql's, on the model: parameters by name, query, and bulk loads into the stage. */
class ModelRequest {
  readonly params: Row = {};
  arrayRowMode = false;
  readonly #model: TsqlModel;
  readonly #bulks: { table: sql.Table; options: sql.IBulkOptions }[];
  /** A request of the session's transaction (not the pool's): it fails once the server ended that transaction. */
  readonly #inTransaction: boolean;

  constructor(model: TsqlModel, bulks: { table: sql.Table; options: sql.IBulkOptions }[], inTransaction = false) {
    this.#model = model;
    this.#bulks = bulks;
    this.#inTransaction = inTransaction;
  }

  #assertOpen(): void {
    if (this.#inTransaction) assertNotEnded(this.#model);
  }

  input(name: string, ...typeAndValue: unknown[]): this {
    this.params[name] = typeAndValue[typeAndValue.length - 1];
    return this;
  }

  async query(statement: string): Promise<sql.IResult<unknown>> {
    this.#assertOpen();
    const catalog = this.#model.catalog(statement, this.params);
    const result = catalog ? { recordsets: [catalog], rowsAffected: [] } : this.#model.run(statement, this.params);
    const recordsets = this.arrayRowMode ? result.recordsets.map((set) => set.map((r) => Object.values(r))) : result.recordsets;
    return { recordsets, recordset: recordsets[0], rowsAffected: result.rowsAffected, output: {} } as unknown as sql.IResult<unknown>;
  }

  async bulk(table: sql.Table, options: sql.IBulkOptions): Promise<sql.IBulkResult> {
    this.#assertOpen();
    this.#bulks.push({ table, options });
    const name = String(table.name);
    const stage = this.#model.tables.get(name);
    if (!stage) throw new ModelError(4860, `Cannot bulk load. The table '${name}' does not exist.`);
    const names = table.columns.map((c) => String(c.name).replace(/]]/g, ']'));
    if (names.join('\u0000') !== stage.columns.join('\u0000'))
      throw new Error(`the bulk load's columns ${names.join(', ')} are not the stage's ${stage.columns.join(', ')}`);
    for (const values of table.rows) stage.rows.push(Object.fromEntries(names.map((n, i) => [n, values[i]])));
    return { rowsAffected: table.rows.length };
  }

  cancel(): void {}
}

/** mssql's failure of a request in a transaction the server ended. */
function assertNotEnded(model: TsqlModel): void {
  if (model.ended) throw Object.assign(new Error(TRANSACTION_ENDED), { name: 'TransactionError', code: 'ENOTBEGUN' });
}

/** A pool (its requests) on the model: what the writes read outside the failed transaction. */
export function modelPool(model: TsqlModel): sql.ConnectionPool {
  return { request: () => new ModelRequest(model, []) } as unknown as sql.ConnectionPool;
}

/**
 * A sink session (mssql-session.ts) on the model; `bulks` records each bulk load, and `answer` answers
 * the parameterized statements the model does not run (null: run them on the model).
 */
export function modelSession(
  model: TsqlModel,
  bulks: { table: sql.Table; options: sql.IBulkOptions }[] = [],
  answer: (statement: string, params: readonly unknown[]) => Row[] | null = () => null,
): MssqlSession {
  let open = false;
  const session = {
    async run(statement: string) {
      if (statement === 'BEGIN' || statement === 'COMMIT' || statement === 'ROLLBACK') model.statements.push(statement);
      if (statement === 'BEGIN') {
        model.begin();
        open = true;
      } else if (statement === 'COMMIT' || statement === 'ROLLBACK') {
        if (open) model.end(statement === 'COMMIT');
        open = false;
      } else {
        if (open) assertNotEnded(model);
        model.run(statement);
      }
    },
    request: () => new ModelRequest(model, bulks, open),
    async query(statement: string, params: readonly unknown[] = []) {
      if (open) assertNotEnded(model);
      const named = Object.fromEntries(params.map((p, i) => [`p${i + 1}`, p]));
      const answered = answer(statement, params);
      if (answered) {
        model.statements.push(statement);
        return answered;
      }
      return model.catalog(statement, named) ?? model.run(statement, named).recordsets[0] ?? [];
    },
    get inTransaction() {
      return open;
    },
  };
  return session as unknown as MssqlSession;
}
