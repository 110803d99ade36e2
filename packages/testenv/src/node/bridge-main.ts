// The half of a node network's bridge that runs inside the node's namespace (started with
// nsenter by NodeNetwork): a CONNECT proxy into the namespace on one Unix socket, and
// forwards out of it to the host's proxy, added by JSON lines on stdin:
//   {"id":1,"forward":{"listen":"10.88.0.1:53","to":"127.0.0.1:5353","dns":true}}
// each answered on stdout with {"id":1} or {"id":1,"error":"..."}.
import { chmod } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { forwardDns, forwardTcp, hostPort, serveConnect } from './bridge.js';

interface Config {
  /** Where this side's proxy listens (targets in this namespace). */
  proxy: string;
  /** The host side's proxy, which forwards dial through. */
  hostProxy: string;
}

interface Command {
  id: number;
  forward: { listen: string; to: string; dns?: boolean };
}

const config = JSON.parse(process.argv[2] ?? '') as Config;
await serveConnect(config.proxy, () => true);
// The socket is a door into the node's network: root only.
await chmod(config.proxy, 0o600);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as Command;
  const { listen, to, dns } = cmd.forward;
  try {
    await (dns ? forwardDns : forwardTcp)(hostPort(listen), config.hostProxy, hostPort(to));
    // Both, as a DNS server serves both: TCP for long answers and zone transfers.
    if (dns) await forwardTcp(hostPort(listen), config.hostProxy, hostPort(to));
    process.stdout.write(`${JSON.stringify({ id: cmd.id })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ id: cmd.id, error: (err as Error).message })}\n`);
  }
}
// The host closed stdin: it is done with this node.
process.exit(0);
