#!/usr/bin/env node
// kubectl-chousei: `kubectl chousei GROUP COMMAND ...` (kubectl finds it on PATH and passes
// the arguments after `chousei`, with its environment, KUBECONFIG included).
import { ApiError, ConfigError } from '@chousei/runtime';
import { CliError, type Command } from './cli.js';

/** Command groups; each module is loaded only when used (the dns one pulls the AWS SDK). */
const GROUPS: Record<string, { summary: string; load(): Promise<Command[]> }> = {
  certs: {
    summary: 'cert-operator Certificates: status, renew, inspect',
    load: async () => {
      const [{ certsStatus }, { certsRenew }, { certsInspect }] = await Promise.all([
        import('./certs/status.js'),
        import('./certs/renew.js'),
        import('./certs/inspect.js'),
      ]);
      return [certsStatus, certsRenew, certsInspect];
    },
  },
  dns: {
    summary: 'dns-operator: plan, owners',
    load: async () => {
      const [{ dnsPlan }, { dnsOwners }] = await Promise.all([
        import('./dns/plan.js'),
        import('./dns/owners.js'),
      ]);
      return [dnsPlan, dnsOwners];
    },
  },
};

const isHelp = (arg: string | undefined) =>
  arg === undefined || arg === '--help' || arg === '-h' || arg === 'help';

async function usage(): Promise<string> {
  const lines = ['Usage: kubectl chousei GROUP COMMAND [ARGS] [flags]', ''];
  for (const [group, g] of Object.entries(GROUPS)) {
    lines.push(`${group}: ${g.summary}`);
    for (const c of await g.load())
      lines.push(`  kubectl chousei ${c.name.padEnd(14)} ${c.summary}`);
  }
  lines.push('', 'Every command takes --help, -o json, --kubeconfig, --context and -n NAMESPACE.');
  return `${lines.join('\n')}\n`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [groupName, commandName, ...rest] = argv;
  if (isHelp(groupName)) {
    process.stdout.write(await usage());
    return groupName === undefined ? 2 : 0;
  }
  const group = GROUPS[groupName!];
  if (!group) throw new ConfigError(`unknown command group "${groupName}" (certs, dns)`);
  const commands = await group.load();
  if (isHelp(commandName)) {
    const lines = commands.map((c) => `  kubectl chousei ${c.name.padEnd(14)} ${c.summary}`);
    process.stdout.write(
      `Usage: kubectl chousei ${groupName} COMMAND [ARGS] [flags]\n\n${lines.join('\n')}\n`,
    );
    return commandName === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === `${groupName} ${commandName}`);
  if (!command) {
    const known = commands.map((c) => c.name.split(' ')[1]).join(', ');
    throw new ConfigError(`unknown command "${groupName} ${commandName}" (${known})`);
  }
  return command.run(rest, env);
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const what = ['kubectl chousei', ...process.argv.slice(2, 4)].join(' ');
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${what}: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    if (err instanceof ApiError) {
      process.stderr.write(`error: ${err.status.message ?? err.message}\n`);
      process.exit(1);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
      process.stderr.write(`error: cannot reach the API server: ${(err as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
