// What an AWS SDK error means for the provider: retry it, report it, or give up.
import { ProviderError } from '../provider.js';

/** Codes Route53 (and the SDK) use when a request was refused for its rate, not content. */
const THROTTLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  // Route53 is still applying an earlier change to the zone: wait and resend.
  'PriorRequestNotComplete',
]);

/** Socket errors before any byte was sent: the request certainly did not land. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Socket errors that may have cut a request the service then processed. */
const CUT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** Route53 rejected the content of a change batch: retrying each group alone can help. */
export const CONTENT_CODES: ReadonlySet<string> = new Set(['InvalidChangeBatch', 'InvalidInput']);

export interface ErrorInfo {
  code: string;
  message: string;
  status?: number;
  /** Refused for rate (Throttling, PriorRequestNotComplete, 429). */
  throttled: boolean;
  /** Worth resending: throttled, 5xx, or the network. */
  retryable: boolean;
  /** The service may have applied the request although the caller saw an error (5xx, cut). */
  maybeApplied: boolean;
}

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null
    ? (err as Record<string, unknown>)[key]
    : undefined;
}

/**
 * The messages of an InvalidChangeBatch, one per refused change. Route53 sends them in an
 * `<InvalidChangeBatch><Messages>` body, which the SDK leaves unparsed (name `Unknown`,
 * the list under `Messages.Message`), or as the modeled error's `messages`.
 */
function batchMessages(err: unknown): string[] {
  const modeled = field(err, 'messages');
  const raw = Array.isArray(modeled) ? modeled : field(field(err, 'Messages'), 'Message');
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((m): m is string => typeof m === 'string' && m !== '');
}

export function classify(err: unknown): ErrorInfo {
  const name = String(field(err, 'name') ?? 'Error');
  const sysCode = field(err, 'code');
  const messages = batchMessages(err);
  const code =
    typeof sysCode === 'string' && sysCode !== ''
      ? sysCode
      : messages.length > 0 && name === 'Unknown'
        ? 'InvalidChangeBatch'
        : name;
  const status = field(field(err, '$metadata'), 'httpStatusCode');
  const httpStatus = typeof status === 'number' ? status : undefined;
  const message = messages.length > 0 ? messages.join('; ') : String(field(err, 'message') ?? code);
  const throttled = THROTTLE_CODES.has(code) || THROTTLE_CODES.has(name) || httpStatus === 429;
  const server = httpStatus !== undefined && httpStatus >= 500;
  const cut = CUT.has(code) || TIMEOUT_NAMES.has(name);
  return {
    code,
    message,
    status: httpStatus,
    throttled,
    retryable: throttled || server || cut || NOT_SENT.has(code),
    maybeApplied: server || cut,
  };
}

/** The error as a ProviderError carrying the service's code. */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const info = classify(err);
  return new ProviderError(`route53: ${info.message}`, 'route53', info.code, info.retryable, {
    cause: err,
  });
}
