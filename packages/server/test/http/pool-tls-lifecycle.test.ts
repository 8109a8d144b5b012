import { describe, expect, it } from 'vitest';
import { ResilientClient, ResilientClientClosedError } from '../../src/index.js';
import { gate } from '../helpers/in-flight.js';
import { until } from '../helpers/time.js';
import { reply, selfSignedCertificate, startServer } from './local-server.js';

describe('ResilientClient pooling, TLS and lifecycle (real servers on 127.0.0.1)', () => {
  it('never opens more than maxConnections sockets under 50 parallel requests', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    await using server = await startServer((_req, res, i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        reply(res, 200, { i });
      }, 20);
    });
    await using client = new ResilientClient({ baseUrl: server.url, maxConnections: 5 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.getRaw(`r/${i}`)));
    expect(results).toHaveLength(50);
    expect(server.requests).toHaveLength(50);
    expect(server.sockets.maxOpen).toBe(5);
    expect(maxInFlight).toBe(5);
  });

  it('reuses keep-alive connections, or opens one per request with maxKeepaliveConnections: 0', async () => {
    await using server = await startServer((_req, res) => reply(res, 200, 'ok'));
    await using pooled = new ResilientClient({ baseUrl: server.url });
    for (let i = 0; i < 20; i++) await pooled.getRaw('x');
    // undici may open a second socket while the first is being released; never one per request.
    const kept = server.sockets.total;
    expect(kept).toBeLessThanOrEqual(2);

    await using unpooled = new ResilientClient({ baseUrl: server.url, maxKeepaliveConnections: 0 });
    for (let i = 0; i < 20; i++) await unpooled.getRaw('x');
    expect(server.sockets.total).toBe(kept + 20);
  });

  it('HTTPS with a self-signed certificate: verify: true refuses it, verify: false accepts it', async () => {
    await using server = await startServer(
      (_req, res) => reply(res, 200, { secure: true }),
      selfSignedCertificate(),
    );
    await using strict = new ResilientClient({ baseUrl: server.url, retryAttempts: 1 });
    const refused = await strict.getRaw('x').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TypeError);
    expect(
      JSON.stringify((refused as TypeError).cause, Object.getOwnPropertyNames((refused as TypeError).cause)),
    ).toMatch(/SELF_SIGNED|self-signed|self signed/i);
    await expect(strict.getJson('x')).rejects.toMatchObject({ code: 'BAD_GATEWAY' });
    expect(server.requests).toHaveLength(0);

    await using lenient = new ResilientClient({ baseUrl: server.url, verify: false });
    await expect(lenient.getRaw('x')).resolves.toEqual({ secure: true });
    expect(server.requests).toHaveLength(1);
  });

  it('starts itself on the first request, and start() is idempotent', async () => {
    await using server = await startServer((_req, res) => reply(res, 200, 'ok'));
    const client = new ResilientClient({ baseUrl: server.url });
    expect(client.started).toBe(false);
    await expect(client.getRaw('x')).resolves.toBe('ok');
    expect(client.started).toBe(true);
    await client.start();
    await client.start();
    await expect(client.getRaw('x')).resolves.toBe('ok');
    expect(server.requests).toHaveLength(2);
    await client.close();
  });

  it('after close(), requests fail with an error saying the client was closed; start() reopens it', async () => {
    await using server = await startServer((_req, res) => reply(res, 200, 'ok'));
    const client = new ResilientClient({ baseUrl: server.url });
    await client.start();
    await client.getRaw('x');
    await client.close();
    await client.close();
    expect(client.started).toBe(false);
    await expect(client.getRaw('x')).rejects.toThrow(ResilientClientClosedError);
    await expect(client.getJson('x')).rejects.toThrow(`ResilientClient (${server.url}) was closed`);
    expect(server.requests).toHaveLength(1);
    await client.start();
    await expect(client.getRaw('x')).resolves.toBe('ok');
    await client.close();
  });

  it('close() waits for in-flight requests to finish', async () => {
    const answer = gate();
    await using server = await startServer(async (_req, res) => {
      await answer.opened;
      reply(res, 200, 'done');
    });
    const client = new ResilientClient({ baseUrl: server.url });
    const pending = client.getRaw('slow');
    await until(() => server.requests.length === 1, { what: 'the request reached the server' });
    let closed = false;
    const closing = client.close().then(() => {
      closed = true;
    });
    // close() is still waiting after the tasks that could have ended it early.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    answer.open();
    await closing;
    await expect(pending).resolves.toBe('done');
  });

  it('close() ends a request waiting to retry at once, instead of leaving its sleep running', async () => {
    await using server = await startServer((_req, res) => reply(res, 503, 'busy'));
    let sleeping!: () => void;
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    // A 30 s wait: without close() interrupting it, this test would time out.
    // Not started by hand: the first request opens the client.
    const slow = new ResilientClient({
      baseUrl: server.url,
      retryWaitMin: 30,
      retryWaitMax: 30,
      beforeRetry: () => sleeping(),
    });
    const pending = slow.getJson('x');
    await asleep;
    const outcome = expect(pending).rejects.toThrow(ResilientClientClosedError);
    await slow.close();
    await outcome;
    expect(server.requests).toHaveLength(1);
  });

  it('`await using` closes the client at the end of the scope', async () => {
    await using server = await startServer((_req, res) => reply(res, 200, 'ok'));
    let escaped: ResilientClient | undefined;
    {
      await using client = new ResilientClient({ baseUrl: server.url });
      await expect(client.getRaw('x')).resolves.toBe('ok');
      expect(client.started).toBe(true);
      escaped = client;
    }
    expect(escaped.started).toBe(false);
    await expect(escaped.getRaw('x')).rejects.toThrow('was closed');
  });
});
