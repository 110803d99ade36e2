/** A certificate's lifetime when spec.duration is unset (cert-manager's 90 days). */
export const DEFAULT_DURATION_MS = 90 * 24 * 3_600_000;

/**
 * The longest duration text read: far beyond a real one (`2160h0m0s`), and short enough that
 * a hostile megabyte is refused without being scanned.
 */
export const MAX_DURATION_LENGTH = 64;

/**
 * Parses a Go-style duration (`2160h`, `90m`, `1h30m`, `45s`) into milliseconds; undefined
 * when it is not one, is longer than MAX_DURATION_LENGTH, or is too large for a number.
 */
export function parseDuration(text: string): number | undefined {
  if (text.length > MAX_DURATION_LENGTH) return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 && Number.isFinite(total) ? total : undefined;
}

/** The pattern a duration field must match (used by the CRD schema too). */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
