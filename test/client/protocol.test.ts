/** The client keeps its own copy of the header names (it must not import server code): both must agree. */
import { describe, expect, it } from 'vitest';
import * as client from '../../packages/client/src/protocol.js';
import * as server from '../../packages/server/src/middleware/hint-headers.js';

describe('the hint headers', () => {
  it('have the same names on both sides', () => {
    expect(client.TTL_HEADER).toBe(server.TTL_HEADER);
    expect(client.CACHE_HEADER).toBe(server.CACHE_HEADER);
    expect(client.POLICY_HEADER).toBe(server.POLICY_HEADER);
    expect(client.INVALIDATES_HEADER).toBe(server.INVALIDATES_HEADER);
  });

  it('round-trip: what the server writes, the client reads', () => {
    const ttl = ['1500', 'inf', '-'].map((entry) =>
      entry === '-'
        ? server.NONE
        : server.formatSeconds(entry === 'inf' ? Number.POSITIVE_INFINITY : Number(entry)),
    );
    expect(client.parseList(ttl.join(', '))?.map(client.parseSeconds)).toEqual([
      1500,
      Number.POSITIVE_INFINITY,
      null,
    ]);
    const sources = server.formatList(['hit', server.NONE, 'miss', 'stale']);
    expect(client.parseList(sources)?.map(client.parseSource)).toEqual(['hit', undefined, 'miss', 'stale']);
    const paths = server.formatPaths(['post.byId', 'odd path']);
    expect(client.parsePaths(paths)).toEqual(['post.byId', 'odd path']);
    expect(client.parsePaths(server.formatPaths([]))).toEqual([]);
  });
});
