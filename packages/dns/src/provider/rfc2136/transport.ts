// Getting DNS messages to a server and replies back: UDP for small requests, TCP for large
// ones, truncated replies and zone transfers (RFC 1035 4.2, RFC 7766), with timeouts and
// retries on network failures.
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { withRetry } from '@chousei/runtime';
import { MAX_MESSAGE_BYTES, readHeader, tooLong, WireError } from './wire.js';

/** Requests up to this size go over UDP (the classic limit without EDNS). */
export const UDP_MAX = 512;

export interface TransportOptions {
  host: string;
  port: number;
  /** Per attempt; for a stream, the longest wait for the next bytes. Default 5000. */
  timeoutMs?: number;
  /** Attempts in all, on network failures. Default 3. */
  attempts?: number;
  /** First retry delay in ms, doubling up to 2 s. Default 200. */
  retryDelayMs?: number;
  /**
   * Told about each failed attempt that will be retried: a network failure, or a reply its
   * check refused.
   */
  onRetry?: (err: Error & { code?: string }, attempt: number) => void;
}

/** The server could not be reached, or stopped answering, on every attempt. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Why an attempt failed: the network, or a reply its check refused. */
type Failure = { lost: NetworkError } | { refused: Error & { code?: string } };

/** One attempt's failure, carried through withRetry as the error it retries on. */
class FailedAttempt extends Error {
  constructor(readonly failure: Failure) {
    super(failureError(failure).message);
  }
}

function failureError(failure: Failure): Error {
  return 'refused' in failure ? failure.refused : failure.lost;
}

export interface Exchange<T> {
  result: T;
  /** Attempts it took: above 1, an earlier attempt may have reached the server. */
  attempts: number;
}

/** A socket-level failure worth retrying; anything else (a bad reply) is not. */
function asNetworkError(err: unknown): NetworkError | undefined {
  if (err instanceof NetworkError) return err;
  const code = (err as { code?: unknown })?.code;
  if (!(err instanceof Error) || typeof code !== 'string' || !code.startsWith('E'))
    return undefined;
  return new NetworkError(err.message, code, { cause: err });
}

export class DnsTransport {
  readonly host: string;
  readonly port: number;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly onRetry: TransportOptions['onRetry'];

  constructor(opts: TransportOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.retryDelayMs = opts.retryDelayMs ?? 200;
    this.onRetry = opts.onRetry;
  }

  /**
   * Sends one request and returns its reply: over UDP when the request is small, falling
   * back to TCP when the reply comes back truncated; over TCP otherwise or when `tcp`.
   * `check` throws for a reply that must not be believed (see retry). `signal` gives up at
   * once (rejecting with its reason), between attempts too.
   */
  exchange(
    request: Buffer,
    opts: {
      tcp?: boolean;
      check?: (reply: Buffer) => void;
      signal?: AbortSignal | undefined;
    } = {},
  ): Promise<Exchange<Buffer>> {
    const useTcp = opts.tcp || request.length > UDP_MAX;
    const { signal } = opts;
    const attempt = async () => {
      if (!useTcp) {
        const reply = await this.udp(request, signal);
        if (!readHeader(reply).truncated) return reply;
        signal?.throwIfAborted();
      }
      const replies = await this.tcp(request, () => true, signal);
      return replies[0]!;
    };
    return this.retry(attempt, opts.check, signal);
  }

  /**
   * Sends one request over TCP and collects replies until `isLast` says one was the last
   * (a zone transfer). `isLast` sees index 0 again when an attempt starts over; `check` sees
   * each attempt's whole stream.
   */
  stream(
    request: Buffer,
    isLast: (reply: Buffer, index: number) => boolean,
    check?: (replies: Buffer[]) => void,
    signal?: AbortSignal,
  ): Promise<Exchange<Buffer[]>> {
    return this.retry(() => this.tcp(request, isLast, signal), check, signal);
  }

