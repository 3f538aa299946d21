import sql from 'mssql';
import { describe, expect, it, vi } from 'vitest';
import type { Checkpoint } from '../../src/core/checkpoint.js';
import { DEAD_LETTER_COLUMNS, deadLetterId, deadLetterValues } from '../../src/core/dead-letter.js';
import {
  ASSERT_OWNER_SQL,
  CLAIM_SQL,
  CLEAR_PROGRESS_SQL,
  DEAD_LETTER_COUNTS_SQL,
  ENSURE_SQL,
  ensureMssqlCheckpointTables,
  LOCK_PARTITION_SQL,
  type MssqlStatements,
  mssqlCheckpointStore,
  READ_CHECKPOINT_SQL,
  READ_DEAD_LETTERS_SQL,
  READ_PROGRESS_SQL,
  WRITE_CHECKPOINT_SQL,
  WRITE_DEAD_LETTER_SQL,
  WRITE_PARTITION_SQL,
  WRITE_PROGRESS_SQL,
} from '../../src/checkpoint/mssql-checkpoint-table.js';
import { HOLDS_LOCK_SQL, lockResource, MssqlPipelineLock } from '../../src/checkpoint/mssql-pipeline-lock.js';
import { parseTsql } from '../helpers/tsql.js';

type Node = { readonly [k: string]: unknown };
const trees = (statement: string) => parseTsql(statement).map((t) => (Array.isArray(t) ? t[0] : t) as Node);
const text = (e: Node): string => {
  if (e.type === 'binary_expr') return `${text(e.left as Node)} ${String(e.operator)} ${text(e.right as Node)}`;
  if (e.type === 'column_ref') return String(e.column);
  return String(e.value ?? e.type);
};
const hints = (from: Node) => ((from.table_hint as { expr: { expr: { value: string } }[] } | null)?.expr ?? []).map((h) => h.expr.value);

/** Statements on a session that answers each statement with `answer(sql)` and records what ran. */
function session(answer: (statement: string) => Record<string, unknown>[] = () => []) {
  const ran: { sql: string; params: readonly unknown[] }[] = [];
  const c: MssqlStatements & { run(statement: string): Promise<void> } = {
    async query<T>(statement: string, params: readonly unknown[] = []) {
      ran.push({ sql: statement, params });
      return answer(statement) as T[];
    },
    async run(statement: string) {
      ran.push({ sql: statement, params: [] });
    },
  };
  return { c, ran };
}

const at = (pos: number) => ({ kind: 'mysql' as const, file: 'bin.000001', pos });

