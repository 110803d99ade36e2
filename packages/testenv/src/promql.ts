// The metric names and labels a PromQL expression reads, and a check of alert rules and
// Grafana dashboards against what an operator really exports (its /metrics, parsed).
import type { MetricSample } from './operator-process.js';
import type { RuleFile } from './prometheus.js';

/** A vector selector: the metric and the labels its matchers name. */
export interface PromqlSelector {
  metric: string;
  labels: string[];
}

export interface PromqlNames {
  selectors: PromqlSelector[];
  /** Labels of `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` lists. */
  grouping: string[];
}

const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);
// Aggregations may put their grouping before the parenthesis: `sum by (x) (...)`.
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER = /(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?:[a-zA-Z]+[0-9]*)*/y;

/**
 * What an expression reads, by a scan of its tokens (strings, durations and ranges are
 * skipped whole): enough for the selectors and grouping labels of rules and dashboards.
 */
export function promqlNames(expr: string): PromqlNames {
  const selectors: PromqlSelector[] = [];
  const grouping = new Set<string>();
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${i} of: ${expr}`);
  };
  const space = () => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(expr);
    if (m) i += m[0].length;
    return m?.[0];
  };
  const string = () => {
    const quote = expr[i++];
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' && quote !== '`' ? 2 : 1;
    if (i >= expr.length) fail('unterminated string');
    i++;
  };
  /** The label names of a list from its opening bracket to `close`, each read by `item`. */
  const list = (close: string, item: () => void): string[] => {
    const labels: string[] = [];
    for (i++; ; ) {
      space();
      if (expr[i] === close) {
        i++;
        return labels;
      }
      if (expr[i] === ',') {
        i++;
        continue;
      }
      labels.push(match(IDENT) ?? fail('expected a label name'));
      item();
    }
  };
  // {name="value", ...}: the operator and the quoted value after each name.
  const matchers = () =>
    list('}', () => {
      space();
      if (!match(/=~|!~|!=|=/y)) fail('expected a matcher operator');
      space();
      if (!/["'`]/.test(expr[i] ?? '')) fail('expected a quoted value');
      string();
    });
  const labelList = (): string[] => {
    space();
    return expr[i] === '(' ? list(')', () => {}) : [];
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < expr.length && expr[i] !== '\n') i++;
    else if (/["'`]/.test(c)) string();
    // A range or subquery: durations (or a dashboard's $__rate_interval) only.
    else if (c === '[') i = expr.indexOf(']', i) + 1 || fail('unterminated range');
    else if (c === '{') selectors.push({ metric: '', labels: matchers() });
    else if (/[0-9.]/.test(c)) match(NUMBER) ?? i++;
    else if (/[a-zA-Z_:]/.test(c)) {
      const id = match(IDENT)!;
      if (LABEL_LISTS.has(id)) for (const l of labelList()) grouping.add(l);
      else if (!KEYWORDS.has(id.toLowerCase()) && !AGGREGATIONS.has(id)) {
        space();
        // A call: a function's name, not a metric's.
        if (expr[i] !== '(')
          selectors.push({ metric: id, labels: expr[i] === '{' ? matchers() : [] });
      }
    } else i++;
  }
  return { selectors: selectors.filter((s) => s.metric), grouping: [...grouping] };
}

/** A query to check: where it is (for the report), its PromQL, labels its text reads. */
export interface MetricQuery {
  where: string;
  expr: string;
  /** Labels it reads besides the expression's, e.g. an alert annotation's `$labels.name`. */
  labels?: string[];
}

/** Every alert and recording rule of a rule file, with the labels its annotations read. */
export function ruleQueries(rules: RuleFile): MetricQuery[] {
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({
      where: `rule ${r.alert ?? r.record}`,
      expr: r.expr,
      labels: [
        ...new Set(
          Object.values(r.annotations ?? {}).flatMap((text) =>
            [...text.matchAll(/\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1]!),
          ),
        ),
      ],
    })),
  );
}

interface GrafanaPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: GrafanaPanel[];
}

/** Every PromQL query of a Grafana dashboard: its panels' targets and its variables'. */
export function dashboardQueries(dashboard: {
  title?: string;
  panels?: GrafanaPanel[];
  templating?: {
    list?: Array<{ name: string; type: string; query?: string | { query?: string } }>;
  };
}): MetricQuery[] {
  const panels = (list: GrafanaPanel[]): GrafanaPanel[] =>
    list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
  const queries: MetricQuery[] = panels(dashboard.panels ?? []).flatMap((p) =>
    (p.targets ?? []).flatMap((t, n) =>
      t.expr ? [{ where: `${dashboard.title}: panel "${p.title}" target ${n}`, expr: t.expr }] : [],
    ),
  );
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    // label_values(selector, label): the selector is PromQL, the label one it must carry.
    const m = /^label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)$/s.exec(text.trim());
    if (m)
      queries.push({
        where: `${dashboard.title}: variable ${v.name}`,
        expr: m[1]!,
        labels: [m[2]!],
      });
    else queries.push({ where: `${dashboard.title}: variable ${v.name}`, expr: text });
  }
  return queries;
}

export interface MetricCheckOptions {
  /** Labels the scrape adds (job, instance, the target's namespace...): always there. */
  targetLabels: string[];
  /** Series Prometheus makes itself, e.g. `up`: not the operator's to export. */
  prometheusSeries?: string[];
}

/**
 * What `queries` read that `samples` (an operator's /metrics) lack: a metric it does not
 * export, a matcher or grouping label no read metric carries. Empty when all is there.
 */
export function missingMetrics(
  queries: MetricQuery[],
  samples: MetricSample[],
  opts: MetricCheckOptions,
): string[] {
  const problems = new Set<string>();
  const labelsOf = new Map<string, Set<string>>();
  for (const s of samples) {
    const set = labelsOf.get(s.name) ?? new Set<string>();
    for (const l of Object.keys(s.labels)) set.add(l);
    labelsOf.set(s.name, set);
  }
  const target = new Set(opts.targetLabels);
  for (const q of queries) {
    const { selectors, grouping } = promqlNames(q.expr);
    const read = new Set(target);
    for (const s of selectors) {
      if (opts.prometheusSeries?.includes(s.metric)) continue;
      const labels = labelsOf.get(s.metric);
      if (!labels) {
        problems.add(`${q.where}: ${s.metric} is not exported`);
        continue;
      }
      for (const l of labels) read.add(l);
      for (const l of s.labels.filter((l) => !labels.has(l) && !target.has(l)))
        problems.add(`${q.where}: ${s.metric} has no label ${l} (only ${[...labels].join(', ')})`);
    }
    for (const l of [...grouping, ...(q.labels ?? [])].filter((l) => !read.has(l)))
      problems.add(`${q.where}: no metric it reads has the label ${l}`);
  }
  return [...problems];
}
