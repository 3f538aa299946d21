import type { Config } from '../config.js';
import { tableKey } from '../core/change-event.js';
import { actsOnRows, type TableSchema } from '../core/schema.js';
import type { CheckProblem } from '../core/check-problem.js';
import type { SourceCatalogue } from '../core/source-catalogue.js';

/**
 * MySQL writes no binlog rows for what its foreign keys' actions change; a direct target has ferry
 * run them (sinks/referential-actions.ts), but the Kafka path's producer cannot: its events would
 * miss those rows, so every consumer of the topics would diverge. Refused before the first row moves.
 */
export async function kafkaReferentialProblems(config: Config, source: SourceCatalogue): Promise<CheckProblem[]> {
  if (config.source.type !== 'mysql' || config.target.type !== 'kafka') return [];
  const acting = (await source.describeTables().catch(() => [] as TableSchema[])).flatMap((t) =>
    (t.foreignKeys ?? [])
      .filter(actsOnRows)
      .map((fk) => `${tableKey(t.source)} (${fk.name}: ON DELETE ${fk.onDelete.toUpperCase()} ON UPDATE ${fk.onUpdate.toUpperCase()})`),
  );
  if (acting.length === 0) return [];
  return [
    {
      check: 'foreign keys',
      message: `foreign keys with referential actions change rows that MySQL/MariaDB does not write to the binlog, and the Kafka path cannot reproduce them: ${acting.join(', ')}`,
      hint: 'replicate these tables to a database target directly (ferry runs the actions there), or change the foreign keys to ON DELETE/UPDATE RESTRICT at the source',
    },
  ];
}
