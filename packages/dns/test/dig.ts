import type { Dig } from '@chousei/testenv';
import { readValue } from '../src/provider/presentation.js';
import type { RecordSet } from '../src/records.js';

/**
 * What a server answers `dig +short` for a name and type, in the record model's form:
 * dig prints presentation form (quoted TXT with decimal escapes, names with the dot).
 */
export async function digValues(
  server: { dig: Dig },
  name: string,
  type: RecordSet['type'],
): Promise<string[]> {
  return (await server.dig(name, type)).map((line) => readValue(type, line));
}