describe("ferry's tables on SQL Server", () => {
  it('creates the ferry schema and its four tables only where missing, and the columns a checkpoint table made by an older ferry lacks', () => {
    for (const statement of ENSURE_SQL) expect(() => parseTsql(statement), statement).not.toThrow();
    expect(ENSURE_SQL[0]).toBe("IF SCHEMA_ID(N'ferry') IS NULL EXEC(N'CREATE SCHEMA [ferry]')");
    expect(ENSURE_SQL.map((s) => /^IF OBJECT_ID\(N'(.*?)', N'U'\) IS NULL CREATE TABLE /.exec(s)?.[1]).filter(Boolean)).toEqual([
      '[ferry].[ferry_checkpoint]',
      '[ferry].[ferry_snapshot_progress]',
      '[ferry].[ferry_kafka_offsets]',
      '[ferry].[ferry_dead_letters]',
    ]);
    expect(ENSURE_SQL[1]).toMatch(/\[holds\] nvarchar\(max\) NULL/);
    expect(ENSURE_SQL[2]).toBe(
      "IF COL_LENGTH(N'[ferry].[ferry_checkpoint]', N'holds') IS NULL ALTER TABLE [ferry].[ferry_checkpoint] ADD [holds] nvarchar(max) NULL",
    );
    expect(ENSURE_SQL[3]).toMatch(/\[row_count\] bigint NOT NULL/);
    expect(ENSURE_SQL[4]).toMatch(/PRIMARY KEY \(\[pipeline\], \[topic\], \[partition\]\)/);
    expect(ENSURE_SQL[5]).toMatch(/CONSTRAINT \[ferry_dead_letters_letter_id_key\] UNIQUE \(\[letter_id\]\)/);
  });

  it('runs the statements again when another process created one of the tables between its check and the CREATE', async () => {
    let failed = false;
    const ran: string[] = [];
    await ensureMssqlCheckpointTables({
      async run(statement) {
        ran.push(statement);
        if (statement === ENSURE_SQL[3] && !failed) {
          failed = true;
          throw Object.assign(new Error("There is already an object named 'ferry_snapshot_progress' in the database."), { number: 2714 });
        }
      },
    });
    expect(ran).toEqual([...ENSURE_SQL.slice(0, 4), ...ENSURE_SQL]);
    await expect(
      ensureMssqlCheckpointTables({
        run: async () => {
          throw Object.assign(new Error('CREATE TABLE permission denied'), { number: 262 });
        },
      }),
    ).rejects.toThrow(/permission denied/);
  });

  it('writes the checkpoint row only while this process owns it, and reads back the owner to know it did', async () => {
    const [update, insert, select] = trees(WRITE_CHECKPOINT_SQL);
    expect(text(update!.where as Node)).toBe('pipeline = @p1 AND owner = @p5');
    expect((update!.set as { column: string }[]).map((s) => s.column)).toEqual(['phase', 'position', 'tables', 'overlap_end', 'holds', 'updated_at']);
    const notExists = ((insert!.values as Node).where as Node).expr as { ast: Node };
    expect(hints((notExists.ast.from as Node[])[0]!)).toEqual(['UPDLOCK', 'HOLDLOCK']);
    expect(text(notExists.ast.where as Node)).toBe('pipeline = @p1');
    expect(select!.type).toBe('select');

    const mine = session(() => [{ owner: 'me' }]);
    const store = mssqlCheckpointStore({} as sql.ConnectionPool, 'p', 'me');
    const checkpoint: Checkpoint = { phase: 'stream', position: at(4), overlapEnd: at(9) };
    await store.write(mine.c, checkpoint);
    expect(mine.ran[0]!.params).toEqual([
      'p',
      'stream',
      JSON.stringify({ kind: 'mysql', file: 'bin.000001', pos: 4 }),
      null,
      'me',
      JSON.stringify({ kind: 'mysql', file: 'bin.000001', pos: 9 }),
      null,
    ]);
    const theirs = session(() => [{ owner: 'them' }]);
    await expect(store.write(theirs.c, checkpoint)).rejects.toThrow(/another ferry process took over pipeline p/);
  });

  it('fences chunk loads by the owner, share-locking the row to the end of the transaction', async () => {
    const [select] = trees(ASSERT_OWNER_SQL);
    expect(hints((select!.from as Node[])[0]!)).toEqual(['HOLDLOCK', 'ROWLOCK']);
    const store = mssqlCheckpointStore({} as sql.ConnectionPool, 'p', 'me');
    await expect(store.assertOwner(session(() => [{ owner: 'me' }]).c)).resolves.toBeUndefined();
    await expect(store.assertOwner(session(() => [{ owner: 'them' }]).c)).rejects.toThrow(/took over pipeline p/);
    await expect(store.assertOwner(session(() => []).c)).rejects.toThrow(/took over pipeline p/);
  });

  it('writes snapshot progress per table (update, else insert) and clears it', async () => {
    const [update, insert] = trees(WRITE_PROGRESS_SQL);
    expect(text(update!.where as Node)).toBe('pipeline = @p1 AND table_name = @p2');
    expect(insert!.columns).toEqual(['pipeline', 'table_name', 'last_key', 'row_count', 'done', 'position', 'updated_at']);
    const missing = ((insert!.values as Node).where as Node).expr as { ast: Node };
    expect(text(missing.ast.where as Node)).toBe('pipeline = @p1 AND table_name = @p2');
    expect(hints((missing.ast.from as Node[])[0]!)).toEqual([]); // one writer per table: no key-range locks to deadlock on
    expect(text(trees(CLEAR_PROGRESS_SQL)[0]!.where as Node)).toBe('pipeline = @p1');
    const s = session();
    const store = mssqlCheckpointStore({} as sql.ConnectionPool, 'p', 'me');
    await store.writeProgress(s.c, { table: 'app.items', lastKey: { id: Buffer.from([1]) }, rows: 10, done: false, position: at(1) });
    expect(s.ran[0]!.params.slice(0, 5)).toEqual(['p', 'app.items', '{"id":{"$hex":"01"}}', 10, false]);
  });

  it('locks a Kafka partition’s row, made when missing, and keeps offsets beyond 2^53 exact', async () => {
    const [insert, select] = trees(LOCK_PARTITION_SQL);
    expect(hints((select!.from as Node[])[0]!)).toEqual(['UPDLOCK', 'HOLDLOCK']);
    expect(insert!.columns).toEqual(['pipeline', 'topic', 'partition', 'next_offset', 'updated_at']);
    const store = mssqlCheckpointStore({} as sql.ConnectionPool, 'p', 'me');
    expect(await store.lockPartition(session(() => [{ next_offset: '9007199254740993' }]).c, 'orders', 3)).toBe(9007199254740993n);
    const s = session();
    await store.writePartition(s.c, 'orders', 3, 9007199254740995n);
    expect(s.ran[0]!.params).toEqual(['p', 'orders', 3, '9007199254740995']);
    expect(WRITE_PARTITION_SQL).toContain('CAST(@p4 AS bigint)');
  });

  it('every statement is valid T-SQL', () => {
    for (const statement of [READ_CHECKPOINT_SQL, CLAIM_SQL, READ_PROGRESS_SQL, WRITE_PARTITION_SQL, HOLDS_LOCK_SQL])
      expect(() => parseTsql(statement), statement).not.toThrow();
  });
});

