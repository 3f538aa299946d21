import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { promtool } from '../helpers/promtool.js';

// The shipped Prometheus files through promtool itself: the rules, the config as compose mounts
// it, and the rules' unit tests (a firing and a quiet case for every alert, the first error included).

const RULE_FILES = readdirSync(new URL('../../grafana/alerts/', import.meta.url))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `grafana/alerts/${f}`);
const RULE_TESTS = 'grafana/alert-tests/ferry-rules.test.yml';
const readYaml = (path: string) => parseYaml(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')) as any;

describe('promtool on grafana/', () => {
  it('`promtool check rules` accepts every alert rule file', async () => {
    expect(RULE_FILES.length).toBeGreaterThan(0);
    const r = await promtool(['check', 'rules', ...RULE_FILES]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: 8 rules found/);
  });

  it('`promtool check config` accepts grafana/prometheus.yml and finds the alert rules through it', async () => {
    const r = await promtool(['check', 'config', 'grafana/prometheus.yml']);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Checking grafana\/alerts\/ferry-rules\.yml\s+SUCCESS: 8 rules found/);
  });

  it('`promtool test rules` passes the alert tests', async () => {
    const r = await promtool(['test', 'rules', RULE_TESTS]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });

  it('the alert tests have a firing and a quiet case for every alert, and the first error from a counter at 0 fires', () => {
    const alerts: string[] = RULE_FILES.flatMap((f) =>
      readYaml(f)
        .groups.flatMap((g: any) => g.rules.map((r: any) => r.alert))
        .filter(Boolean),
    );
    const tests: any[] = readYaml(RULE_TESTS).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test.map((c: any) => ({ ...c, test: t })));
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} never fires in ${RULE_TESTS}`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} has no quiet case in ${RULE_TESTS}`,
      ).toBe(true);
    }
    const firstError = cases.find((c) => c.alertname === 'FerryErrorsIncreasing' && c.exp_alerts.length > 0);
    const counters: any[] = firstError.test.input_series.filter((s: any) => s.series.startsWith('ferry_errors_total'));
    expect(
      counters.some((s) => /^0 (0 )*1\b/.test(s.values)),
      'a ferry_errors_total series going from 0 to 1',
    ).toBe(true);
  });
});
