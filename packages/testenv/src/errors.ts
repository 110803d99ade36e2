/** A tool or package a test server needs is not installed; says how to install it. */
export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
  constructor(
    readonly what: string,
    readonly install: string,
  ) {
    super(`${what} is not installed; install it with: ${install}`);
  }
}

/** A server did not become ready in time; carries the tail of its output. */
export class StartTimeoutError extends Error {
  override readonly name = 'StartTimeoutError';
  constructor(
    readonly server: string,
    readonly timeoutMs: number,
    readonly output: string,
  ) {
    super(`${server} was not ready after ${timeoutMs} ms; last output:\n${output}`);
  }
}
