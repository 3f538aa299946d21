import { describe, expect, it } from 'vitest';
import { CONNECTION_SILENT, coerceError } from '../../src/core/errors.js';

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
