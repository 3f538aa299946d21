import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path/posix';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig, sqlSource, sqlTarget } from '../../src/config.js';
import { FerryEventBus } from '../../src/core/events.js';
import { FerryMetrics } from '../../src/metrics/metrics.js';
import { LiveStatus } from '../../src/pipeline/live-status.js';

// The shipped operations files (Grafana dashboard, alert rules, Prometheus and Grafana provisioning,
// docker-compose.yml, Dockerfile, deploy/ferry.yaml) checked against each other and against the
// metrics ferry really registers. No container runs here: these are structural checks.

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const readYaml = (path: string) => parseYaml(read(path)) as any;

/** Metric names as PromQL writes them; histogram series carry a suffix the registry does not. */
const METRIC = /\b(ferry_[a-z_]+|process_[a-z_]+|nodejs_[a-z_]+)\b/g;
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

interface Registered {
  name: string;
  type: string;
}
let registered: Map<string, Registered>;

beforeAll(async () => {
  const events = new FerryEventBus();
  // Both Kafka ends: every metric ferry may export.
  const metrics = new FerryMetrics('test', events, new LiveStatus('test', events), { source: true, target: true });
  try {
    const json = await metrics.registry.getMetricsAsJSON();
    registered = new Map(json.map((m) => [m.name, { name: m.name, type: String(m.type) }]));
  } finally {
    metrics.close();
    metrics.registry.clear();
  }
});

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The registered metric an expression's series name refers to, or undefined. */
function resolveMetric(series: string): Registered | undefined {
  const exact = registered.get(series);
  if (exact) return exact;
  const base = registered.get(series.replace(HISTOGRAM_SUFFIX, ''));
  return base && (base.type === 'histogram' || base.type === 'summary') ? base : undefined;
}

function seriesIn(expr: string): string[] {
  return [...expr.matchAll(METRIC)].map((m) => m[1]!);
}

/** Every series an expression names must be registered, and rate()/increase() only over counters or histogram series. */
function expectKnownMetrics(where: string, expr: string): void {
  for (const series of seriesIn(expr)) {
    const metric = resolveMetric(series);
    expect(metric, `${where}: ${series} is not a metric ferry registers`).toBeDefined();
    if (series.endsWith('_bucket')) expect(metric!.type, `${where}: ${series}`).toBe('histogram');
  }
  for (const m of expr.matchAll(/\b(rate|irate|increase)\(\s*([a-z_:]+)/g)) {
    const metric = resolveMetric(m[2]!);
    if (!metric) continue; // `up` and friends are not ferry's
    const ok = metric.type === 'counter' || (HISTOGRAM_SUFFIX.test(m[2]!) && metric.type !== 'gauge');
    expect(ok, `${where}: ${m[1]}() over ${m[2]}, a ${metric.type}`).toBe(true);
  }
}

/** Compose interpolation with nothing set in the environment: ${X:-default} → default. */
function composeDefaults(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?(?::?\?[^}]*)?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}

/** docker-compose `environment` as a map, whichever of its two forms is written. */
function environmentOf(service: any): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e: string) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Short-syntax volumes `source:target[:mode]` as pairs. */
function volumesOf(service: any): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v: string | { source: string; target: string }) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source, target] = v.split(':');
    return { source: source!, target: target! };
  });
}

function commandOf(service: any): string {
  return Array.isArray(service.command) ? service.command.join(' ') : String(service.command ?? '');
}

const compose = () => readYaml('docker-compose.yml');

