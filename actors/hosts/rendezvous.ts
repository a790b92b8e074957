/**
 * Rendezvous (highest-random-weight) hashing: every host ranks the same candidates for a key in
 * the same order from the key and the candidates' ids alone, with no coordination. Removing a
 * candidate moves only the keys it ranked first, each to its own runner-up, so the shards of a
 * dead host spread over the survivors instead of all landing on one.
 */

/** A 32-bit weight of (key, node): FNV-1a over both, then a murmur3 finaliser to spread close ids. */
export function weight(key: string, node: string): number {
  let h = 0x811c9dc5;
  const mix = (s: string) => {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  };
  mix(key);
  h = Math.imul(h ^ 0, 0x01000193);
  mix(node);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `nodes` from the key's first choice to its last (ties, which need a hash collision, by id). */
export function rank(key: string, nodes: Iterable<string>): string[] {
  return [...new Set(nodes)]
    .map((node) => ({ node, w: weight(key, node) }))
    .sort((a, b) => b.w - a.w || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((c) => c.node);
}

/** The key's first choice among `nodes`, or undefined when there are none. */
export function winner(key: string, nodes: Iterable<string>): string | undefined {
  return rank(key, nodes)[0];
}
