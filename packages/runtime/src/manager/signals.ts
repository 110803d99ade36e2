/**
 * An AbortSignal aborted by the first SIGTERM or SIGINT: the cue for a graceful shutdown.
 * A second signal exits at once, for an operator stuck in shutdown.
 */
export function shutdownSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(1);
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return controller.signal;
}
