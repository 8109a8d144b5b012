'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '~/trpc/react';

/**
 * The mutation's `invalidates(({ input }) => [{ tag: `post:${input.id}` }])` drops the
 * renamed post's server entries; mirrorServerTtl refetches the queries showing it.
 */
export function RenamePost() {
  const trpc = useTRPC();
  const [id, setId] = useState('home');
  const [title, setTitle] = useState('Renamed');
  const rename = useMutation(trpc.post.rename.mutationOptions());
  return (
    <section>
      <h2>Rename a post</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          rename.mutate({ id, title });
        }}
      >
        <select data-testid="rename-id" value={id} onChange={(event) => setId(event.target.value)}>
          <option value="home">the latest post</option>
          <option value="a">post a</option>
          <option value="b">post b</option>
        </select>{' '}
        <input data-testid="rename-input" value={title} onChange={(event) => setTitle(event.target.value)} />{' '}
        <button data-testid="rename" type="submit" disabled={rename.isPending}>
          Rename
        </button>{' '}
        {rename.isSuccess && (
          <small data-testid="renamed">
            renamed post {rename.data.id} to version {rename.data.version}
          </small>
        )}
      </form>
    </section>
  );
}
