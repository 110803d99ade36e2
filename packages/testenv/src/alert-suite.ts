import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderChart } from './helm.js';
import { promtool, type RuleFile, ruleFileOf } from './prometheus.js';

export interface AlertSuiteOptions {
  /** The operator's Helm chart, whose PrometheusRule holds the rules. */
  chartDir: string;
  release: string;
  /**
   * promtool unit tests of the rules as the chart renders them by default (`tests:` and
   * `evaluation_interval`; the suite supplies `rule_files`).
   */
  testFile: string;
  /** The page the runbook_url of each alert leads to a section of (docs/troubleshooting.md). */
  runbooks: string;
}

interface AlertRuleTest {
  alertname: string;
  exp_alerts?: unknown[];
}
interface PromtoolTest {
  alert_rule_test?: AlertRuleTest[];
  [key: string]: unknown;
}
interface PromtoolTestFile {
  evaluation_interval?: string;
  tests: PromtoolTest[];
}

/** GitHub's anchor of a Markdown heading. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

/** The tests of one alert: each test's alert_rule_test of that alert only, if any. */
function testsOf(file: PromtoolTestFile, alert: string): PromtoolTest[] {
  return file.tests.flatMap((t) => {
    const mine = (t.alert_rule_test ?? []).filter((a) => a.alertname === alert);
    return mine.length ? [{ ...t, alert_rule_test: mine }] : [];
  });
}

/**
 * An operator's alert rules, checked with Debian's promtool: they load (`check rules`), each
 * alert fires where its tests say and stays silent where they say (`test rules`, one alert
 * at a time), every alert is tested both ways, and each links a runbook that exists.
 */
export function alertSuite(opts: AlertSuiteOptions): void {
  const tests = parse(readFileSync(opts.testFile, 'utf8')) as PromtoolTestFile;
  const tested = [
    ...new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).map((a) => a.alertname))),
  ];

  describe(`${opts.release} alert rules`, () => {
    let dir: string;
    let rules: RuleFile;
    const alerts = () => rules.groups.flatMap((g) => g.rules.flatMap((r) => r.alert ?? []));

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'chousei-alerts-'));
      rules = ruleFileOf(
        await renderChart(opts.chartDir, {
          release: opts.release,
          namespace: opts.release,
          set: { 'prometheusRule.enabled': true, 'prometheusRule.forceEnable': true },
        }),
      );
      await writeFile(join(dir, 'rules.yaml'), stringify(rules));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('load in Prometheus (promtool check rules)', async () => {
      expect(await promtool(['check', 'rules', join(dir, 'rules.yaml')])).toMatch(
        `SUCCESS: ${alerts().length} rules found`,
      );
    });

    it('are each tested, firing and silent', () => {
      expect([...tested].sort()).toEqual([...alerts()].sort());
      for (const alert of alerts()) {
        const expectations = testsOf(tests, alert).flatMap((t) => t.alert_rule_test ?? []);
        expect(
          expectations.some((e) => e.exp_alerts?.length),
          `${alert} firing`,
        ).toBe(true);
        expect(
          expectations.some((e) => !e.exp_alerts?.length),
          `${alert} silent`,
        ).toBe(true);
      }
    });

    it(`each link the section of ${opts.runbooks} named after them (runbook_url)`, async () => {
      const anchors = new Set(
        [...(await readFile(opts.runbooks, 'utf8')).matchAll(/^#+ (.+)$/gm)].map((m) =>
          anchorOf(m[1]!),
        ),
      );
      for (const rule of rules.groups.flatMap((g) => g.rules)) {
        const url = rule.annotations?.runbook_url ?? '';
        const anchor = rule.alert!.toLowerCase();
        expect(url, rule.alert).toMatch(new RegExp(`/docs/troubleshooting\\.md#${anchor}$`));
        expect(anchors.has(anchor), `a heading ${rule.alert} in ${opts.runbooks}`).toBe(true);
      }
    });

    for (const alert of tested) {
      it(`${alert} fires when it should, and only then (promtool test rules)`, async () => {
        const file = join(dir, `${alert}.test.yaml`);
        await writeFile(
          file,
          stringify({ ...tests, rule_files: ['rules.yaml'], tests: testsOf(tests, alert) }),
        );
        expect(await promtool(['test', 'rules', file], dir)).toMatch('SUCCESS');
      });
    }
  });
}
