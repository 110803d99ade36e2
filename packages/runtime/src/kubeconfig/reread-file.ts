import { readFileSync } from 'node:fs';

/** client-go reads the in-cluster token file again after a minute. */
export const DEFAULT_REREAD_MS = 60_000;

/**
 * A file's content, read again at most every `intervalMs`: bound ServiceAccount tokens and
 * mounted certificates rotate, and reading on every request would be wasted work.
 * Throws at construction when the file cannot be read or is empty.
 */
export class RereadFile {
  private value: Buffer;
  private readAt: number;

  constructor(
    readonly path: string,
    private readonly intervalMs: number = DEFAULT_REREAD_MS,
  ) {
    this.value = readNonEmpty(path);
    this.readAt = Date.now();
  }

  read(): Buffer {
    if (Date.now() - this.readAt >= this.intervalMs) {
      this.readAt = Date.now();
      try {
        this.value = readNonEmpty(this.path);
      } catch {
        // Keep the last good content, as client-go does: the kubelet swaps the files by
        // a symlink, and a read in between must not cost a request its credentials.
      }
    }
    return this.value;
  }
}

function readNonEmpty(file: string): Buffer {
  const content = readFileSync(file);
  if (content.toString('utf8').trim() === '') throw new Error(`${file} is empty`);
  return content;
}
