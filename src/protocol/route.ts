/**
 * Route hints: where a queue's partitions are served, as a front-end's metadata cache sees it, so a
 * client can send a partition's requests straight to its primary's node (subjects.nodeApi) instead
 * of to any node, which would forward them. A hint is advice, never authority: a node that gets a
 * request for a partition it does not serve forwards it to the primary, as for any request.
 *
 * It travels as the header `Wharf-Route` of the answer to every request that names a queue:
 *
 *   <incarnation>;<node>@<epoch>,<node>@<epoch>,…     one entry per partition id, in id order
 *
 * `incarnation` and epochs in base 36; an entry without a node (`@<epoch>`) is a partition without
 * a primary (an election under way). An entry ending `~d` is a draining partition (it takes no
 * sends), `~r` a retired one (src/meta/layout.ts); sends follow the others.
 */
export const ROUTE_HEADER = 'Wharf-Route';

export interface PartitionRoute {
  /** The primary's node, or null while there is none. */
  node: string | null;
  /** The assignment's epoch: a higher one is newer. */
  epoch: number;
  /** Absent: active. */
  state?: 'draining' | 'retired';
}

const STATE_SUFFIX = { draining: '~d', retired: '~r' } as const;

export interface RouteHint {
  incarnation: number;
  partitions: PartitionRoute[];
}

export function encodeRoute(hint: RouteHint): string {
  const entry = (p: PartitionRoute) => `${p.node ?? ''}@${p.epoch.toString(36)}${p.state === undefined ? '' : STATE_SUFFIX[p.state]}`;
  return `${hint.incarnation.toString(36)};${hint.partitions.map(entry).join(',')}`;
}

const ENTRY = /^([A-Za-z0-9_-]{0,64})@([0-9a-z]{1,11})(~[dr])?$/;
const NUMBER = /^[0-9a-z]{1,11}$/;
const MAX_PARTITIONS = 1024;

/** The hint a header carries, or undefined when it is not one (a client ignores what it cannot read). */
export function decodeRoute(header: string): RouteHint | undefined {
  const semi = header.indexOf(';');
  if (semi < 0) return undefined;
  const incarnation = header.slice(0, semi);
  const entries = header.slice(semi + 1).split(',');
  if (!NUMBER.test(incarnation) || entries.length > MAX_PARTITIONS) return undefined;
  const partitions: PartitionRoute[] = [];
  for (const entry of entries) {
    const m = ENTRY.exec(entry);
    if (!m) return undefined;
    const route: PartitionRoute = { node: m[1] === '' ? null : (m[1] as string), epoch: parseInt(m[2] as string, 36) };
    if (m[3] !== undefined) route.state = m[3] === '~d' ? 'draining' : 'retired';
    partitions.push(route);
  }
  return { incarnation: parseInt(incarnation, 36), partitions };
}

/**
 * FNV-1a: the partition of a send that carries a deduplication id follows from the id, so a retry
 * reaches the partition that remembers it. The front-end and the client compute it alike.
 */
export function partitionOfId(id: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}
