/** The PEM blocks with the given label, in order, each with `\n` line ends and a final one. */
export function splitPem(bundle: string, label = 'CERTIFICATE'): string[] {
  const block = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return [...bundle.matchAll(block)].map((m) => `${m[0].replace(/\r\n?/g, '\n')}\n`);
}
