/** The client keeps its own copy of the header names (it must not import server code): both must agree. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as client from '../../packages/client/src/protocol.js';
import * as server from '../../packages/server/src/middleware/hint-headers.js';

describe('the hint headers', () => {
  it('have the same names on both sides', () => {
    expect(client.TTL_HEADER).toBe(server.TTL_HEADER);
    expect(client.CACHE_HEADER).toBe(server.CACHE_HEADER);
    expect(client.POLICY_HEADER).toBe(server.POLICY_HEADER);
    expect(client.INVALIDATES_HEADER).toBe(server.INVALIDATES_HEADER);
    expect(client.TAGS_HEADER).toBe(server.TAGS_HEADER);
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
    const paths = server.formatTargets([
      { kind: 'path', path: 'post.byId' },
      { kind: 'path', path: 'odd path' },
    ]);
    expect(client.parseTargets(paths)).toEqual([
      { kind: 'path', path: 'post.byId' },
      { kind: 'path', path: 'odd path' },
    ]);
    expect(client.parseTargets(server.formatTargets([]))).toEqual([]);
  });

  // Any text, lone surrogates, separators (`,` between calls, ` ` between items, `=`) included.
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 20 });
  const json = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);
  const target = fc.oneof(
    text.map((path) => ({ kind: 'path' as const, path })),
    fc.record({
      kind: fc.constant('input' as const),
      path: text,
      input: fc.option(json, { nil: undefined }),
    }),
    text.map((tag) => ({ kind: 'tag' as const, tag })),
  );

  it('round-trip: every target and tag reads back as written, within one call and beside others (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(target, { maxLength: 5 }), { minLength: 1, maxLength: 3 }), (calls) => {
        const header = server.formatList(calls.map((targets) => server.formatTargets(targets)));
        const entries = header === undefined ? calls.map(() => '-') : client.parseList(header);
        expect(entries?.map(client.parseTargets)).toEqual(
          calls.map((targets) =>
            targets.filter((t, i) => targets.findIndex((u) => JSON.stringify(u) === JSON.stringify(t)) === i),
          ),
        );
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(text, { maxLength: 5 }), { minLength: 1, maxLength: 3 }), (calls) => {
        const header = server.formatList(calls.map((tags) => server.formatTags(tags)));
        const entries = header === undefined ? calls.map(() => '-') : client.parseList(header);
        expect(entries?.map(client.parseTags)).toEqual(calls);
      }),
    );
  });

  it('an input JSON cannot say, or too much to send, widens to its path: never fewer queries', () => {
    expect(
      client.parseTargets(server.formatTargets([{ kind: 'input', path: 'a', input: new Date(0) }])),
    ).toEqual([{ kind: 'path', path: 'a' }]);
    const many = Array.from({ length: 100 }, (_, i) => ({
      kind: 'input' as const,
      path: 'p',
      input: { id: `${i}`.repeat(30) },
    }));
    expect(client.parseTargets(server.formatTargets(many))).toEqual([{ kind: 'path', path: 'p' }]);
    expect(client.parseTags(server.formatTags(Array.from({ length: 500 }, (_, i) => `tag-${i}`)))).toBe('*');
  });
});