/** The anchors GitHub makes of a Markdown file's headings. */
function anchorsOf(markdown: string): string[] {
  return [...markdown.matchAll(/^#+ (.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\w\- ]/g, '')
      .replace(/ /g, '-'),
  );
}

describe('grafana/dashboards/ferry.json', () => {
  const dashboard = JSON.parse(read('grafana/dashboards/ferry.json'));
  const rows = dashboard.panels.filter((p: any) => p.type === 'row');
  const panels: any[] = [...dashboard.panels.filter((p: any) => p.type !== 'row'), ...rows.flatMap((r: any) => r.panels ?? [])];
  const targets = panels.flatMap((p) => (p.targets ?? []).map((t: any) => ({ panel: p.title as string, ...t })));
  const used = new Set(targets.flatMap((t) => seriesIn(t.expr)).map((s) => s.replace(HISTOGRAM_SUFFIX, '')));

  it('is a dashboard with a stable uid, a schema version and panels that each have a title and a query', () => {
    expect(dashboard.uid).toBe('ferry');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const p of panels) {
      expect(typeof p.title === 'string' && p.title.trim().length > 0, `panel ${p.id} has no title`).toBe(true);
      expect(p.targets?.length, `panel "${p.title}" has no query`).toBeGreaterThan(0);
      for (const t of p.targets) expect(typeof t.expr === 'string' && t.expr.length > 0, `panel "${p.title}" ${t.refId}`).toBe(true);
    }
    const ids = panels.map((p) => p.id).concat(rows.map((r: any) => r.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const boxes = [...rows, ...panels].map((p: any) => ({ title: p.title as string, ...p.gridPos }));
    for (const b of boxes) expect(b.x + b.w, `"${b.title}" overflows the grid`).toBeLessThanOrEqual(24);
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `"${a.title}" overlaps "${b.title}"`).toBe(false);
      }
    }
  });

  it('queries only metrics ferry registers, rate() only over counters', () => {
    for (const t of targets) expectKnownMetrics(`panel "${t.panel}"`, t.expr);
  });

  it('filters every series by the pipeline variable, which lists the pipelines from ferry_phase', () => {
    for (const t of targets) {
      for (const m of t.expr.matchAll(METRIC)) {
        const after = t.expr.slice(m.index! + m[1]!.length);
        expect(after.startsWith('{pipeline=~"$pipeline"'), `panel "${t.panel}": ${m[1]} is not filtered by $pipeline in ${t.expr}`).toBe(true);
      }
    }
    const pipeline = dashboard.templating.list.find((v: any) => v.name === 'pipeline');
    expect(pipeline).toBeDefined();
    expect(JSON.stringify(pipeline.query)).toContain('label_values(ferry_phase, pipeline)');
    expect(resolveMetric('ferry_phase')).toBeDefined();
  });

  it('covers lag, throughput, latency, snapshot progress, phase, cutover, errors, dead letters, quarantined tables, slot retention, pause and the process', () => {
    for (const name of [
      'ferry_replication_lag_seconds',
      'ferry_source_lag_bytes',
      'ferry_events_applied_total',
      'ferry_transactions_applied_total',
      'ferry_apply_batch_seconds',
      'ferry_snapshot_rows_total',
      'ferry_snapshot_rows_estimated',
      'ferry_phase',
      'ferry_cutover_state',
      'ferry_errors_total',
      'ferry_dead_letter_rows_total',
      'ferry_table_quarantined',
      'ferry_slot_retained_bytes',
      'ferry_paused',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
    ]) {
      expect(used.has(name), `no panel shows ${name}`).toBe(true);
    }
    const exprs = targets.map((t) => t.expr).join('\n');
    expect(exprs).toMatch(/histogram_quantile\(0\.5,[^\n]*ferry_apply_batch_seconds_bucket/);
    expect(exprs).toMatch(/histogram_quantile\(0\.99,[^\n]*ferry_apply_batch_seconds_bucket/);
    expect(exprs).toMatch(/ferry_snapshot_rows_total\{[^}]*\}\s*\/\s*\(?ferry_snapshot_rows_estimated/);
  });

  it('uses a datasource that Grafana provisioning defines', () => {
    const provisioned = readYaml('grafana/provisioning/datasources/prometheus.yml').datasources.map((d: any) => d.uid);
    const variables = new Map<string, string>(
      dashboard.templating.list.filter((v: any) => v.type === 'datasource').map((v: any) => [v.name, v.current?.value]),
    );
    const resolve = (uid: string) => uid.replace(/^\$\{?(\w+)\}?$/, (_, name: string) => variables.get(name) ?? uid);
    const refs = [...panels, ...targets, ...dashboard.templating.list.filter((v: any) => v.type === 'query')]
      .map((x: any) => x.datasource)
      .filter((d: any) => d && d.type !== 'grafana');
    expect(refs.length).toBeGreaterThan(0);
    for (const d of refs) {
      expect(d.type).toBe('prometheus');
      expect(provisioned, `datasource uid ${d.uid}`).toContain(resolve(d.uid));
    }
  });
});

describe('grafana/alerts/ferry-rules.yml', () => {
  const doc = readYaml('grafana/alerts/ferry-rules.yml');
  const rules: any[] = doc.groups.flatMap((g: any) => g.rules);

  it('defines the eight ferry alerts, each with expr, for, severity, a summary, a description and a runbook_url to its docs/operations.md entry', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'FerryDown',
      'FerryErrorsIncreasing',
      'FerryRefreshFailed',
      'FerryReplicationLagHigh',
      'FerryRowsDeadLettered',
      'FerrySlotRetentionHigh',
      'FerryStreamStalled',
      'FerryTableQuarantined',
    ]);
    for (const r of rules) {
      expect(typeof r.expr === 'string' && r.expr.length > 0, r.alert).toBe(true);
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['info', 'warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toEqual(expect.any(String));
      expect(r.annotations?.description, r.alert).toEqual(expect.any(String));
      const [file, anchor] = String(r.annotations?.runbook_url).split('#');
      expect(file, r.alert).toBe('docs/operations.md');
      expect(anchorsOf(read(file!)), r.alert).toContain(anchor);
    }
  });

  it("alerts only on metrics ferry registers (plus Prometheus' own up)", () => {
    for (const r of rules) expectKnownMetrics(`alert ${r.alert}`, r.expr);
  });

  it('has the thresholds the runbook describes', () => {
    const rule = (name: string) => rules.find((r) => r.alert === name);
    expect(rule('FerryReplicationLagHigh').expr).toMatch(/ferry_replication_lag_seconds\s*>\s*60\b/);
    expect(rule('FerryReplicationLagHigh').for).toBe('5m');
    const stalled = rule('FerryStreamStalled').expr;
    // On the source's clock (the lag), not Prometheus's; and streaming with no lag series yet counts too.
    expect(stalled).toMatch(/ferry_replication_lag_seconds\s*>\s*120\b/);
    expect(stalled).toMatch(/unless on\s*\(pipeline\)\s*ferry_replication_lag_seconds/);
    expect(stalled).toMatch(/and on\s*\(pipeline\)/);
    expect(stalled).toContain('ferry_phase{phase="streaming"} == 1');
    expect(Number(/ferry_slot_retained_bytes\s*>\s*(\d+)/.exec(rule('FerrySlotRetentionHigh').expr)?.[1])).toBe(10 * 1024 ** 3);
    expect(rule('FerryErrorsIncreasing').expr).toMatch(/increase\(ferry_errors_total(\{[^}]*\})?\[10m\]\)\s*>\s*0/);
  });

  it('FerryDown watches the job that grafana/prometheus.yml scrapes ferry under', () => {
    const jobs = readYaml('grafana/prometheus.yml').scrape_configs.map((s: any) => s.job_name);
    const job = /up\{job="([^"]+)"\}\s*==\s*0/.exec(rules.find((r) => r.alert === 'FerryDown').expr)?.[1];
    expect(jobs).toContain(job);
  });
});

