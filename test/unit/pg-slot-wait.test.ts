import { describe, expect, it } from 'vitest';
import { describeSlotWait } from '../../src/sources/postgres/pg-slot-wait.js';

describe('describeSlotWait', () => {
  it('names each open transaction and how to end it', () => {
    const line = describeSlotWait(
      'ferry_orders',
      13,
      [
        {
          pid: 4242,
          user: 'app',
          application: 'psql',
          database: 'shop',
          state: 'idle in transaction',
          ageSeconds: 75,
          query: 'UPDATE orders\n  SET paid = true WHERE id = 7',
        },
        { pid: 4243, user: 'etl', application: '', database: 'dwh', state: 'active', ageSeconds: 3, query: null },
      ],
      [{ gid: "batch '7'", database: 'shop', ageSeconds: 600 }],
    );
    expect(line).toBe(
      "creating replication slot ferry_orders (the snapshot's starting point) has waited 13s for 3 open transactions to end: " +
        'pid 4242 (application psql, user app, database shop; idle in transaction for 75s, last statement: UPDATE orders SET paid = true WHERE id = 7); ' +
        'pid 4243 (user etl, database dwh; active for 3s); ' +
        "prepared transaction 'batch '7'' (database shop, for 600s); " +
        'fix: commit or roll back in those sessions, or end them: SELECT pg_terminate_backend(4242), pg_terminate_backend(4243); ' +
        "COMMIT PREPARED or ROLLBACK PREPARED 'batch ''7'''. The snapshot starts as soon as they end",
    );
  });

  it('says where to look when the role sees none of them', () => {
    expect(describeSlotWait('s', 3, [], [])).toMatch(
      /has waited 3s for transactions open on the source to end; ferry's role sees none of them; fix: .*pg_read_all_stats/,
    );
  });
});
