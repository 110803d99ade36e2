/**
 * Input that is not a certificate, key or request we can read: malformed PEM or DER, or a
 * structure the parsers refuse. Every reader of hostile input (a Secret's tls.crt, a CSR)
 * throws this, whatever went wrong inside.
 */
export class PkiError extends Error {
  override name = 'PkiError';
}

/**
 * The PEM blocks with the given label, in order, each with `\n` line ends and a final one.
 * Found with indexOf, so the time is linear in the input: a lazy regex across the bundle
 * rescans the rest of it from every BEGIN line without an END (quadratic: a 1 MiB run of
 * BEGIN lines took half a minute).
 */
export function splitPem(bundle: string, label = 'CERTIFICATE'): string[] {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const blocks: string[] = [];
  for (let from = 0; ; ) {
    const start = bundle.indexOf(begin, from);
    if (start < 0) break;
    const stop = bundle.indexOf(end, start + begin.length);
    // No END after this BEGIN: none after any later BEGIN either.
    if (stop < 0) break;
    from = stop + end.length;
    blocks.push(`${bundle.slice(start, from).replace(/\r\n?/g, '\n')}\n`);
  }
  return blocks;
}

/**
 * The largest single key, certificate or request PEM the readers parse (a 16384-bit RSA key
 * is 12 KB, a certificate with 100 names 4 KB): beyond it the parsers' own time grows into
 * tens of milliseconds per megabyte for nothing. Bundles may hold many such blocks.
 */
export const MAX_PEM_OBJECT_BYTES = 64 * 1024;

/** Refuses `pem` (one object's text) over MAX_PEM_OBJECT_BYTES before any parser reads it. */
export function checkPemSize(pem: string, what: string): void {
  if (pem.length > MAX_PEM_OBJECT_BYTES) {
    throw new PkiError(
      `the ${what} PEM is ${pem.length} bytes, over the ${MAX_PEM_OBJECT_BYTES / 1024} KiB one fits in`,
    );
  }
}

/**
 * The DER of the first block with the label. Certificates and requests go to @peculiar/x509
 * as DER: its own PEM regex backtracks for long on hostile text (a line of BEGIN tags).
 */
export function pemToDer(pem: string, label = 'CERTIFICATE'): Buffer {
  const block = splitPem(pem, label)[0];
  if (block === undefined) throw new PkiError(`no PEM ${label.toLowerCase()} found`);
  checkPemSize(block, label.toLowerCase());
  const body = block
    .slice(`-----BEGIN ${label}-----`.length, -`-----END ${label}-----\n`.length)
    .replace(/\s+/g, '');
  if (body === '' || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw new PkiError(`the PEM ${label.toLowerCase()} is not base64`);
  }
  return Buffer.from(body, 'base64');
}