describe('grafana/prometheus.yml and Grafana provisioning', () => {
  it("scrapes ferry's admin port at /metrics and loads the alert rules from where compose mounts them", () => {
    const prometheus = readYaml('grafana/prometheus.yml');
    const job = prometheus.scrape_configs.find((s: any) => s.job_name === 'ferry');
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    const targets: string[] = job.static_configs.flatMap((s: any) => s.targets);
    const ferryService = compose().services.ferry;
    const port = String(ferryService.ports[0]).split(':').at(-1);
    expect(targets).toContain(`ferry:${port}`);

    const mounts = volumesOf(compose().services.prometheus);
    const config = mounts.find((m) => m.source === './grafana/prometheus.yml');
    expect(config?.target).toBe('/etc/prometheus/prometheus.yml');
    const alerts = mounts.find((m) => m.source === './grafana/alerts');
    expect(alerts).toBeDefined();
    // Prometheus resolves relative rule_files against the config file's directory.
    const globs: string[] = prometheus.rule_files.map((g: string) => (g.startsWith('/') ? g : `${dirname(config!.target)}/${g}`));
    const toRegExp = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    expect(
      globs.some((g) => toRegExp(g).test(`${alerts!.target}/ferry-rules.yml`)),
      `rule_files ${globs.join(', ')}`,
    ).toBe(true);
  });

  it("scrapes the kafka profile's producer and every applier replica under the same job, on their admin port", () => {
    const job = readYaml('grafana/prometheus.yml').scrape_configs.find((s: any) => s.job_name === 'ferry');
    const lookups = (job.dns_sd_configs ?? []).filter((d: any) => d.type === 'A');
    for (const service of ['ferry-producer', 'ferry-applier']) {
      const lookup = lookups.find((d: any) => d.names.includes(service));
      expect(lookup, `${service} is not scraped`).toBeDefined();
      const mount = volumesOf(compose().services[service]).find((v) => v.target === '/config/ferry.yaml');
      expect(read(mount!.source)).toMatch(new RegExp(`listen:\\s*0\\.0\\.0\\.0:${lookup.port}\\b`));
    }
  });

  it('points the Grafana datasource at the compose Prometheus service', () => {
    const ds = readYaml('grafana/provisioning/datasources/prometheus.yml').datasources.find((d: any) => d.uid === 'prometheus');
    expect(ds.type).toBe('prometheus');
    const url = new URL(ds.url);
    expect(Object.keys(compose().services)).toContain(url.hostname);
    expect(String(compose().services[url.hostname].ports[0]).split(':').at(-1)).toBe(url.port);
  });

  it('loads dashboards from the directory compose mounts grafana/dashboards at', () => {
    const providers = readYaml('grafana/provisioning/dashboards/ferry.yml').providers;
    const file = providers.find((p: any) => p.type === 'file');
    const mounts = volumesOf(compose().services.grafana);
    expect(mounts.find((m) => m.source === './grafana/dashboards')?.target).toBe(file.options.path);
    expect(mounts.find((m) => m.source === './grafana/provisioning')?.target).toBe('/etc/grafana/provisioning');
  });
});

