import { counter, exponentialBuckets, histogram } from '@chousei/runtime';

// Named for every DNS provider (told apart by the provider label), so dashboards need one
// query whichever provider an operator runs; `counter`/`histogram` register once.
const requests = counter(
  'chousei_dns_provider_requests_total',
  'Requests a DNS provider made to its service, by operation and result.',
  ['provider', 'operation', 'result'],
);

const requestDuration = histogram(
  'chousei_dns_provider_request_duration_seconds',
  'Duration of DNS provider requests, by operation.',
  ['provider', 'operation'],
  exponentialBuckets(0.005, 2, 12),
);

export type RequestResult = 'success' | 'throttled' | 'error';

/** Starts timing one request; call the returned function with its result when it ends. */
export function startRequest(operation: string): (result: RequestResult) => void {
  const labels = { provider: 'route53', operation };
  const end = requestDuration.startTimer(labels);
  return (result) => {
    end();
    requests.inc({ ...labels, result });
  };
}
