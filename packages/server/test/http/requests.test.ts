import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, ResilientClient } from '../../src/index.js';
import { type LocalServer, reply, startServer } from './local-server.js';

describe('ResilientClient requests (real server on 127.0.0.1)', () => {
  let server: LocalServer;
  let client: ResilientClient;

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/text') return reply(res, 200, 'plain words');
      if (path === '/empty') return reply(res, 200, '');
      if (path === '/no-content') return void res.writeHead(204).end();
      if (path === '/number-as-text') return reply(res, 200, '42');
      if (path === '/broken-json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"unterminated":');
      }
      if (path === '/unicode') return reply(res, 200, { name: 'Zoë 東京 🚀' });
      reply(res, 200, { path, url: req.url, headers: req.headers });
    });
    client = new ResilientClient({ baseUrl: server.url, retryWaitMin: 0.005, retryWaitMax: 0.01 });
    await client.start();
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('parses JSON bodies', async () => {
    await expect(client.getRaw('unicode')).resolves.toEqual({ name: 'Zoë 東京 🚀' });
    await expect(client.getJson('unicode')).resolves.toEqual({ name: 'Zoë 東京 🚀' });
  });

  it('returns the text of a body that is not JSON, and "" for an empty one', async () => {
    await expect(client.getRaw('text')).resolves.toBe('plain words');
    await expect(client.getRaw('broken-json')).resolves.toBe('{"unterminated":');
    await expect(client.getRaw('empty')).resolves.toBe('');
    await expect(client.getRaw('no-content')).resolves.toBe('');
    await expect(client.getJson('empty')).resolves.toBe('');
    // Like the Python client: JSON-looking text is parsed whatever the content type.
    await expect(client.getRaw('number-as-text')).resolves.toBe(42);
  });

  it('sends query parameters: arrays repeat, undefined and null are left out, values are encoded', async () => {
    const seen = (await client.getRaw('items', {
      page: 2,
      tag: ['a', 'b'],
      skip: undefined,
      none: null,
      q: 'a b&c=d/é',
      flag: false,
    })) as { url: string };
    expect(seen.url).toBe('/items?page=2&tag=a&tag=b&q=a+b%26c%3Dd%2F%C3%A9&flag=false');
    const fromSearch = (await client.getRaw('items?fixed=1', new URLSearchParams([['x', '1']]))) as {
      url: string;
    };
    expect(fromSearch.url).toBe('/items?fixed=1&x=1');
  });

  it('sends default and per-request headers', async () => {
    await using withHeaders = new ResilientClient({ baseUrl: server.url, headers: { 'x-api-key': 'k1' } });
    const seen = (await withHeaders.getRaw('h', undefined, { headers: { 'x-request-id': 'r1' } })) as {
      headers: Record<string, string>;
    };
    expect(seen.headers['x-api-key']).toBe('k1');
    expect(seen.headers['x-request-id']).toBe('r1');
  });

  it('joins the base URL and the path with exactly one slash', async () => {
    const pathOf = async (baseUrl: string, path: string) => {
      await using c = new ResilientClient({ baseUrl });
      return ((await c.getRaw(path)) as { url: string }).url;
    };
    expect(await pathOf(server.url, 'data')).toBe('/data');
    expect(await pathOf(`${server.url}/`, '/data')).toBe('/data');
    expect(await pathOf(`${server.url}/api/v1`, 'users/7')).toBe('/api/v1/users/7');
    expect(await pathOf(`${server.url}/api/v1/`, '/users/7')).toBe('/api/v1/users/7');
    expect(await pathOf(`${server.url}/api//`, '//users')).toBe('/api/users');
    expect(await pathOf(`${server.url}/api`, '')).toBe('/api/');
  });

  it('refuses a relative path whose ".." segments climb out of the base path, before any request', async () => {
    await using api = new ResilientClient({ baseUrl: `${server.url}/api/v1` });
    const before = server.requests.length;
    for (const path of ['../admin', 'users/../../v2/x', '%2e%2e/admin', '..']) {
      await expect(api.getRaw(path), path).rejects.toThrow(InvalidOptionError);
      await expect(api.getJson(path), path).rejects.toThrow(
        `option "path" must be a path inside the base URL's path /api/v1/`,
      );
    }
    expect(server.requests.length).toBe(before);
    // Staying inside is fine.
    await expect(api.getRaw('users/../teams/3')).resolves.toMatchObject({ url: '/api/v1/teams/3' });
  });

  it('uses an absolute http(s) path as is, ignoring the base URL', async () => {
    await using other = await startServer((req, res) => reply(res, 200, { other: req.url }));
    await expect(client.getRaw(`${other.url}/elsewhere?x=1`, { y: 2 })).resolves.toEqual({
      other: '/elsewhere?x=1&y=2',
    });
    await using noBase = new ResilientClient();
    await expect(noBase.getRaw(`${other.url}/abs`)).resolves.toEqual({ other: '/abs' });
    await expect(noBase.getRaw('relative')).rejects.toThrow(InvalidOptionError);
    await expect(noBase.getRaw('relative')).rejects.toThrow(
      'an absolute http(s):// URL when the client has no baseUrl',
    );
  });
});