  /**
   * Attempts until one succeeds and its result passes `check`. A network failure is retried;
   * so is a reply `check` refuses (a TSIG signature that does not verify): such a reply is
   * treated as corrupt and discarded at once, as draft-sury-dnsop-tsig-clarify updates RFC
   * 8945 5.4 (waiting on for a better one only widens a forger's window), so a forgery costs
   * one attempt. When every attempt ends so, the last refusal is thrown as it is. `signal`
   * ends it at once, with its reason.
   */
  private async retry<T>(
    attempt: () => Promise<T>,
    check: ((result: T) => void) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Exchange<T>> {
    let n = 0;
    try {
      const result = await withRetry(
        async () => {
          n++;
          signal?.throwIfAborted();
          let result: T;
          try {
            result = await attempt();
          } catch (err) {
            if (signal?.aborted) throw signal.reason;
            const lost = asNetworkError(err);
            if (!lost) throw err;
            throw new FailedAttempt({ lost });
          }
          try {
            check?.(result);
          } catch (err) {
            throw new FailedAttempt({ refused: err as Error & { code?: string } });
          }
          return result;
        },
        {
          maxRetries: this.attempts - 1,
          retryable: (err) => err instanceof FailedAttempt,
          backoff: { initialMs: this.retryDelayMs, maxMs: 2000 },
          onRetry: (err, retry) =>
            this.onRetry?.(failureError((err as FailedAttempt).failure), retry),
          signal,
        },
      );
      return { result, attempts: n };
    } catch (err) {
      if (!(err instanceof FailedAttempt)) throw err;
      signal?.throwIfAborted();
      const { failure } = err;
      if ('refused' in failure) throw failure.refused;
      throw new NetworkError(
        `${this.host}:${this.port}: ${failure.lost.message} (after ${n} attempts)`,
        failure.lost.code,
        { cause: failure.lost },
      );
    }
  }

  private udp(request: Buffer, signal: AbortSignal | undefined): Promise<Buffer> {
    const id = request.readUInt16BE(0);
    return new Promise((resolve, reject) => {
      const socket = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
      let finished = false;
      const abort = () => done(signal?.reason as Error);
      const done = (err: Error | undefined, reply?: Buffer) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.removeAllListeners();
        socket.on('error', () => {});
        socket.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      const timer = setTimeout(
        () => done(new NetworkError(`no UDP reply within ${this.timeoutMs} ms`, 'ETIMEDOUT')),
        this.timeoutMs,
      );
      signal?.addEventListener('abort', abort, { once: true });
      // A connected socket hears ICMP port unreachable as ECONNREFUSED: a down server
      // fails fast instead of timing out.
      socket.on('error', (err) => done(err));
      socket.on('message', (msg) => {
        // Ignore strays and forgeries that do not even match the ID.
        if (msg.length >= 12 && msg.readUInt16BE(0) === id && readHeader(msg).response) {
          done(undefined, msg);
        }
      });
      socket.connect(this.port, this.host, () => {
        socket.send(request, (err) => {
          if (err) done(err);
        });
      });
    });
  }

  private tcp(
    request: Buffer,
    isLast: (reply: Buffer, index: number) => boolean,
    signal: AbortSignal | undefined,
  ): Promise<Buffer[]> {
    const id = request.readUInt16BE(0);
    // Its length is written in 16 bits: a longer message (a TSIG record added at the limit)
    // is refused here, not by the length write inside the socket's handler.
    if (request.length > MAX_MESSAGE_BYTES)
      return Promise.reject(new WireError(tooLong(request.length)));
    return new Promise((resolve, reject) => {
      const replies: Buffer[] = [];
      let pending: Buffer = Buffer.alloc(0);
      let finished = false;
      const socket = connect({ host: this.host, port: this.port });
      const abort = () => done(signal?.reason as Error);
      const done = (err?: Error) => {
        if (finished) return;
        finished = true;
        signal?.removeEventListener('abort', abort);
        socket.removeAllListeners();
        socket.on('error', () => {});
        socket.destroy();
        if (err) reject(err);
        else resolve(replies);
      };
      signal?.addEventListener('abort', abort, { once: true });
      // An idle timeout: a long transfer is fine as long as bytes keep coming.
      socket.setTimeout(this.timeoutMs, () =>
        done(new NetworkError(`no TCP data within ${this.timeoutMs} ms`, 'ETIMEDOUT')),
      );
      socket.on('error', (err) => done(err));
      socket.on('close', () =>
        done(new NetworkError('connection closed before the reply was complete', 'ECONNRESET')),
      );
      socket.on('connect', () => {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(request.length);
        socket.write(Buffer.concat([length, request]));
      });
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const size = pending.readUInt16BE(0);
          const reply = pending.subarray(2, 2 + size);
          pending = pending.subarray(2 + size);
          try {
            if (reply.length < 12 || reply.readUInt16BE(0) !== id) {
              throw new NetworkError('TCP reply with a wrong message ID', 'EBADMSG');
            }
            replies.push(reply);
            if (isLast(reply, replies.length - 1)) return done();
          } catch (err) {
            return done(err as Error);
          }
        }
      });
    });
  }
}
