import { describe, expect, it } from 'vitest';
import type { TargetColumn } from '../../src/sinks/mssql/mssql-columns.js';
import { deleteMatchingSql, findSql, matchAny, updateMatchingSql } from '../../src/sinks/mssql/mssql-referential.js';
import { collidingKey, duplicateKeyOf, INDEX_COLUMNS_SQL } from '../../src/sinks/mssql/mssql-unique.js';
import { parseTsql } from '../helpers/tsql.js';

const T = { schema: 'app', name: 'child' };
const A: TargetColumn = { name: 'parent_id', type: 'int', identity: false };
const B: TargetColumn = { name: 'region', type: 'decimal(5,0)', identity: false };
const NOTE: TargetColumn = { name: 'note', type: 'nvarchar(50)', identity: false };

describe('referential actions on SQL Server', () => {
  it('matches rows of a one-column key by IN, of a composite key tuple by tuple, parameters in tuple order', () => {
    expect(matchAny([A], 3)).toBe('[parent_id] IN (@p1, @p2, @p3)');
    expect(matchAny([A, B], 2)).toBe(
      '([parent_id] = @p1 AND [region] = CAST(@p2 AS decimal(5,0))) OR ([parent_id] = @p3 AND [region] = CAST(@p4 AS decimal(5,0)))',
    );
    expect(matchAny([A], 2, 4)).toBe('[parent_id] IN (@p4, @p5)');
  });

  it('finds the referencing rows under update locks, reading back text forms the next level sends again', () => {
    const statement = findSql(T, [A, B], 1, [A, B, NOTE]);
    expect(statement).toBe(
      'SELECT [parent_id], CONVERT(nvarchar(60), [region]), [note] FROM [app].[child] WITH (UPDLOCK, ROWLOCK) WHERE ([parent_id] = @p1 AND [region] = CAST(@p2 AS decimal(5,0)))',
    );
    expect(() => parseTsql(statement)).not.toThrow();
  });

  it('deletes them, or sets their columns (NULL without a parameter), matching from the parameters after the new values', () => {
    const del = deleteMatchingSql(T, [A], 2);
    expect(del).toBe('DELETE FROM [app].[child] WHERE [parent_id] IN (@p1, @p2)');
    const setNull = updateMatchingSql(T, [A], 2, [A], [null]);
    expect(setNull.sql).toBe('UPDATE [app].[child] SET [parent_id] = NULL WHERE [parent_id] IN (@p1, @p2)');
    expect(setNull.params).toEqual([]);
    const cascade = updateMatchingSql(T, [A, B], 1, [A, B], [7, '12']);
    expect(cascade.sql).toBe(
      'UPDATE [app].[child] SET [parent_id] = @p1, [region] = CAST(@p2 AS decimal(5,0)) WHERE ([parent_id] = @p3 AND [region] = CAST(@p4 AS decimal(5,0)))',
    );
    expect(cascade.params.map((p) => [p.column.name, p.value])).toEqual([
      ['parent_id', 7],
      ['region', '12'],
    ]);
    for (const statement of [del, setNull.sql, cascade.sql]) expect(() => parseTsql(statement)).not.toThrow();
  });
});

describe('a duplicate key on another unique index, named with its row', () => {
  const terminated = (err: object) => Object.assign(new Error('The statement has been terminated.'), { number: 3621, precedingErrors: [err] });

  it('finds the duplicate-key error behind "The statement has been terminated", from an index (2601) or a constraint (2627)', () => {
    const index = terminated({
      number: 2601,
      message: "Cannot insert duplicate key row in object 'app.items' with unique index 'items_name_unique'. The duplicate key value is (thirty).",
    });
    expect(duplicateKeyOf(index)).toMatchObject({ index: 'items_name_unique', values: 'thirty' });
    const constraint = terminated({
      number: 2627,
      message: "Violation of UNIQUE KEY constraint 'uq_code'. Cannot insert duplicate key in object 'app.items'. The duplicate key value is (7, a).",
    });
    expect(duplicateKeyOf(constraint)).toMatchObject({ index: 'uq_code', values: '7, a' });
    expect(duplicateKeyOf(Object.assign(new Error('Conversion failed'), { number: 245 }))).toBeNull();
  });

  it('names the one written row whose values of the index’s columns print as the duplicate value', () => {
    const written = [
      { key: { id: 40 }, row: { id: 40, name: 'thirty', code: 7 } },
      { key: { id: 41 }, row: { id: 41, name: 'other', code: 7 } },
    ];
    expect(collidingKey(['name'], 'thirty', written)).toEqual({ id: 40 });
    expect(collidingKey(['code', 'name'], '7, other', written)).toEqual({ id: 41 });
    expect(collidingKey(['code'], '7', written)).toBeNull(); // two rows: neither is named
    expect(collidingKey([], 'thirty', written)).toBeNull(); // the index's columns could not be read
    expect(() => parseTsql(INDEX_COLUMNS_SQL)).not.toThrow();
  });
});
