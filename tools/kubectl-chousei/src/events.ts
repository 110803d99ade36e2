import { ApiError, type Event, Events, type KubeObject } from '@chousei/runtime';
import type { Kube } from './cli.js';

export interface EventSummary {
  /** When it last happened (RFC 3339). */
  time: string;
  type: string;
  reason: string;
  note: string;
  /** Occurrences in its series. */
  count: number;
  reporter: string;
}

/** The latest Events about an object, oldest first, as `kubectl events --for` shows them. */
export async function recentEvents(
  kube: Kube,
  kind: string,
  obj: KubeObject,
  limit = 10,
): Promise<EventSummary[]> {
  const namespace = obj.metadata?.namespace ?? 'default';
  const name = obj.metadata?.name ?? '';
  let events: Event[];
  try {
    events = await kube.client.list(Events, {
      namespace,
      fieldSelector: `regarding.kind=${kind},regarding.name=${name}`,
    });
  } catch (err) {
    // Field selectors on events.k8s.io are the API server's choice: filter here instead.
    if (!(err instanceof ApiError && err.code === 400)) throw err;
    events = (await kube.client.list(Events, { namespace })).filter(
      (e) => e.regarding?.kind === kind && e.regarding.name === name,
    );
  }
  const uid = obj.metadata?.uid;
  return events
    .filter((e) => !uid || !e.regarding?.uid || e.regarding.uid === uid)
    .map((e) => ({
      time:
        e.series?.lastObservedTime ??
        e.eventTime ??
        e.deprecatedLastTimestamp ??
        e.metadata?.creationTimestamp ??
        '',
      type: e.type ?? '',
      reason: e.reason ?? '',
      note: e.note ?? '',
      count: e.series?.count ?? e.deprecatedCount ?? 1,
      reporter: e.reportingController ?? '',
    }))
    .sort((a, b) => Date.parse(a.time) - Date.parse(b.time))
    .slice(-limit);
}
