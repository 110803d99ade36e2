import { randomBytes } from 'node:crypto';
import { encode } from 'dns-packet';
import { describe, expect, it } from 'vitest';
import {
  axfrRequest,
  errorReply,
  extractTsig,
  sign,
  signStream,
  TSIG_ALGORITHMS,
  TSIG_ERROR,
  TsigError,
  type TsigKey,
  TsigVerifier,
  verifyReply,
} from '../src/provider/rfc2136/index.js';

const key = (algorithm: TsigKey['algorithm'] = 'hmac-sha256'): TsigKey => ({
  name: 'test-key',
  algorithm,
  secret: randomBytes(32).toString('base64'),
});

function reply(id: number, answers: number): Buffer {
  return encode({
    type: 'response',
    id,
    flags: 0,
    questions: [{ type: 'AXFR', name: 'example.test' }],
    answers: Array.from({ length: answers }, (_, i) => ({
      type: 'A' as const,
      name: `h${i}.example.test`,
      ttl: 300,
      data: `192.0.2.${i % 250}`,
    })),
  });
}

/** The TsigError a call throws, for asserting on its code. */
function tsigError(fn: () => void): TsigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TsigError);
    return err as TsigError;
  }
  throw new Error('expected a TsigError');
}

describe('TSIG', () => {
  it.each(TSIG_ALGORITHMS)('signs a request and verifies the reply (%s)', (algorithm) => {
    const k = key(algorithm);
    const message = axfrRequest('example.test', 0x1234);
    const request = sign(message, k);
    expect(request.wire.readUInt16BE(10)).toBe(1); // ARCOUNT now counts the TSIG record
    const parsed = extractTsig(request.wire)!;
    expect(parsed.body.equals(message)).toBe(true);
    expect(parsed.record).toMatchObject({
      keyName: 'test-key',
      // RFC 8945 6: MD5's name on the wire is the long one.
      algorithm: algorithm === 'hmac-md5' ? 'hmac-md5.sig-alg.reg.int' : algorithm,
      originalId: 0x1234,
      error: 0,
    });
    expect(parsed.record.mac.equals(request.mac)).toBe(true);

    const answer = sign(reply(0x1234, 2), k, { requestMac: request.mac });
    expect(() => verifyReply(answer.wire, k, request.mac)).not.toThrow();
  });

  it('rejects a tampered reply', () => {
    const k = key();
    const request = sign(axfrRequest('example.test', 7), k);
    const answer = sign(reply(7, 2), k, { requestMac: request.mac }).wire;
    answer[answer.indexOf(Buffer.from([192, 0, 2, 1]))] = 10; // 192.0.2.1 -> 10.0.2.1
    expect(tsigError(() => verifyReply(answer, k, request.mac)).code).toBe('BADSIG');
  });

  it('rejects a reply signed with another secret, key name or request', () => {
    const k = key();
    const request = sign(axfrRequest('example.test', 7), k);
    const otherSecret = sign(
      reply(7, 1),
      { ...k, secret: key().secret },
      { requestMac: request.mac },
    );
    expect(tsigError(() => verifyReply(otherSecret.wire, k, request.mac)).code).toBe('BADSIG');
    const otherName = sign(reply(7, 1), { ...k, name: 'other' }, { requestMac: request.mac });
    expect(tsigError(() => verifyReply(otherName.wire, k, request.mac)).code).toBe('BADKEY');
    const otherRequest = sign(axfrRequest('example.test', 7), k, { now: 1 });
    const toOther = sign(reply(7, 1), k, { requestMac: otherRequest.mac });
    expect(tsigError(() => verifyReply(toOther.wire, k, request.mac)).code).toBe('BADSIG');
  });

  it('rejects a reply signed outside the fudge', () => {
    const k = key();
    const request = sign(axfrRequest('example.test', 7), k);
    const now = Math.floor(Date.now() / 1000);
    const late = sign(reply(7, 1), k, { requestMac: request.mac, now: now - 301, fudge: 300 });
    expect(tsigError(() => verifyReply(late.wire, k, request.mac)).code).toBe('BADTIME');
    const inTime = sign(reply(7, 1), k, { requestMac: request.mac, now: now - 100, fudge: 300 });
    expect(() => verifyReply(inTime.wire, k, request.mac)).not.toThrow();
  });

  it("finding 15: a TSIG error is the server's word only once the reply's MAC verifies", () => {
    const k = key();
    const request = sign(axfrRequest('example.test', 7), k);
    // Unsigned, as RFC 8945 5.3.2 has servers send BADKEY and BADSIG: never verifiable.
    const unsigned = tsigError(() =>
      verifyReply(errorReply(request.wire, TSIG_ERROR.BADKEY), k, request.mac),
    );
    expect(unsigned).toMatchObject({ code: 'BADKEY', byServer: false });
    expect(unsigned.message).toMatch(
      /^unverified reply: TSIG BADKEY.*test-key.*may as well be forged$/,
    );
    // Signed-looking, with a MAC that does not verify: a bad signature, not the server's BADKEY.
    const forged = errorReply(request.wire, TSIG_ERROR.BADKEY, randomBytes(32));
    const bad = tsigError(() => verifyReply(forged, k, request.mac));
    expect(bad).toMatchObject({ code: 'BADSIG', byServer: false });
    expect(bad.message).toBe('the reply signature does not verify (it claims TSIG BADKEY)');
  });

  it('rejects an unsigned reply and reports a TSIG error from the server by name', () => {
    const k = key();
    const request = sign(axfrRequest('example.test', 7), k);
    expect(tsigError(() => verifyReply(reply(7, 1), k, request.mac)).code).toBe('UNSIGNED');
    const badKey = sign(reply(7, 0), k, { requestMac: request.mac, error: 17 });
    const err = tsigError(() => verifyReply(badKey.wire, k, request.mac));
    expect(err.code).toBe('BADKEY');
    expect(err.byServer).toBe(true);
    expect(err.message).toMatch(/BADKEY.*test-key/);
  });

  describe('multi-message replies (RFC 8945 5.3.1)', () => {
    const stream = (k: TsigKey, mac: Buffer, every: number) =>
      signStream(
        Array.from({ length: 10 }, () => reply(7, 3)),
        k,
        mac,
        { every },
      );
    const verifyAll = (k: TsigKey, mac: Buffer, messages: Buffer[]) => {
      const v = new TsigVerifier(k, mac);
      for (const m of messages) v.verify(m);
      v.finish();
    };

    it.each([1, 3, 4])('verifies a stream signed every %i messages', (every) => {
      const k = key('hmac-sha512');
      const request = sign(axfrRequest('example.test', 7), k);
      const messages = stream(k, request.mac, every);
      const signedCount = messages.filter((m) => extractTsig(m)).length;
      const expected = [...Array(10).keys()].filter((i) => i % every === 0 || i === 9);
      expect(signedCount).toBe(expected.length);
      expect(() => verifyAll(k, request.mac, messages)).not.toThrow();
    });

    it('rejects a tampered unsigned message at the next signed one', () => {
      const k = key();
      const request = sign(axfrRequest('example.test', 7), k);
      const messages = stream(k, request.mac, 3);
      expect(extractTsig(messages[1]!)).toBeUndefined();
      messages[1]![messages[1]!.length - 1]! ^= 1;
      const v = new TsigVerifier(k, request.mac);
      v.verify(messages[0]!);
      v.verify(messages[1]!);
      v.verify(messages[2]!);
      expect(tsigError(() => v.verify(messages[3]!)).code).toBe('BADSIG');
    });

    it('requires the first and the last message to be signed', () => {
      const k = key();
      const request = sign(axfrRequest('example.test', 7), k);
      const messages = stream(k, request.mac, 3);
      const lastUnsigned = [...messages.slice(0, -1), reply(7, 3)];
      expect(tsigError(() => verifyAll(k, request.mac, lastUnsigned)).code).toBe('UNSIGNED');
      const firstUnsigned = [reply(7, 3), ...messages.slice(1)];
      expect(tsigError(() => verifyAll(k, request.mac, firstUnsigned)).code).toBe('UNSIGNED');
    });

    it('rejects reordered messages', () => {
      const k = key();
      const request = sign(axfrRequest('example.test', 7), k);
      const messages = stream(k, request.mac, 1);
      const swapped = [messages[0]!, messages[2]!, messages[1]!, ...messages.slice(3)];
      expect(tsigError(() => verifyAll(k, request.mac, swapped)).code).toBe('BADSIG');
    });
  });
});