describe('docker-compose.yml', () => {
  const services = compose().services;

  it('offers the databases, Kafka, Prometheus, Grafana and ferry, SQL Server and Kafka behind profiles', () => {
    for (const name of ['mysql', 'postgres', 'mssql', 'kafka', 'prometheus', 'grafana', 'ferry']) {
      expect(services[name], name).toBeDefined();
      expect(services[name].image ?? services[name].build, name).toBeDefined();
    }
    expect(services.mssql.profiles).toEqual(['mssql']);
    expect(services.kafka.profiles).toEqual(['kafka']);
    expect(environmentOf(services.mssql).ACCEPT_EULA).toBe('Y');
  });

  it('runs SQL Server 2022 with a health check through sqlcmd 18 (-C: its self-signed certificate), the password off the command line', () => {
    const mssql = services.mssql;
    expect(mssql.image).toBe('mcr.microsoft.com/mssql/server:2022-latest');
    const [form, script] = mssql.healthcheck.test as [string, string];
    expect(form).toBe('CMD-SHELL');
    expect(script).toMatch(/^SQLCMDPASSWORD="\$\$MSSQL_SA_PASSWORD" \/opt\/mssql-tools18\/bin\/sqlcmd -S 127\.0\.0\.1 -U sa -C -b -Q 'SELECT 1'$/);
    expect(script).not.toContain(' -P ');
    expect(mssql.healthcheck.retries * Number.parseInt(mssql.healthcheck.interval, 10)).toBeGreaterThanOrEqual(120);
  });

  it('npm run test:mssql starts that service, waits for its health, and points FERRY_TEST_MSSQL_URL at it with its password', async () => {
    expect(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts['test:mssql']).toBe('node scripts/test-mssql.mjs');
    const script = readFileSync(new URL('../../scripts/test-mssql.mjs', import.meta.url), 'utf8');
    expect(script).toContain("['compose', '--profile', 'mssql', 'up', '--detach', '--wait', 'mssql']");
    expect(script).toContain('FERRY_TEST_MSSQL_URL: mssqlTestUrl()');
    const { COMPOSE_SA_PASSWORD, mssqlTestUrl } = await import('../../scripts/test-mssql.mjs');
    expect(COMPOSE_SA_PASSWORD).toBe(composeDefaults(environmentOf(services.mssql).MSSQL_SA_PASSWORD!));
    const url = new URL(mssqlTestUrl({}));
    expect([url.protocol, url.username, decodeURIComponent(url.password), url.host, url.search]).toEqual([
      'mssql:',
      'sa',
      COMPOSE_SA_PASSWORD,
      `127.0.0.1:${String(services.mssql.ports[0]).split(':').at(-1)}`,
      '?sslmode=require',
    ]);
    expect(decodeURIComponent(new URL(mssqlTestUrl({ MSSQL_SA_PASSWORD: 'P@ss/w#rd1' })).password)).toBe('P@ss/w#rd1');
  });

  it('runs MySQL with the binlog settings ferry needs and Postgres with logical WAL', () => {
    const mysql = commandOf(services.mysql);
    for (const flag of [
      '--log-bin',
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--binlog-row-metadata=FULL',
      '--gtid-mode=ON',
      '--enforce-gtid-consistency=ON',
    ]) {
      expect(mysql).toContain(flag);
    }
    expect(mysql).toMatch(/--server-id=\d+/);
    expect(commandOf(services.postgres)).toContain('wal_level=logical');
    expect(JSON.stringify(services.mysql.healthcheck.test)).toContain('mysqladmin ping');
    expect(JSON.stringify(services.postgres.healthcheck.test)).toContain('pg_isready');
  });

  it('runs Kafka as one KRaft node that is both broker and controller', () => {
    const env = environmentOf(services.kafka);
    expect(
      env
        .KAFKA_PROCESS_ROLES!.split(',')
        .map((r) => r.trim())
        .sort(),
    ).toEqual(['broker', 'controller']);
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(new RegExp(`^${env.KAFKA_NODE_ID}@`));
    expect(env.KAFKA_LISTENERS).toContain(`${env.KAFKA_CONTROLLER_LISTENER_NAMES}://`);
  });

  it('publishes every port on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, s]: [string, any]) => (s.ports ?? []).map((p: unknown) => ({ name, port: String(p) })));
    expect(published.length).toBeGreaterThan(0);
    for (const { name, port } of published) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it('never shows the admin token on a command line (ps shows it): ferry cutover reads $FERRY_ADMIN_TOKEN', () => {
    const docs = readdirSync(new URL('docs/', root))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`);
    for (const file of ['README.md', 'docker-compose.yml', ...docs]) {
      expect(read(file), file).not.toMatch(/--token\s+"?\$\{?FERRY_ADMIN_TOKEN/);
    }
  });

  it('bind-mounts only files and directories that exist in the repository', () => {
    const sources = Object.values(services)
      .flatMap((s: any) => volumesOf(s).map((v) => v.source))
      .filter((s) => s.startsWith('./'));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(new URL(source, root)), source).toBe(true);
  });

  it('builds ferry from this repository and starts it after healthy databases', () => {
    expect(services.ferry.build === '.' || services.ferry.build?.context === '.').toBe(true);
    expect(services.ferry.depends_on.mysql.condition).toBe('service_healthy');
    expect(services.ferry.depends_on.postgres.condition).toBe('service_healthy');
    expect(services.ferry.restart).toBe('unless-stopped');
    expect(Object.keys(environmentOf(services.ferry))).toContain('FERRY_ADMIN_TOKEN');
  });

  it('gives ferry a config that validates, reaches the compose databases and listens on the published port', () => {
    const mount = volumesOf(services.ferry).find((v) => v.target === '/config/ferry.yaml');
    expect(mount, 'ferry mounts no /config/ferry.yaml').toBeDefined();
    const text = read(mount!.source);

    // Every variable the config needs without a default must be handed to the container.
    const env = environmentOf(services.ferry);
    for (const [, name, hasDefault] of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-)?[^}]*\}/g)) {
      if (!hasDefault) expect(Object.keys(env), `ferry.yaml needs ${name}`).toContain(name);
    }

    vi.stubEnv('FERRY_ADMIN_TOKEN', 'a-test-admin-token-0123');
    for (const name of ['MYSQL_ROOT_PASSWORD', 'POSTGRES_PASSWORD']) vi.stubEnv(name, composeDefaults(env[name] ?? ''));
    const config = parseConfig(parseYaml(text));
    expect(config.admin?.token).toBe('a-test-admin-token-0123');

    const listen = config.admin!.listen;
    expect(listen.startsWith('0.0.0.0:'), 'admin.listen must accept connections from outside the container').toBe(true);
    const published = (services.ferry.ports as unknown[]).map((p) => String(p).split(':').at(-1));
    expect(published).toContain(listen.split(':')[1]);

    const source = new URL(sqlSource(config).url);
    const target = new URL(sqlTarget(config).url);
    expect(config.source.type).toBe('mysql');
    expect(source.hostname).toBe('mysql');
    expect(decodeURIComponent(source.password)).toBe(composeDefaults(environmentOf(services.mysql).MYSQL_ROOT_PASSWORD!));
    expect(config.target.type).toBe('postgres');
    expect(target.hostname).toBe('postgres');
    expect(decodeURIComponent(target.password)).toBe(composeDefaults(environmentOf(services.postgres).POSTGRES_PASSWORD!));

    // The source database is the one the MySQL init script creates and fills.
    const init = volumesOf(services.mysql).find((v) => v.target.startsWith('/docker-entrypoint-initdb.d'));
    const sql = read(init!.source);
    const database = source.pathname.slice(1);
    expect(sql).toMatch(new RegExp(`CREATE DATABASE (IF NOT EXISTS )?\`?${database}\`?`, 'i'));
    expect(sql).toMatch(/INSERT INTO/i);
  });
});

