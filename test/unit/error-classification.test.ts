import { describe, expect, it } from 'vitest';
import { CONNECTION_SILENT, coerceError } from '../../src/core/errors.js';
import { isReadOnlyRefusal } from '../../src/engines/registry.js';

describe('coerceError: connection failures are retriable on every engine', () => {
  it.each([
    ['pg connect timeout', new Error('timeout expired')],
    ['pg-pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['pg query on a dead client', new Error('Client was closed and is not queryable')],
    ['mysql2 query on a dead connection', new Error("Can't add new command when connection is in closed state")],
    ['mysql2 connect timeout', Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })],
    ['the watchdog', Object.assign(new Error('target x stopped answering'), { code: CONNECTION_SILENT })],
  ])('%s', (_, err) => {
    expect(coerceError(err).kind).toBe('retriable');
  });

  it('a rejected value stays fatal', () => {
    expect(coerceError(Object.assign(new Error('value too long'), { code: '22001' })).kind).toBe('fatal');
  });
});

describe('a read-only server refusing a write is recognised on every engine (the heartbeat under a cutover fence)', () => {
  it.each([
    ['MySQL ER_OPTION_PREVENTS_STATEMENT', Object.assign(new Error('--super-read-only'), { errno: 1290 }), true],
    ['Postgres read_only_sql_transaction', Object.assign(new Error('read-only transaction'), { code: '25006' }), true],
    ['another refusal', Object.assign(new Error('denied'), { errno: 1142, code: '42501' }), false],
  ])('%s', (_, err, readOnly) => {
    expect(isReadOnlyRefusal(err)).toBe(readOnly);
  });
});
