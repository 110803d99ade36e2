import { describe, expect, it } from 'vitest';
import {
  dashboardQueries,
  missingMetrics,
  parseMetrics,
  promqlNames,
  ruleQueries,
} from '../src/index.js';

describe('promqlNames', () => {
  it('finds selectors and their matcher labels, not functions, aggregations or keywords', () => {
    expect(
      promqlNames(
        'sum by (namespace, job) (rate(a_total{job="x", status=~"5..|error"}[5m])) / ignoring (status) group_left sum without (le) (b) > 0.1 and on (job) c offset 1h unless absent(up{job="x"} == 1)',
      ),
    ).toEqual({
      selectors: [
        { metric: 'a_total', labels: ['job', 'status'] },
        { metric: 'b', labels: [] },
        { metric: 'c', labels: [] },
        { metric: 'up', labels: ['job'] },
      ],
      grouping: ['namespace', 'job', 'status', 'le'],
    });
  });

  it('skips strings, durations, numbers and dashboard variables in ranges', () => {
    expect(
      promqlNames(
        'histogram_quantile(0.99, sum(rate(x_bucket{c=~"$controller", d="a}b"}[$__rate_interval])) by (le)) - time() < 21 * 86400 and 1e3 > count_values("by", y)',
      ),
    ).toEqual({
      selectors: [
        { metric: 'x_bucket', labels: ['c', 'd'] },
        { metric: 'y', labels: [] },
      ],
      grouping: ['le'],
    });
  });

  it('names where an expression does not parse', () => {
    expect(() => promqlNames('a{job="x"')).toThrow(/at offset \d+ of: a\{job="x"/);
    expect(() => promqlNames('a{job}')).toThrow(/expected a matcher operator/);
  });
});

describe('missingMetrics', () => {
  const samples = parseMetrics(
    [
      '# HELP never_observed_total a labelled counter never incremented',
      '# TYPE never_observed_total counter',
      'requests_total{endpoint="a",status="200"} 3',
      'ready{namespace="ns",name="c",condition="True"} 1',
      'latency_seconds_bucket{le="0.1"} 1',
    ].join('\n'),
  );
  const opts = { targetLabels: ['job', 'instance'], prometheusSeries: ['up'] };

  it('passes what is exported with the labels read, target labels and Prometheus series aside', () => {
    expect(
      missingMetrics(
        [
          {
            where: 'rule A',
            expr: 'max by (namespace, name) (ready{job="x", condition="False"}) == 1 or absent(up{job="x"})',
            labels: ['namespace'],
          },
          {
            where: 'panel',
            expr: 'histogram_quantile(0.9, sum by (le, job) (rate(latency_seconds_bucket[5m])))',
          },
        ],
        samples,
        opts,
      ),
    ).toEqual([]);
  });

  it('names a metric not exported (HELP alone is no series), a label it lacks, a grouping label nobody has', () => {
    expect(
      missingMetrics(
        [
          { where: 'rule A', expr: 'rate(never_observed_total[5m]) > 0' },
          { where: 'rule B', expr: 'sum by (zone) (requests_total{result="error"})' },
          { where: 'rule C', expr: 'ready > 0', labels: ['issuer'] },
        ],
        samples,
        opts,
      ),
    ).toEqual([
      'rule A: never_observed_total is not exported',
      'rule B: requests_total has no label result (only endpoint, status)',
      'rule B: no metric it reads has the label zone',
      'rule C: no metric it reads has the label issuer',
    ]);
  });
});

describe('rule and dashboard queries', () => {
  it("reads alerts' expressions with the labels their annotations use", () => {
    expect(
      ruleQueries({
        groups: [
          {
            name: 'g',
            rules: [
              {
                alert: 'A',
                expr: 'x > 0',
                annotations: { summary: '{{ $labels.namespace }}/{{ $labels.name }} {{ $value }}' },
              },
            ],
          },
        ],
      }),
    ).toEqual([{ where: 'rule A', expr: 'x > 0', labels: ['namespace', 'name'] }]);
  });

  it("reads a dashboard's panel targets (rows included) and its query variables", () => {
    expect(
      dashboardQueries({
        title: 'D',
        panels: [
          { title: 'p', targets: [{ expr: 'a' }] },
          { title: 'row', panels: [{ title: 'q', targets: [{ expr: 'b' }] }] },
        ],
        templating: {
          list: [
            { name: 'datasource', type: 'datasource', query: 'prometheus' },
            { name: 'job', type: 'query', query: { query: 'label_values(up{x="y"}, job)' } },
          ],
        },
      }),
    ).toEqual([
      { where: 'D: panel "p" target 0', expr: 'a' },
      { where: 'D: panel "q" target 0', expr: 'b' },
      { where: 'D: variable job', expr: 'up{x="y"}', labels: ['job'] },
    ]);
  });
});