describe('docker-compose.yml, kafka profile', () => {
  const services = compose().services;
  const configOf = (service: string) => {
    const mount = volumesOf(services[service]).find((v) => v.target === '/config/ferry.yaml');
    for (const name of ['FERRY_ADMIN_TOKEN', 'MYSQL_ROOT_PASSWORD', 'POSTGRES_PASSWORD']) vi.stubEnv(name, 'a-test-secret-0123456789');
    return parseConfig(parseYaml(read(mount!.source)));
  };
  const created = () => {
    const script = commandOf(services['kafka-topics']);
    const loops = [...script.matchAll(/for t in ([^;]+); do\s+\S+ --create --if-not-exists --topic \$\$t --partitions (\d+)/g)];
    return new Map(
      loops.flatMap(([, topics, partitions]) =>
        topics!
          .trim()
          .split(/\s+/)
          .map((t) => [t, Number(partitions)] as const),
      ),
    );
  };

  it('runs the producer, two appliers and the topic job only under the profile', () => {
    for (const name of ['kafka-topics', 'ferry-producer', 'ferry-applier']) expect(services[name].profiles, name).toEqual(['kafka']);
    expect(services['ferry-applier'].deploy.replicas).toBe(2);
    expect(services['ferry-producer'].depends_on['kafka-topics'].condition).toBe('service_completed_successfully');
    expect(services['ferry-applier'].depends_on['kafka-topics'].condition).toBe('service_completed_successfully');
  });

  it('gives them configs that validate: MySQL into Kafka, and a consumer group into a Postgres schema of its own', () => {
    const producer = configOf('ferry-producer');
    const applier = configOf('ferry-applier');
    expect(producer.source.type).toBe('mysql');
    expect(producer.target.type).toBe('kafka');
    expect(applier.source.type).toBe('kafka');
    expect(applier.target.type).toBe('postgres');
    expect(sqlTarget(applier).schema).not.toBe('shop');
    if (producer.target.type !== 'kafka' || applier.source.type !== 'kafka') throw new Error('kafka ends expected');
    expect(applier.source.topicPrefix).toBe(producer.target.topicPrefix);
    expect(applier.source.brokers).toEqual(producer.target.brokers);
  });

  it("creates every topic the producer needs before it starts: ferry's own with one partition, one per source table", () => {
    const producer = configOf('ferry-producer');
    if (producer.target.type !== 'kafka') throw new Error('kafka target expected');
    const prefix = producer.target.topicPrefix;
    const topics = created();
    expect(topics.get(`${prefix}.ferry.schema`)).toBe(1);
    expect(topics.get(`${prefix}.ferry.checkpoint`)).toBe(1);
    const tables = [...read('deploy/mysql-init.sql').matchAll(/CREATE TABLE (\w+)/g)].map((m) => m[1]);
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables) expect(topics.get(`${prefix}.shop.${t}`), t).toBeGreaterThan(1);
  });
});

