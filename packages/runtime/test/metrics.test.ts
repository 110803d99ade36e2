import { parseMetrics } from '@chousei/testenv';
import { describe, expect, it } from 'vitest';
import { collectedGauge, gauge, metricsRegistry } from '../src/index.js';

describe('collectedGauge', () => {
  const series = async (name: string) =>
    parseMetrics(await metricsRegistry.metrics())
      .filter((m) => m.name === name)
      .map((m) => `${m.labels.item}=${m.value}`)
      .sort();

  it('reads its series from every source at each scrape, and none after a source is removed', async () => {
    const items = new Map([['a', 1]]);
    const g = collectedGauge('test_collected_items', 'Items', ['item']);
    const remove = g.collectFrom(function* () {
      for (const [item, value] of items) yield { labels: { item }, value };
    });
    const other = g.collectFrom(() => [{ labels: { item: 'z' }, value: 9 }]);
    expect(await series('test_collected_items')).toEqual(['a=1', 'z=9']);
    items.set('b', 2);
    items.delete('a');
    expect(await series('test_collected_items')).toEqual(['b=2', 'z=9']);
    remove();
    other();
    expect(await series('test_collected_items')).toEqual([]);
  });

  it('is registered once per process, and refuses a name a plain gauge has', () => {
    const g = collectedGauge('test_collected_once', 'Once', ['item']);
    expect(collectedGauge('test_collected_once', 'Once', ['item'])).toBe(g);
    gauge('test_plain', 'Plain', []);
    expect(() => collectedGauge('test_plain', 'Plain', [])).toThrow(/not a CollectedGauge/);
  });
});
