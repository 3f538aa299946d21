// `npm run test:mssql [-- <vitest file filters>]`: the integration tests with a SQL Server, where
// Docker runs. Starts compose's `mssql` service (SQL Server 2022), waits for its health check, builds
// ferry and runs the integration project with FERRY_TEST_MSSQL_URL pointing at it (the tests that need
// SQL Server run only when it is set). The container stays up: `docker compose --profile mssql down`.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** docker-compose.yml's default for MSSQL_SA_PASSWORD. */
export const COMPOSE_SA_PASSWORD = 'Ferry-Passw0rd';

/** The URL of compose's SQL Server as the sa login: its certificate is self-signed, so TLS without checking it. */
export function mssqlTestUrl(env = process.env) {
  const password = env.MSSQL_SA_PASSWORD || COMPOSE_SA_PASSWORD;
  return `mssql://sa:${encodeURIComponent(password)}@127.0.0.1:1433/master?sslmode=require`;
}

function run(command, args, env = process.env) {
  const r = spawnSync(command, args, { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run('docker', ['compose', '--profile', 'mssql', 'up', '--detach', '--wait', 'mssql']);
  run('npm', ['run', 'build']);
  run('npx', ['vitest', 'run', '--project', 'integration', ...process.argv.slice(2)], { ...process.env, FERRY_TEST_MSSQL_URL: mssqlTestUrl() });
}
