import { startMariaDb, startPostgres, type LocalServer } from '../src/demo/local-databases.js';

/** The private servers of a benchmark run, from the machine's Debian packages, as the tests start them. */
export interface Servers {
  readonly mariaSource: LocalServer;
  /** ferry's MariaDB target. */
  readonly mariaTarget: LocalServer;
  /** The native MariaDB replica of mariaSource. */
  readonly mariaReplica: LocalServer;
  readonly pgSource: LocalServer;
  /** ferry's and native logical replication's Postgres target (separate databases). */
  readonly pgTarget: LocalServer;
}

export async function startServers(): Promise<Servers> {
  const [mariaSource, mariaTarget, mariaReplica, pgSource, pgTarget] = await Promise.all([
    startMariaDb(),
    startMariaDb({ serverId: 2 }),
    startMariaDb({ serverId: 3 }),
    startPostgres(),
    startPostgres(),
  ]);
  return { mariaSource: mariaSource!, mariaTarget: mariaTarget!, mariaReplica: mariaReplica!, pgSource: pgSource!, pgTarget: pgTarget! };
}

export async function stopServers(s: Servers): Promise<void> {
  await Promise.all(Object.values(s).map((server: LocalServer) => server.destroy()));
}

/** Arguments of the mariadb command-line client for `server` as root. */
export function mariadbArgs(server: LocalServer): string {
  return `-h 127.0.0.1 -P ${server.port} -u root`;
}
