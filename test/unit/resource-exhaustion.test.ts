import { describe, expect, it } from 'vitest';
import { coerceError } from '../../src/core/errors.js';
import { resourceExhaustion } from '../../src/core/resource-exhaustion.js';

/** Errors shaped as the drivers throw them: pg's DatabaseError (SQLSTATE `code`, `hint`), mysql2's (`errno`, `code`). */
const pgDiskFull = Object.assign(new Error('could not extend file "base/16384/16390": No space left on device'), {
  code: '53100',
  hint: 'Check free disk space.',
});
const mysqlTableFull = Object.assign(new Error("The table 'big' is full"), { code: 'ER_RECORD_FILE_FULL', errno: 1114 });

describe('resourceExhaustion', () => {
  it('recognizes a full disk from Postgres, MySQL/MariaDB and this machine', () => {
    expect(resourceExhaustion(pgDiskFull)?.problem).toBe('out of disk space');
    expect(
      resourceExhaustion(Object.assign(new Error('Disk full (/tmp/#sql_1.MAI); waiting for someone to free some space...'), { errno: 1021 }))?.problem,
    ).toBe('out of disk space');
    expect(
      resourceExhaustion(Object.assign(new Error('Error writing file \'./binlog.000002\' (Errcode: 28 "No space left on device")'), { errno: 3 }))?.problem,
    ).toBe('out of disk space');
    expect(resourceExhaustion(Object.assign(new Error('Got error 28 "No space left on device" from storage engine InnoDB'), { errno: 1030 }))?.problem).toBe(
      'out of disk space',
    );
    expect(resourceExhaustion(mysqlTableFull)?.problem).toMatch(/table is full/);
    expect(resourceExhaustion(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))?.problem).toMatch(/out of disk space/);
  });

  it("puts Postgres's own hint first, then how ferry goes on", () => {
    expect(resourceExhaustion(pgDiskFull)?.hint).toBe(
      'Check free disk space. Then free disk space on that server (or grow its volume); ferry retries by itself and resumes where it stopped (a stopped snapshot resumes when ferry starts again)',
    );
    expect(resourceExhaustion(Object.assign(new Error('out of memory'), { code: '53200' }))?.hint).toMatch(/^Free memory on that server/);
  });

  it('leaves rejections and other write errors alone', () => {
    expect(resourceExhaustion(Object.assign(new Error('duplicate key value violates unique constraint "u"'), { code: '23505' }))).toBeNull();
    expect(resourceExhaustion(Object.assign(new Error("Duplicate entry '5' for key 'u'"), { errno: 1062 }))).toBeNull();
    expect(resourceExhaustion(Object.assign(new Error('Error writing file \'./x\' (Errcode: 13 "Permission denied")'), { errno: 3 }))).toBeNull();
    expect(resourceExhaustion('a string')).toBeNull();
    expect(resourceExhaustion(undefined)).toBeNull();
  });
});

describe('coerceError on a full disk', () => {
  it('is retriable, names the disk and keeps the driver message and the server hint', () => {
    const e = coerceError(pgDiskFull, 'the target, applying a change to app.big');
    expect(e.kind).toBe('retriable');
    expect(e.message).toBe('the target, applying a change to app.big: out of disk space (could not extend file "base/16384/16390": No space left on device)');
    expect(e.hint).toMatch(/^Check free disk space\. Then free disk space/);
    expect(e.describe()).not.toMatch(/fix the target table/);
    expect(e.cause).toBe(pgDiskFull);
  });

  it('leaves a unique violation fatal', () => {
    expect(coerceError(Object.assign(new Error('duplicate key'), { code: '23505' })).kind).toBe('fatal');
  });
});
