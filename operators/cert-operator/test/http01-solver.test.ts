import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP01Solver } from '../src/solvers/index.js';

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP01Solver', () => {
  const solver = new HTTP01Solver();
  const ch = {
    identifier: 'www.example.test',
    token: 'tok_EN-1',
    keyAuthorization: 'tok_EN-1.thumb',
  };

  beforeAll(() => solver.start(0, '127.0.0.1'));
  afterAll(() => solver.stop());

  it('serves a presented token as text/plain', async () => {
    await solver.present(ch);
    const res = await get(solver.port, `/.well-known/acme-challenge/${ch.token}`);
    expect(res).toEqual({ status: 200, type: 'text/plain', body: ch.keyAuthorization });
    // Validation servers may add a query string; HEAD answers without a body.
    expect((await get(solver.port, `/.well-known/acme-challenge/${ch.token}?x=1`)).status).toBe(
      200,
    );
    expect(await get(solver.port, `/.well-known/acme-challenge/${ch.token}`, 'HEAD')).toMatchObject(
      {
        status: 200,
        body: '',
      },
    );
  });

  it('answers 404 for other paths, methods and unknown tokens', async () => {
    await solver.present(ch);
    for (const path of [
      '/.well-known/acme-challenge/unknown',
      '/.well-known/acme-challenge/',
      `/.well-known/acme-challenge/${ch.token}/x`,
      `/${ch.token}`,
      '/',
    ]) {
      expect((await get(solver.port, path)).status, path).toBe(404);
    }
    expect((await get(solver.port, `/.well-known/acme-challenge/${ch.token}`, 'POST')).status).toBe(
      404,
    );
  });

  it('stops serving a token after cleanUp, keeping the others', async () => {
    const other = { ...ch, token: 'other', keyAuthorization: 'other.thumb' };
    await solver.present(ch);
    await solver.present(other);
    await solver.cleanUp(ch);
    expect((await get(solver.port, `/.well-known/acme-challenge/${ch.token}`)).status).toBe(404);
    expect((await get(solver.port, '/.well-known/acme-challenge/other')).body).toBe('other.thumb');
    await solver.cleanUp(other);
    await solver.cleanUp(other); // twice is harmless
    expect((await get(solver.port, '/.well-known/acme-challenge/other')).status).toBe(404);
  });
});
