'use client';

/** A post as the server-rendered cards show it: title, resolver run, freshness. */
export function PostCard(props: {
  testId: string;
  heading: string;
  post: { title: string; version: number; run: number };
  isStale: boolean;
}) {
  const { testId, heading, post, isStale } = props;
  return (
    <section data-testid={testId} data-version={post.version}>
      <h2>{heading}</h2>
      <p data-testid={`${testId}-title`}>{post.title}</p>
      <small>
        resolver run #{post.run} · {isStale ? 'stale' : 'fresh'}
      </small>
    </section>
  );
}
