import { TRPCError } from '@trpc/server';
import { HTTPError, TimeoutError } from 'ky';
import { describe, expect, it } from 'vitest';
import { ResilientClient, type ResilientClientOptions, type RetryState } from '../../src/index.js';
import { RETRY_DEFAULTS } from '../../src/resilience/default-retry.js';
import { closedPort, reply, startServer } from './local-server.js';

/** Tiny waits keep the suite fast; the schedule itself is tested with fake timers elsewhere. */
const fast: ResilientClientOptions = { retryWaitMin: 0.005, retryWaitMax: 0.01 };

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );

describe('ResilientClient retries and errors (real servers on 127.0.0.1)', () => {
  it('retries 503, 503 and returns the body of the 200', async () => {
    await using server = await startServer((_req, res, i) =>
      i < 2 ? reply(res, 503, 'busy') : reply(res, 200, { ok: true, attempt: i + 1 }),
    );
    await using client = new ResilientClient({ baseUrl: server.url, ...fast });
    await expect(client.getRaw('data')).resolves.toEqual({ ok: true, attempt: 3 });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /data',
      'GET /data',
      'GET /data',
    ]);
  });

  it('never retries a 404: one request, then the HTTPError (getRaw) or NOT_FOUND (getJson)', async () => {
    await using server = await startServer((_req, res) => reply(res, 404, { error: 'no such post' }));
    await using client = new ResilientClient({ baseUrl: server.url, ...fast });

    const raw = await rejection(client.getRaw('posts/9'));
    expect(raw).toBeInstanceOf(HTTPError);
    expect((raw as HTTPError).response.status).toBe(404);
    expect(server.requests).toHaveLength(1);

    const mapped = await rejection(client.getJson('posts/9'));
    expect(mapped).toBeInstanceOf(TRPCError);
    expect(mapped).toMatchObject({
      code: 'NOT_FOUND',
      message: 'Upstream GET /posts/9 answered 404 Not Found',
    });
    expect((mapped as TRPCError).cause).toBeInstanceOf(HTTPError);
    expect(server.requests).toHaveLength(2);
  });

  it('without retryAttempts, makes the requests defaultRetry makes (its one set of defaults)', async () => {
    await using server = await startServer((_req, res) => reply(res, 503, 'down'));
    await using client = new ResilientClient({ baseUrl: server.url, ...fast });
    const raw = await rejection(client.getRaw('x'));
    expect((raw as HTTPError).response.status).toBe(503);
    expect(RETRY_DEFAULTS.attempts).toBe(3);
    expect(server.requests).toHaveLength(RETRY_DEFAULTS.attempts);
  });

  it('makes exactly retryAttempts requests to an always-503 upstream, then throws the 503', async () => {
    await using server = await startServer((_req, res) => reply(res, 503, 'down'));
    const retries: RetryState[] = [];
    await using client = new ResilientClient({
      baseUrl: server.url,
      retryAttempts: 4,
      beforeRetry: (state) => void retries.push(state),
      ...fast,
    });
    const raw = await rejection(client.getRaw('x'));
    expect((raw as HTTPError).response.status).toBe(503);
    expect(server.requests).toHaveLength(4);
    expect(retries.map((s) => s.attempt)).toEqual([1, 2, 3]);

    const mapped = await rejection(client.getJson('x'));
    expect(mapped).toMatchObject({ code: 'SERVICE_UNAVAILABLE', cause: { name: 'HTTPError' } });
    expect(server.requests).toHaveLength(8);
  });

  it.each([
    [500, 'BAD_GATEWAY', 3],
    [502, 'BAD_GATEWAY', 3],
    [504, 'BAD_GATEWAY', 3],
    [400, 'BAD_REQUEST', 1],
    [401, 'UNAUTHORIZED', 1],
    [403, 'FORBIDDEN', 1],
    [409, 'CONFLICT', 1],
    [418, 'BAD_REQUEST', 1],
    [422, 'UNPROCESSABLE_CONTENT', 1],
    [429, 'TOO_MANY_REQUESTS', 1],
  ] as const)('maps an upstream %i to %s after %i request(s)', async (status, code, requests) => {
    await using server = await startServer((_req, res) => reply(res, status, 'nope'));
    await using client = new ResilientClient({ baseUrl: server.url, ...fast });
    await expect(client.getJson('x')).rejects.toMatchObject({ code, cause: { response: { status } } });
    expect(server.requests).toHaveLength(requests);
  });

  it('retries a refused connection, then throws the network error (getRaw) or BAD_GATEWAY (getJson)', async () => {
    const port = await closedPort();
    let retries = 0;
    await using client = new ResilientClient({
      baseUrl: `http://127.0.0.1:${port}`,
      beforeRetry: () => void retries++,
      ...fast,
    });
    const raw = await rejection(client.getRaw('x'));
    expect(raw).toBeInstanceOf(TypeError);
    expect(retries).toBe(2);

    const mapped = await rejection(client.getJson('x'));
    expect(mapped).toBeInstanceOf(TRPCError);
    expect(mapped).toMatchObject({ code: 'BAD_GATEWAY', cause: { name: 'TypeError' } });
    expect((mapped as TRPCError).message).toMatch(/^Upstream GET \/x failed: ECONNREFUSED/);
  });

  it('gives up on a server slower than timeout after retryAttempts attempts (GATEWAY_TIMEOUT)', async () => {
    await using server = await startServer(
      (_req, res) => void setTimeout(() => reply(res, 200, 'late'), 1_000),
    );
    await using client = new ResilientClient({
      baseUrl: server.url,
      timeout: 0.05,
      retryAttempts: 2,
      ...fast,
    });
    const raw = await rejection(client.getRaw('slow'));
    expect(raw).toBeInstanceOf(TimeoutError);
    expect(server.requests).toHaveLength(2);

    const mapped = await rejection(client.getJson('slow'));
    expect(mapped).toMatchObject({ code: 'GATEWAY_TIMEOUT', message: 'Upstream GET /slow timed out' });
    expect((mapped as TRPCError).cause).toBeInstanceOf(TimeoutError);
  });

  it('times out a body that stalls mid-stream', async () => {
    await using server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
    });
    await using client = new ResilientClient({ baseUrl: server.url, timeout: 0.1, retryAttempts: 1 });
    await expect(client.getJson('stall')).rejects.toMatchObject({ code: 'GATEWAY_TIMEOUT' });
  });

  it('frees the connection of a large error response, so the retry does not wait for it', async () => {
    // 2 MB is well past what undici buffers on its own: an unread body would
    // hold the only pooled connection and the second attempt would time out.
    const page = 'x'.repeat(2_000_000);
    await using server = await startServer((_req, res, i) =>
      i === 0 ? reply(res, 503, page) : reply(res, 200, { ok: true }),
    );
    await using client = new ResilientClient({
      baseUrl: server.url,
      maxConnections: 1,
      timeout: 1,
      ...fast,
    });
    await expect(client.getRaw('big-error')).resolves.toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
  });

  it('honours Retry-After on a 429 when asked to', async () => {
    await using server = await startServer((_req, res, i) =>
      i === 0 ? reply(res, 429, 'slow down', { 'retry-after': '0' }) : reply(res, 200, { ok: 1 }),
    );
    await using plain = new ResilientClient({ baseUrl: server.url, ...fast });
    await expect(plain.getJson('x')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    await using polite = new ResilientClient({ baseUrl: server.url, respectRetryAfter: true, ...fast });
    await expect(polite.getJson('x')).resolves.toEqual({ ok: 1 });
  });

  it('rejects bad options when constructed, naming them as the constructor spells them', () => {
    expect(() => new ResilientClient({ timeout: 0 })).toThrow(
      'new ResilientClient(): option "timeout" must be a finite number of seconds > 0',
    );
    expect(() => new ResilientClient({ maxConnections: 0 })).toThrow(
      'option "maxConnections" must be a whole number ≥ 1',
    );
    expect(() => new ResilientClient({ retryAttempts: 0 })).toThrow('option "retryAttempts"');
    expect(() => new ResilientClient({ retryWaitMin: Number.NaN })).toThrow('option "retryWaitMin"');
    expect(() => new ResilientClient({ retryWaitMax: -1 })).toThrow('option "retryWaitMax"');
    expect(() => new ResilientClient({ verify: 'no' as never })).toThrow(
      'option "verify" must be true or false',
    );
    expect(() => new ResilientClient({ baseUrl: 'ftp://files' })).toThrow(
      'option "baseUrl" must be an http:// or https:// URL',
    );
    expect(() => new ResilientClient({ baseUrl: 'http://bad host' })).toThrow(
      'option "baseUrl" must be an http:// or https:// URL',
    );
  });
});
