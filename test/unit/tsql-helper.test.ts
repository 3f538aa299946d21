import { describe, expect, it } from 'vitest';
import { parseTsql, splitStatements } from '../helpers/tsql.js';

describe('the T-SQL test parser', () => {
  it('splits a batch at top-level semicolons only', () => {
    expect(splitStatements("SELECT N'a;b' AS [x;y]; DELETE FROM [s].[t];")).toEqual(["SELECT N'a;b' AS [x;y]", 'DELETE FROM [s].[t]']);
  });

  it('parses T-SQL, and a syntax error fails naming the statement', () => {
    expect(parseTsql('UPDATE t SET t.[a] = s.[a] FROM [s].[t] AS t JOIN [#stage] AS s ON t.[id] = s.[id]')).toHaveLength(1);
    expect(() => parseTsql('UPDATE [s].[t] SET [a] = WHERE [id] = 1')).toThrow(/not valid T-SQL[\s\S]*SET \[a\] = WHERE/);
  });

  it('matches the shapes the grammar lacks exactly, and nothing near them', () => {
    expect(parseTsql('SET IDENTITY_INSERT [s].[t] ON')).toEqual([{ gap: 'the grammar has no SET IDENTITY_INSERT' }]);
    expect(() => parseTsql('SET IDENTITY_INSERT [s].[t] MAYBE')).toThrow(/not valid T-SQL/);
    expect(parseTsql('SELECT COUNT_BIG(*) FROM [s].[t]')).toHaveLength(1);
    expect(parseTsql("SELECT LEN((t.[a] + N'.') COLLATE Latin1_General_100_CI_AS_SC) FROM [s].[t] AS t")).toHaveLength(1);
    expect(() => parseTsql('SELECT (t.[a]) COLLATE FROM [s].[t] AS t')).toThrow(/not valid T-SQL/);
    const [table] = parseTsql('CREATE TABLE [s].[t] ([a] nvarchar(40) COLLATE Latin1_General_100_BIN2 NULL)') as {
      create_definitions: { collate: unknown }[];
    }[];
    expect(table!.create_definitions[0]!.collate).toMatchObject({ collate: { name: 'Latin1_General_100_BIN2' } });
    const fk = 'ALTER TABLE [s].[c] ADD CONSTRAINT [fk] FOREIGN KEY ([a], [b]) REFERENCES [s].[p] ([x], [y]) ON DELETE CASCADE ON UPDATE NO ACTION';
    expect(parseTsql(fk)).toEqual([{ gap: expect.stringMatching(/REFERENCES/) }]);
    expect(() => parseTsql(fk.replace('ON UPDATE NO ACTION', 'ON UPDATE RESTRICT'))).toThrow(/not valid T-SQL/);
    expect(() => parseTsql(fk.replace('REFERENCES [s].[p] ([x], [y])', 'REFERENCES [s].[p]'))).toThrow(/not valid T-SQL/);
    expect(parseTsql('ALTER TABLE [s].[t] DROP CONSTRAINT [a]]b]')).toEqual([{ gap: expect.stringMatching(/DROP CONSTRAINT/) }]);
    expect(parseTsql("DBCC CHECKIDENT (N'[s].[t]', RESEED, 150)")).toEqual([{ gap: 'the grammar has no DBCC' }]);
    expect(() => parseTsql("DBCC CHECKIDENT (N'[s].[t]', RESEEDX, 150)")).toThrow(/not valid T-SQL/);
  });

  it('cuts the clauses the grammar lacks and parses the rest', () => {
    expect(parseTsql('ALTER TABLE [s].[t] ADD [n] int NULL CONSTRAINT [t_n_df] DEFAULT 5 WITH VALUES')).toHaveLength(1);
    expect(parseTsql('CREATE TABLE [s].[t] ([n] int NOT NULL CONSTRAINT [t_n_df] DEFAULT 5)')).toHaveLength(1);
    expect(() => parseTsql('ALTER TABLE [s].[t] ADD [n] int NULL CONSTRAINT [t_n_df] DEFAULT WITH VALUES')).toThrow(/not valid T-SQL/);
    expect(() => parseTsql('CREATE TABLE [s].[t] ([n] int NOT NULL CONSTRAINT [t_n_df] DEFAULT 5 WITH VALUES)')).toThrow(/not valid T-SQL/);
    // WITH VALUES is the DEFAULT's own clause: before the column's CHECK, never after it.
    expect(parseTsql("ALTER TABLE [s].[t] ADD [n] nvarchar(3) NULL DEFAULT N'a' WITH VALUES CHECK ([n] IN (N'a'))")).toHaveLength(1);
    expect(() => parseTsql("ALTER TABLE [s].[t] ADD [n] nvarchar(3) NULL DEFAULT N'a' CHECK ([n] IN (N'a')) WITH VALUES")).toThrow(/not valid T-SQL/);
  });
});
