/**
 * What ResilientClient's transport (undici's dispatch API under ky, instead of
 * fetch) keeps of fetch's behaviour: redirects, content decoding, error
 * responses that can still be read, fetch-shaped network errors.
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { TRPCError } from '@trpc/server';
import { HTTPError, TimeoutError } from 'ky';
import { describe, expect, it } from 'vitest';
import { ResilientClient } from '../../src/index.js';
import { gate } from '../helpers/in-flight.js';
import { reply, startServer } from './local-server.js';

const fast = { retryWaitMin: 0.005, retryWaitMax: 0.01 };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('ResilientClient transport: what fetch would do', () => {
  it('follows redirects, keeping the method and answering with the final body', async () => {
    await using server = await startServer((req, res) => {
      if (req.url === '/old') return void res.writeHead(301, { location: '/moved' }).end();
      if (req.url === '/moved') return void res.writeHead(302, { location: '/final?x=1' }).end();
      reply(res, 200, { at: req.url, method: req.method });
    });
    await using client = new ResilientClient({ baseUrl: server.url });
    await expect(client.getJson('old')).resolves.toEqual({ at: '/final?x=1', method: 'GET' });
    expect(server.requests.map((r) => r.url)).toEqual(['/old', '/moved', '/final?x=1']);
  });

  it('drops credentials when a redirect leaves the origin', async () => {
    await using other = await startServer((req, res) => reply(res, 200, { headers: req.headers }));
    await using server = await startServer(
      (_req, res) => void res.writeHead(307, { location: `${other.url}/elsewhere` }).end(),
    );
    await using client = new ResilientClient({
      baseUrl: server.url,
      headers: { authorization: 'Bearer secret', 'x-trace': 'abc' },
    });
    const body = (await client.getJson('go')) as { headers: Record<string, string> };
    expect(server.requests[0]?.headers.authorization).toBe('Bearer secret');
    expect(body.headers.authorization).toBeUndefined();
    expect(body.headers['x-trace']).toBe('abc');
  });

  it('gives up on a redirect loop after 20 redirects, as a network error', async () => {
    await using server = await startServer(
      (_req, res) => void res.writeHead(302, { location: '/loop' }).end(),
    );
    await using client = new ResilientClient({ baseUrl: server.url, retryAttempts: 1 });
    const error = await rejection(client.getRaw('loop'));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('fetch failed');
    expect(server.requests).toHaveLength(21);
    await expect(client.getJson('loop')).rejects.toMatchObject({ code: 'BAD_GATEWAY' });
  });

  it('asks for compressed bodies and decodes gzip, deflate (zlib and raw) and br', async () => {
    const body = JSON.stringify({ text: 'zoë '.repeat(500) });
    const encoders: Record<string, (input: Buffer) => Buffer> = {
      gzip: gzipSync,
      deflate: deflateSync,
      'raw-deflate': deflateRawSync,
      br: brotliCompressSync,
    };
    await using server = await startServer((req, res) => {
      const kind = (req.url ?? '').slice(1);
      const encode = encoders[kind];
      if (encode === undefined) return reply(res, 404);
      const encoded = encode(Buffer.from(body));
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': kind === 'raw-deflate' ? 'deflate' : kind,
        'content-length': encoded.length,
      });
      res.end(encoded);
    });
    await using client = new ResilientClient({ baseUrl: server.url });
    for (const kind of Object.keys(encoders)) {
      await expect(client.getJson(kind), kind).resolves.toEqual(JSON.parse(body));
    }
    expect(server.requests[0]?.headers['accept-encoding']).toBe('gzip, deflate, br');
  });

  it('leaves the body alone when the caller sets accept-encoding itself', async () => {
    await using server = await startServer((req, res) =>
      reply(res, 200, { asked: req.headers['accept-encoding'] ?? null }),
    );
    await using client = new ResilientClient({ baseUrl: server.url });
    await expect(
      client.getJson('x', undefined, { headers: { 'accept-encoding': 'identity' } }),
    ).resolves.toEqual({ asked: 'identity' });
  });

  it('keeps the body, status text and headers of an error response readable', async () => {
    await using server = await startServer((_req, res) => {
      res.statusMessage = 'Gone Fishing';
      reply(res, 410, { error: 'post 7 was deleted' }, { 'x-request-id': 'r-1' });
    });
    await using client = new ResilientClient({ baseUrl: server.url });
    const error = await rejection(client.getRaw('posts/7'));
    expect(error).toBeInstanceOf(HTTPError);
    const { response } = error as HTTPError;
    expect(response.status).toBe(410);
    expect(response.statusText).toBe('Gone Fishing');
    expect(response.headers.get('x-request-id')).toBe('r-1');
    await expect(response.json()).resolves.toEqual({ error: 'post 7 was deleted' });

    const mapped = await rejection(client.getJson('posts/7'));
    expect(mapped).toBeInstanceOf(TRPCError);
    expect((mapped as TRPCError).message).toBe('Upstream GET /posts/7 answered 410 Gone Fishing');
  });

  it('a connection dropped mid-body is a network error ("terminated"), and retried', async () => {
    const dropMidBody = (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.destroy(), 10);
    };
    await using flaky = await startServer((_req, res, i) =>
      i === 0 ? dropMidBody(res) : reply(res, 200, { ok: true }),
    );
    await using client = new ResilientClient({ baseUrl: flaky.url, ...fast });
    await expect(client.getJson('x')).resolves.toEqual({ ok: true });
    expect(flaky.requests).toHaveLength(2);

    await using broken = await startServer((_req, res) => dropMidBody(res));
    await using once = new ResilientClient({ baseUrl: broken.url, retryAttempts: 1 });
    const error = await rejection(once.getRaw('x'));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('terminated');
    await expect(once.getJson('x')).rejects.toMatchObject({ code: 'BAD_GATEWAY' });
  });

  it('the timeout counts time queued for a connection, and a request that timed out in the queue is never sent', async () => {
    const body = gate();
    await using server = await startServer(async (req, res) => {
      // Headers at once; the first request's body only once the test lets it end, so the
      // one connection stays busy for as long as the queued request waits.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      if (req.url === '/busy') await body.opened;
      res.end('done');
    });
    // A timeout no loaded machine misses for the first request's headers: only time
    // spent in the queue can use it up.
    await using client = new ResilientClient({
      baseUrl: server.url,
      maxConnections: 1,
      timeout: 1,
      retryAttempts: 1,
    });
    const first = client.getRaw('busy');
    const queued = await rejection(client.getRaw('queued'));
    expect(queued).toBeInstanceOf(TimeoutError);
    body.open();
    await expect(first).resolves.toBe('done');
    // The one connection serves its queue in order: had the timed-out request been
    // sent, it would have reached the server before a request made after it.
    await expect(client.getRaw('probe')).resolves.toBe('done');
    expect(server.requests.map((r) => r.url)).toEqual(['/busy', '/probe']);
  });
});
