import { describe, expect, it } from 'vitest';
import { deadLetterId, rowJson, type DeadLetter } from '../../src/core/dead-letter.js';
import { coerceError, FerryError } from '../../src/core/errors.js';
import type { TableSchema } from '../../src/core/schema.js';
import { targetRejection } from '../../src/core/target-rejection.js';
import { missingRow, uniqueViolation } from '../../src/sinks/target-divergence.js';

/** A Postgres error as pg gives it: the SQLSTATE in `code`. */
const pg = (code: string, message = 'refused') => Object.assign(new Error(message), { code, severity: 'ERROR' });
/** A MySQL/MariaDB error as mysql2 gives it: a name in `code`, the number in `errno`. */
const my = (errno: number, code: string, message = 'refused') => Object.assign(new Error(message), { errno, code, sqlState: 'HY000', sqlMessage: message });
const t = { target: { schema: 's', name: 't' }, primaryKey: ['id'] } as unknown as TableSchema;

describe('targetRejection: a row the target refuses for its values', () => {
  it('Postgres: constraints and data exceptions, each with its reason', () => {
    expect(targetRejection(pg('23505', 'duplicate key value'))).toEqual({ reason: 'unique', code: '23505', message: 'duplicate key value' });
    expect(targetRejection(pg('23502'))?.reason).toBe('not-null');
    expect(targetRejection(pg('23514'))?.reason).toBe('check');
    expect(targetRejection(pg('23503'))?.reason).toBe('foreign-key');
    expect(targetRejection(pg('22001'))?.reason).toBe('too-long');
    expect(targetRejection(pg('22003'))?.reason).toBe('out-of-range');
    expect(targetRejection(pg('22P02'))?.reason).toBe('invalid-value');
  });

  it('MySQL and MariaDB: by error number', () => {
    expect(targetRejection(my(1062, 'ER_DUP_ENTRY'))?.reason).toBe('unique');
    expect(targetRejection(my(1048, 'ER_BAD_NULL_ERROR'))?.reason).toBe('not-null');
    expect(targetRejection(my(4025, 'ER_CONSTRAINT_FAILED'))?.reason).toBe('check');
    expect(targetRejection(my(3819, 'ER_CHECK_CONSTRAINT_VIOLATED'))?.reason).toBe('check');
    expect(targetRejection(my(1406, 'ER_DATA_TOO_LONG'))).toEqual({ reason: 'too-long', code: '1406', message: 'refused' });
    expect(targetRejection(my(1264, 'ER_WARN_DATA_OUT_OF_RANGE'))?.reason).toBe('out-of-range');
  });

  it('SQL Server: by error number', () => {
    expect(targetRejection(Object.assign(new Error('Violation of PRIMARY KEY'), { number: 2627 }))?.reason).toBe('unique');
    expect(targetRejection(Object.assign(new Error('x'), { originalError: { info: { number: 515 } } }))?.reason).toBe('not-null');
    const server = (number: number) => targetRejection(Object.assign(new Error('refused'), { number }))?.reason;
    expect([2601, 547, 8152, 2628, 220, 8115, 245, 241, 8114].map(server)).toEqual([
      'unique',
      'constraint',
      'too-long',
      'too-long',
      'out-of-range',
      'out-of-range',
      'invalid-value',
      'invalid-value',
      'invalid-value',
    ]);
    // The duplicate key SQL Server reports before "The statement has been terminated." (3621), which mssql rejects with.
    expect(targetRejection(Object.assign(new Error('The statement has been terminated.'), { number: 3621, precedingErrors: [{ number: 2627 }] }))?.code).toBe(
      '2627',
    );
  });

  it("sees through ferry's own stop to the server error it was made from", () => {
    const stop = uniqueViolation(t, { id: 7 }, 'u', 'Duplicate entry', my(1062, 'ER_DUP_ENTRY'));
    expect(targetRejection(stop)?.reason).toBe('unique');
  });

  it('is null for what may succeed when tried again, and for what no row caused', () => {
    for (const err of [
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 }),
      Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32 }),
      pg('40P01', 'deadlock detected'),
      pg('40001', 'could not serialize access'),
      pg('57P01', 'terminating connection due to administrator command'),
      pg('53100', 'could not extend file: No space left on device'),
      pg('42P01', 'relation does not exist'),
      pg('42501', 'permission denied'),
      my(1213, 'ER_LOCK_DEADLOCK'),
      my(1205, 'ER_LOCK_WAIT_TIMEOUT'),
      my(1021, 'ER_DISK_FULL'),
      my(1114, 'ER_RECORD_FILE_FULL'),
      my(1142, 'ER_TABLEACCESS_DENIED_ERROR'),
      Object.assign(new Error('deadlock victim'), { number: 1205 }),
      Object.assign(new Error('log full'), { number: 9002 }),
      new Error('Connection terminated unexpectedly'),
      missingRow(t, 'delete', { id: 1 }),
    ]) {
      expect(targetRejection(err), err.message).toBeNull();
    }
    // And those are what coerceError retries (or, for a missing row, ferry's own stop).
    expect(coerceError(pg('40P01')).kind).toBe('retriable');
    expect(coerceError(my(1021, 'ER_DISK_FULL')).kind).toBe('retriable');
    expect(missingRow(t, 'delete', { id: 1 })).toBeInstanceOf(FerryError);
  });
});

describe('a dead letter', () => {
  const letter: DeadLetter = {
    table: 'shop.items',
    key: { id: 7 },
    operation: 'insert',
    position: { kind: 'pg', lsn: 123n },
    reason: 'check',
    code: '23514',
    message: 'violates check constraint',
    row: { id: 7, b: Buffer.from([0xca, 0xfe]), n: null },
  };

  it('keeps binary values as hex in its JSON', () => {
    expect(JSON.parse(rowJson(letter.row))).toEqual({ id: 7, b: { $hex: 'cafe' }, n: null });
  });

  it('is identified by pipeline, table, key, operation and position, not by its message', () => {
    const id = deadLetterId('p', letter);
    expect(deadLetterId('p', { ...letter, message: 'another text' })).toBe(id);
    expect(deadLetterId('q', letter)).not.toBe(id);
    expect(deadLetterId('p', { ...letter, key: { id: 8 } })).not.toBe(id);
    expect(deadLetterId('p', { ...letter, position: { kind: 'pg', lsn: 124n } })).not.toBe(id);
    expect(deadLetterId('p', { ...letter, operation: 'upsert' })).not.toBe(id);
  });
});
