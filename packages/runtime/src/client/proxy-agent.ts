import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, type AgentOptions, request as httpsRequest, type RequestOptions } from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

/**
 * An HTTPS agent whose connections tunnel through an HTTP(S) proxy with CONNECT, as kubectl
 * does for a kubeconfig cluster's `proxy-url`: TLS to the API server runs inside the tunnel,
 * with the agent's usual options (CA, client certificate, server name), and keep-alive pools
 * the tunnels. Credentials in the proxy URL go as Proxy-Authorization (basic).
 */
export class ConnectProxyAgent extends Agent {
  constructor(
    private readonly proxy: URL,
    opts: AgentOptions = {},
  ) {
    super(opts);
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    // Node reads the stream only when there is no error.
    const done = (err: Error | null, stream?: Duplex) => callback?.(err, stream as Duplex);
    const target = `${hostForUrl(options.host ?? 'localhost')}:${options.port ?? 443}`;
    const { username, password } = this.proxy;
    const auth = username
      ? `Basic ${Buffer.from(`${decodeURIComponent(username)}:${decodeURIComponent(password)}`).toString('base64')}`
      : undefined;
    const connect = (this.proxy.protocol === 'https:' ? httpsRequest : httpRequest)({
      host: this.proxy.hostname.replace(/^\[|\]$/g, ''),
      port: this.proxy.port || (this.proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: target,
      headers: { host: target, ...(auth ? { 'proxy-authorization': auth } : {}) },
      agent: false,
    });
    connect.once('connect', (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done(
          new Error(`proxy ${this.proxy.host} answered CONNECT ${target} with ${res.statusCode}`),
        );
        return;
      }
      const servername = options.servername ?? options.host ?? '';
      // SNI carries host names only.
      const tls = tlsConnect({
        ...(options as ConnectionOptions),
        socket,
        servername: isIP(servername) ? '' : servername,
      });
      done(null, tls);
    });
    connect.once('error', (err) =>
      done(new Error(`proxy ${this.proxy.host}: ${err.message}`, { cause: err })),
    );
    connect.end();
    return undefined;
  }
}

/** A host as it goes in host:port (IPv6 literals in brackets). */
function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