describe('the pipeline lock', () => {
  it('names one application lock per pipeline, within sp_getapplock’s 255 characters', () => {
    expect(lockResource('orders')).toBe(lockResource('orders'));
    expect(lockResource('orders')).not.toBe(lockResource('orders2'));
    expect(lockResource('x'.repeat(10_000)).length).toBeLessThanOrEqual(255);
  });

  it('hears the errors of its connection while idle, which unheard would end the process', async () => {
    const pools: sql.ConnectionPool[] = [];
    const connect = vi.spyOn(sql.ConnectionPool.prototype, 'connect').mockImplementation(function (this: sql.ConnectionPool) {
      pools.push(this);
      return Promise.reject(new Error('no server here'));
    });
    try {
      await expect(new MssqlPipelineLock('mssql://ferry:pw@127.0.0.1:1/mart', 'p').acquire()).rejects.toThrow(/no server here/);
      expect(pools).toHaveLength(1);
      expect(() => pools[0]!.emit('error', new Error("No event 'socketEnd' in state 'SentClientRequest'"))).not.toThrow();
    } finally {
      connect.mockRestore();
    }
  });
});

describe('dead letters on SQL Server', () => {
  const letter = {
    table: 'shop.orders',
    key: { id: 7 },
    operation: 'insert' as const,
    position: at(42),
    reason: 'check' as const,
    code: '547',
    message: 'The INSERT statement conflicted with the CHECK constraint "qty_positive".',
    row: { id: 7, qty: -1 },
  };

  it('stores a letter once: inserted only where its letter_id is missing, under a key-range lock', async () => {
    const [insert] = trees(WRITE_DEAD_LETTER_SQL);
    expect(insert!.columns).toEqual([...DEAD_LETTER_COLUMNS.split(', '), 'dead_lettered_at']);
    const missing = ((insert!.values as Node).where as Node).expr as { ast: Node };
    expect(hints((missing.ast.from as Node[])[0]!)).toEqual(['UPDLOCK', 'HOLDLOCK']);
    expect(text(missing.ast.where as Node)).toBe('letter_id = @p1');
    const s = session();
    await mssqlCheckpointStore({} as sql.ConnectionPool, 'p', 'me').writeDeadLetter(s.c, letter);
    expect(s.ran).toEqual([{ sql: WRITE_DEAD_LETTER_SQL, params: deadLetterValues('p', letter) }]);
    expect(s.ran[0]!.params[0]).toBe(deadLetterId('p', letter));
  });

  it('counts the letters not replayed per table, and reads the last ones oldest first with ISO times', async () => {
    expect(text(trees(DEAD_LETTER_COUNTS_SQL)[0]!.where as Node)).toBe('pipeline = @p1 AND replayed_at IS null');
    const [read] = trees(READ_DEAD_LETTERS_SQL);
    expect(read!.type).toBe('select');
    expect(READ_DEAD_LETTERS_SQL).toMatch(/^SELECT TOP \(@p2\) .* ORDER BY \[id\] DESC$/);
    const stored = (id: number) => ({
      id: String(id),
      table_name: 'shop.orders',
      row_key: '{"id":7}',
      operation: 'insert',
      position: '{"kind":"mysql","file":"bin.000001","pos":42}',
      error_class: 'check',
      error_code: '547',
      error_message: 'conflicted',
      row_image: '{"id":7,"qty":-1}',
      dead_lettered_at: '2026-12-04T10:00:00.123456Z',
      replayed_at: null,
    });
    const pool = {
      request: () => {
        const params: Record<string, unknown> = {};
        const request = {
          input(name: string, value: unknown) {
            params[name] = value;
            return request;
          },
          query: async (statement: string) => ({
            recordset: statement === DEAD_LETTER_COUNTS_SQL ? [{ table_name: 'shop.orders', n: '2' }] : [stored(9), stored(8)].slice(0, Number(params.p2)),
          }),
        };
        return request;
      },
    } as unknown as sql.ConnectionPool;
    const store = mssqlCheckpointStore(pool, 'p', 'me');
    expect(await store.deadLetterCounts()).toEqual(new Map([['shop.orders', 2]]));
    const read2 = await store.readDeadLetters(2);
    expect(read2.map((l) => l.id)).toEqual([8, 9]);
    expect(read2[0]).toMatchObject({
      key: { id: 7 },
      row: { id: 7, qty: -1 },
      reason: 'check',
      deadLetteredAt: '2026-12-04T10:00:00.123456Z',
      replayedAt: null,
    });
  });

  it('reads none before ferry created its tables (a read-only command on a fresh target)', async () => {
    const pool = {
      request: () => ({
        input() {
          return this;
        },
        query: async () => {
          throw Object.assign(new Error("Invalid object name 'ferry.ferry_dead_letters'."), { number: 208 });
        },
      }),
    } as unknown as sql.ConnectionPool;
    const store = mssqlCheckpointStore(pool, 'p', 'me');
    expect(await store.deadLetterCounts()).toEqual(new Map());
    expect(await store.readDeadLetters(10)).toEqual([]);
  });
});
