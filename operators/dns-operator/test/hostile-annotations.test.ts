// Property tests of what the dns-operator reads from objects any tenant may write: the DNS
// annotations, hostnames, TTLs and targets. Each input, random or adversarial up to 1 MiB
// (four times what the API server takes for all of an object's annotations), is read or
// reported as a field error, never thrown, within 50 ms.
import { checkParser, figuresTable, repeated } from '@chousei/testenv/hostile';
import * as fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { annotationHostnames, readAnnotations } from '../src/sources/annotations.js';
import { hostnameError, parseTTL, targetEndpoints } from '../src/sources/validate.js';

const never = () => false;
const hostile = fc.oneof(
  fc.string({ maxLength: 300 }),
  repeated([
    'a',
    '.',
    ',',
    ' ',
    '-',
    '*.',
    '_',
    '1h',
    '30m',
    '9',
    'a.b.c,',
    '::',
    '192.0.2.1',
    'ü',
    '\n',
  ]),
);
const annotated = (annotations: Record<string, string>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'x', namespace: 'n', annotations },
});

describe('dns-operator readers on hostile annotations', () => {
  afterAll(() => console.log(`hostile-input figures (dns-operator)\n${figuresTable()}`));

  it('reads every annotation, reporting bad values as field errors', () => {
    checkParser({
      parser: 'readAnnotations/annotationHostnames',
      inputs: fc.record({
        key: fc.constantFrom('hostname', 'ttl', 'target', 'alias', 'ingress-hostname-source'),
        prefix: fc.constantFrom('dns.chousei.dev/', 'external-dns.alpha.kubernetes.io/'),
        value: hostile,
      }),
      run: ({ key, prefix, value }) => {
        const obj = annotated({ [`${prefix}${key}`]: value, [`${prefix}hostname`]: value });
        readAnnotations(obj);
        return annotationHostnames(obj);
      },
      typed: never,
      size: ({ value }) => value.length,
    });
  });

  it('validates hostnames, TTLs and targets without throwing', () => {
    checkParser({
      parser: 'hostnameError/parseTTL/targetEndpoints',
      inputs: hostile,
      run: (value) => {
        hostnameError(value);
        parseTTL(value);
        return targetEndpoints(['a.test'], [{ value, field: 'f' }], { listField: 'l' });
      },
      typed: never,
      size: (value) => value.length,
    });
  });
});
