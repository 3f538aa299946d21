/** Anything that runs a multi-statement SQL string: a mysql2 connection, or a test Endpoint. */
interface RunsSql {
  query(sql: string): Promise<unknown>;
}

/**
 * A steady mix of source writes until stopped: multi-row transactions with inserts, updates,
 * deletes and primary-key changes, on a table `items (id INT PK, grp INT, val VARCHAR(64), amount DECIMAL(12,2))`.
 * The SQL runs on MariaDB and Postgres alike.
 * With `seedRows`, each transaction also updates and deletes rows spread over ids 1..seedRows.
 */
export function startWriteLoad(my: RunsSql, table: string, options: { firstId: number; pauseMs?: number; seedRows?: number }) {
  let stop = false;
  let transactions = 0;
  let nextId = options.firstId;
  const done = (async () => {
    while (!stop) {
      const id = nextId;
      nextId += 3;
      await my.query(
        `START TRANSACTION;
         INSERT INTO ${table} (id, grp, val, amount) VALUES (${id}, ${id % 17}, 'v${id}', ${id % 1000}.25), (${id + 1}, ${id % 13}, 'w${id}', 1.5);
         UPDATE ${table} SET val = LEFT(CONCAT(val, '+'), 64), amount = amount + 1 WHERE grp = ${id % 17} AND id > ${id - 60};
         DELETE FROM ${table} WHERE id = ${id - 30};
         UPDATE ${table} SET id = ${id + 2} WHERE id = ${id + 1};
         ${
           options.seedRows
             ? `UPDATE ${table} SET amount = amount + 1 WHERE id = ${1 + ((id * 7919) % options.seedRows)};
           DELETE FROM ${table} WHERE id = ${1 + ((id * 104729) % options.seedRows)};`
             : ''
         }
         COMMIT;`,
      );
      transactions++;
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  })();
  done.catch(() => {}); // surfaced by stop(); a server killed under the load must not be an unhandled rejection
  return {
    get transactions() {
      return transactions;
    },
    async stop() {
      stop = true;
      await done;
    },
  };
}
