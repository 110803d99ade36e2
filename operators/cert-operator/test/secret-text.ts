import type { Secret } from '@chousei/runtime';
import { secretValue } from '../src/controllers/secret.js';

/** A Secret's value as text; empty when the key (or the Secret) is missing. */
export const secretText = (s: Secret | undefined, key: string): string => secretValue(s, key) ?? '';
