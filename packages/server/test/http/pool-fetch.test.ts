/**
 * The platform-fetch transport that edge and worker runtimes get through the
 * `#http-pool` import (Node gets undici's): run here on Node's own fetch
 * against real local servers. The edge-runtime emulation test runs it through
 * `ResilientClient` inside the Edge Runtime.
 */
import ky, { HTTPError, TimeoutError } from 'ky';
import { describe, expect, it, vi } from 'vitest';
import { transport } from '../../src/http/pool-fetch.js';
import { reply, startServer } from './local-server.js';

function clientWith(timeout: number) {
  const pool = transport.openPool({
    timeout,
    verify: true,
    maxConnections: 20,
    maxKeepaliveConnections: 10,
    keepAliveTimeout: 5,
  });
  return ky.create({ retry: 0, timeout: false, ...pool.kyOptions });
}

describe('the fetch transport', () => {
  it('names itself and leaves connections to the platform', () => {
    expect(transport.name).toBe('fetch');
    expect(transport.controlsConnections).toBe(false);
  });

  it('returns status, headers and the whole body', async () => {
    await using server = await startServer((req, res) =>
      reply(res, 200, { path: req.url }, { 'x-upstream': 'yes' }),
    );
    const response = await clientWith(5).get(`${server.url}/items?page=2`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-upstream')).toBe('yes');
    expect(await response.json()).toEqual({ path: '/items?page=2' });
  });

  it('keeps error statuses for ky (HTTPError with a readable body) and answers 204 without a body', async () => {
    await using server = await startServer((req, res) =>
      req.url === '/empty' ? reply(res, 204) : reply(res, 503, { error: 'down' }),
    );
    const client = clientWith(5);
    const empty = await client.get(`${server.url}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const error = await client.get(`${server.url}/down`).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(HTTPError);
    expect((error as HTTPError).response.status).toBe(503);
    expect(await (error as HTTPError).response.json()).toEqual({ error: 'down' });
  });

  it("bounds the whole attempt: ky's TimeoutError for late headers and for a body that stalls", async () => {
    await using server = await startServer((req, res) => {
      if (req.url === '/late') return void setTimeout(() => reply(res, 200, 'late'), 2_000);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first half, ');
      setTimeout(() => res.end('then the rest'), 2_000);
    });
    const client = clientWith(0.05);
    await expect(client.get(`${server.url}/late`)).rejects.toBeInstanceOf(TimeoutError);
    await expect(client.get(`${server.url}/stalls`).then((r) => r.text())).rejects.toBeInstanceOf(
      TimeoutError,
    );
  });

  it("rejects with the caller's abort reason, before and during the request", async () => {
    await using server = await startServer((_req, res) => void setTimeout(() => reply(res, 200, 'x'), 2_000));
    const client = clientWith(5);
    const reason = new Error('resolver cancelled');
    await expect(client.get(server.url, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);

    const controller = new AbortController();
    const pending = client.get(server.url, { signal: controller.signal });
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('reports a refused connection as fetch does (a TypeError)', async () => {
    const server = await startServer(() => {});
    await server.close();
    await expect(clientWith(5).get(server.url)).rejects.toBeInstanceOf(TypeError);
  });
});
