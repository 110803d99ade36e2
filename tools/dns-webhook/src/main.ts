#!/usr/bin/env node
// chousei-dns-webhook: a Chousei DNS provider (Route53, RFC2136, PowerDNS) served over
// external-dns's webhook provider protocol, so external-dns (--provider=webhook) writes
// through it. Flags -> provider -> the protocol on --listen-address, probes on
// --health-address.
import { runOperator, shutdownSignal, whenAborted } from '@chousei/runtime';
import { helpText, NAME, parseConfig } from './config.js';
import { serve } from './serve.js';

const code = await runOperator({
  name: NAME,
  parse: (argv) => parseConfig(argv),
  help: helpText,
  run: async (config, logger) => {
    const running = await serve(config, logger);
    await whenAborted(shutdownSignal());
    await running.close();
    return 0;
  },
});
process.exit(code);
