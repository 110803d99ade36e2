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

/**
 * Starts timing one request of a provider; call the returned function with its result
 * (`success`, `throttled`, `error`, or the service's own code such as an rcode) when it ends.
 */
export function startRequest(provider: string, operation: string): (result: string) => void {
  const labels = { provider, operation };
  const end = requestDuration.startTimer(labels);
  return (result) => {
    end();
    requests.inc({ ...labels, result });
  };
}
