import type { RowDataPacket } from 'mysql2/promise';
import type { TargetProbe } from '../../core/plan-target.js';
import { serverFlavor } from '../../engines/mysql/binlog-position.js';
import { connect } from '../../engines/mysql/connection.js';

/** A MySQL/MariaDB target, read on a read-only session: version, flavor, how it compares names, the tables there already. */
export async function openMysqlTargetProbe(url: string): Promise<TargetProbe> {
  const conn = await connect(url, 'target');
  return {
    probe: async (tables) => {
      await conn.query('SET SESSION TRANSACTION READ ONLY');
      const [[row]] = (await conn.query<RowDataPacket[]>('SELECT VERSION() AS v, @@lower_case_table_names AS lctn')) as unknown as [
        [{ v: string; lctn: number }],
      ];
      const schemas = [...new Set(tables.map((t) => t.target.schema))];
      const [existing] =
        schemas.length === 0
          ? [[] as RowDataPacket[]]
          : await conn.query<RowDataPacket[]>("SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS k FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?)", [
              schemas,
            ]);
      return {
        engine: 'mysql',
        version: row.v,
        flavor: await serverFlavor(conn),
        lowerCaseTableNames: Number(row.lctn),
        existingTables: new Set(existing.map((r) => String(r.k))),
        missingTypes: new Set(),
        missingEnums: new Set(),
      };
    },
    close: () => conn.end().catch(() => {}),
  };
}
