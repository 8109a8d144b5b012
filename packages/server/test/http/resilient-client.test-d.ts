import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type InferSchemaOutput, ResilientClient, type StandardSchema } from '../../src/index.js';

const client = new ResilientClient({ baseUrl: 'http://127.0.0.1:1' });

describe('ResilientClient.getJson types', () => {
  it("infers the result from a schema's output, transforms included", () => {
    const Post = z.object({
      id: z.number(),
      tags: z.array(z.string()),
      published: z.string().transform((s) => new Date(s)),
    });
    expectTypeOf(client.getJson('posts/1', undefined, { schema: Post })).resolves.toEqualTypeOf<{
      id: number;
      tags: string[];
      published: Date;
    }>();
    expectTypeOf<InferSchemaOutput<typeof Post>>().toEqualTypeOf<z.output<typeof Post>>();
  });

  it('takes any Standard Schema, not only zod', () => {
    const Even: StandardSchema<number> = {
      '~standard': {
        version: 1,
        vendor: 'hand-written',
        validate: (value) =>
          typeof value === 'number' && value % 2 === 0 ? { value } : { issues: [{ message: 'not even' }] },
      },
    };
    expectTypeOf(client.getJson('n', { q: 'x' }, { schema: Even })).resolves.toEqualTypeOf<number>();
  });

  it('is unknown without a schema, or what the caller asserts', () => {
    expectTypeOf(client.getJson('posts/1')).resolves.toBeUnknown();
    expectTypeOf(client.getJson<{ id: number }>('posts/1')).resolves.toEqualTypeOf<{ id: number }>();
    expectTypeOf(client.getRaw('posts/1')).resolves.toBeUnknown();
  });

  it('refuses what is not a schema, and query values it cannot send', () => {
    // @ts-expect-error a schema is a Standard Schema object
    client.getJson('posts/1', undefined, { schema: (value: unknown) => value });
    // @ts-expect-error query values are strings, numbers, booleans or lists of them
    client.getJson('posts', { filter: { nested: true } });
  });
});
