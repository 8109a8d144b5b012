/**
 * Real HTTP(S) servers on 127.0.0.1, port 0, for the upstream-client tests:
 * each records the requests it got and the sockets clients opened.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  /** Path and query as received, e.g. `/items?page=2`. */
  url: string;
  headers: IncomingMessage['headers'];
}

export interface LocalServer {
  /** `http://127.0.0.1:<port>` (or `https://…`), no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Sockets open right now, and the most ever open at once. */
  readonly sockets: { open: number; maxOpen: number; total: number };
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void | Promise<void>;

export interface TlsMaterial {
  key: string;
  cert: string;
}

export async function startServer(handler: Handler, tls?: TlsMaterial): Promise<LocalServer> {
  const requests: RecordedRequest[] = [];
  const sockets = { open: 0, maxOpen: 0, total: 0 };
  const live = new Set<Socket>();
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const index = requests.length;
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    Promise.resolve(handler(req, res, index)).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  };
  const server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener)
    : createHttpServer(listener);
  // Keep-alive sockets must outlive the client's idle timeout for pooling to be observable.
  server.keepAliveTimeout = 10_000;
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    live.add(socket);
    sockets.open++;
    sockets.total++;
    sockets.maxOpen = Math.max(sockets.maxOpen, sockets.open);
    socket.on('close', () => {
      live.delete(socket);
      sockets.open--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of live) socket.destroy();
      server.close(() => resolve());
    });
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    sockets,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Replies `status` with a JSON (object) or text (string) body. */
export function reply(
  res: ServerResponse,
  status: number,
  body: unknown = '',
  headers: Record<string, string> = {},
) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = await startServer(() => {});
  await server.close();
  return server.port;
}

/** A self-signed certificate for 127.0.0.1, made with the `openssl` CLI. */
export function selfSignedCertificate(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-memory-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
