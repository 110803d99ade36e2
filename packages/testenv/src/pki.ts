import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireDebian } from './tools.js';

const run = promisify(execFile);

export interface KeyPair {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client';
}

/** Reads a certificate and key written earlier. */
export async function loadKeyPair(certPath: string, keyPath: string): Promise<KeyPair> {
  const [certPem, keyPem] = await Promise.all([
    readFile(certPath, 'utf8'),
    readFile(keyPath, 'utf8'),
  ]);
  return { certPath, keyPath, certPem, keyPem };
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A throwaway certificate authority for one test server, made with the openssl CLI. */
export async function createCA(dir: string, name: string): Promise<KeyPair> {
  const openssl = requireDebian('openssl', 'openssl');
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  await run(openssl, [
    'req',
    '-x509',
    ...EC_KEY,
    '-days',
    '30',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return loadKeyPair(certPath, keyPath);
}

/** A leaf certificate signed by `ca`, for a server (SANs) or a client (CN = user, O = groups). */
export async function issueCert(
  ca: KeyPair,
  dir: string,
  name: string,
  opts: IssueOptions,
): Promise<KeyPair> {
  const openssl = requireDebian('openssl', 'openssl');
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const subject = [
    ...(opts.organizations ?? []).map((o) => `/O=${o}`),
    `/CN=${opts.commonName}`,
  ].join('');
  const sans = [
    ...(opts.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(opts.ipAddresses ?? []).map((ip) => `IP:${ip}`),
  ];
  const ext = [
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext',
    `extendedKeyUsage=${opts.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    ...(sans.length ? ['-addext', `subjectAltName=${sans.join(',')}`] : []),
  ];
  await run(openssl, [
    'req',
    '-x509',
    ...EC_KEY,
    '-days',
    '30',
    '-subj',
    subject,
    ...ext,
    '-CA',
    ca.certPath,
    '-CAkey',
    ca.keyPath,
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return loadKeyPair(certPath, keyPath);
}
