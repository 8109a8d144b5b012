import ky from 'ky';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableHttpError } from '../../src/index.js';
import {
  closedPort,
  type LocalServer,
  reply,
  selfSignedCertificate,
  startServer,
} from '../http/local-server.js';

/** What ky throws for a GET of `url`. */
const failure = (url: string, options: Parameters<typeof ky.get>[1] = {}) =>
  ky
    .get(url, { retry: 0, ...options })
    .text()
    .then(
      () => {
        throw new Error(`expected ${url} to fail`);
      },
      (error: unknown) => error,
    );

describe('isRetryableHttpError()', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startServer((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/status/')) return reply(res, Number(path.slice('/status/'.length)), 'x');
      if (path === '/slow') return void setTimeout(() => reply(res, 200, 'late'), 2_000);
      if (path === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        return void setTimeout(() => res.destroy(), 10);
      }
      reply(res, 200, 'ok');
    });
  });
  afterAll(() => server.close());

  it.each([500, 502, 503, 504])('retries an HTTPError with status %i', async (status) => {
    const error = await failure(`${server.url}/status/${status}`);
    expect(error).toMatchObject({ name: 'HTTPError', response: { status } });
    expect(isRetryableHttpError(error)).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 422, 429])(
    'never retries an HTTPError with status %i',
    async (status) => {
      const error = await failure(`${server.url}/status/${status}`);
      expect(error).toMatchObject({ name: 'HTTPError', response: { status } });
      expect(isRetryableHttpError(error)).toBe(false);
    },
  );

  it('retries a refused connection', async () => {
    const error = await failure(`http://127.0.0.1:${await closedPort()}/`);
    expect(error).toBeInstanceOf(TypeError);
    expect(isRetryableHttpError(error)).toBe(true);
  });

  it('retries a timeout', async () => {
    const error = await failure(`${server.url}/slow`, { timeout: 50 });
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(isRetryableHttpError(error)).toBe(true);
  });

  it('retries a connection cut in the middle of the body', async () => {
    const error = await failure(`${server.url}/cut`);
    expect(error).toMatchObject({ name: 'TypeError', message: 'terminated' });
    expect(isRetryableHttpError(error)).toBe(true);
  });

  it('retries a TLS failure (an untrusted certificate)', async () => {
    await using tls = await startServer((_req, res) => reply(res, 200, 'secret'), selfSignedCertificate());
    const error = await failure(tls.url);
    expect(error).toBeInstanceOf(TypeError);
    expect(isRetryableHttpError(error)).toBe(true);
  });

  it('retries Node network errors by code (DNS, reset)', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND upstream.internal'), { code: 'ENOTFOUND' });
    expect(isRetryableHttpError(dns)).toBe(true);
    expect(isRetryableHttpError(new TypeError('fetch failed', { cause: dns }))).toBe(true);
    expect(isRetryableHttpError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      true,
    );
  });

  it('does not retry a cancelled request or anything else', async () => {
    const controller = new AbortController();
    const pending = failure(`${server.url}/slow`, { signal: controller.signal });
    controller.abort();
    const aborted = await pending;
    expect(aborted).toMatchObject({ name: 'AbortError' });
    expect(isRetryableHttpError(aborted)).toBe(false);
    for (const other of [
      new Error('boom'),
      new TypeError('x is not a function'),
      'fetch failed',
      null,
      undefined,
      503,
    ]) {
      expect(isRetryableHttpError(other)).toBe(false);
    }
  });
});