describe('Dockerfile', () => {
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = read('Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(l)!;
      return { keyword: keyword!.toUpperCase(), args: args! };
    });
  const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
  const execForm = (args: string) => JSON.parse(args) as string[];

  it('builds in one stage and runs from another', () => {
    const stages = all('FROM');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/^node:20-bookworm-slim\b/);
    expect(instructions.some((i) => i.keyword === 'COPY' && i.args.startsWith('--from='))).toBe(true);
  });

  it('runs as a user that is not root', () => {
    const users = all('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0', '0:0', 'root:root']).not.toContain(users.at(-1));
  });

  it('checks health at /healthz on the port the compose config listens on, with node itself', () => {
    const [healthcheck] = all('HEALTHCHECK');
    expect(healthcheck).toContain('/healthz');
    expect(healthcheck).not.toMatch(/\bcurl\b|\bwget\b/);
    const port = /127\.0\.0\.1:(\d+)\/healthz/.exec(healthcheck!)?.[1];
    expect(all('EXPOSE').join(' ').split(/\s+/)).toContain(port);
    expect(read('deploy/ferry.yaml')).toMatch(new RegExp(`listen:\\s*0\\.0\\.0\\.0:${port}\\b`));
  });

  it('starts `ferry run -c /config/ferry.yaml` from the built CLI', () => {
    const entrypoint = execForm(all('ENTRYPOINT').at(-1)!);
    const cmd = execForm(all('CMD').at(-1)!);
    const bin = (JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin.ferry;
    expect(entrypoint).toEqual(['node', bin]);
    expect(cmd).toEqual(['run', '-c', '/config/ferry.yaml']);
  });
});
