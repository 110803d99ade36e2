import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { labelSelectorMatches } from '../src/cache/selector.js';
import { Client } from '../src/client/client.js';
import { ConfigMaps } from '../src/client/resource.js';
import type { LabelSelector } from '../src/client/types.js';

/** The selector in the API server's query syntax, which it evaluates itself. */
function query(s: LabelSelector): string {
  const terms = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const values = `(${(e.values ?? []).join(',')})`;
    terms.push(
      e.operator === 'In'
        ? `${e.key} in ${values}`
        : e.operator === 'NotIn'
          ? `${e.key} notin ${values}`
          : e.operator === 'Exists'
            ? e.key
            : `!${e.key}`,
    );
  }
  return terms.join(',');
}

describe('labelSelectorMatches', () => {
  let client: Client;
  let ns: string;
  const objects: Record<string, Record<string, string>> = {
    none: {},
    web: { tier: 'web', team: 'a' },
    api: { tier: 'api', team: 'a' },
    batch: { tier: 'batch', team: 'b', 'example.com/pci': 'true' },
    untiered: { team: 'b' },
  };

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('selector');
    for (const [name, labels] of Object.entries(objects)) {
      await client.create(ConfigMaps, { metadata: { name, namespace: ns, labels } });
    }
  });

  it('selects what the API server selects', async () => {
    const selectors: LabelSelector[] = [
      {},
      { matchLabels: { team: 'a' } },
      { matchLabels: { team: 'a', tier: 'api' } },
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'batch'] }] },
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] },
      { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
      { matchExpressions: [{ key: 'example.com/pci', operator: 'DoesNotExist' }] },
      {
        matchLabels: { team: 'b' },
        matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['batch'] }],
      },
    ];
    for (const selector of selectors) {
      const server = await client.list(ConfigMaps, {
        namespace: ns,
        labelSelector: query(selector),
      });
      const ours = Object.entries(objects)
        .filter(([, labels]) => labelSelectorMatches(selector, labels))
        .map(([name]) => name);
      expect(ours.sort(), query(selector)).toEqual(server.map((o) => o.metadata?.name).sort());
    }
  });

  it("reads a label's own keys only, never Object's properties", () => {
    const labels = { team: 'web' };
    expect(
      labelSelectorMatches(
        { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] },
        labels,
      ),
    ).toBe(false);
    expect(
      labelSelectorMatches(
        { matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] },
        labels,
      ),
    ).toBe(true);
    expect(labelSelectorMatches({ matchLabels: { constructor: 'x' } }, labels)).toBe(false);
  });
});
