/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): a timestamp is the
 * largest wall-clock millisecond its host has seen (its own clock or a timestamp it received) and
 * a counter that orders the events within that millisecond. It never goes backwards when the wall
 * clock steps back, and a host that has seen a timestamp only ever gives larger ones, whatever its
 * own clock says: so an event that causally follows another has the larger timestamp, while the
 * physical part stays within the hosts' clock skew of real time.
 *
 * Pure: the caller passes the wall-clock reading. Packed as 8 bytes, the physical part big-endian
 * in the first 6 (ms since the epoch, good until the year 10889) and the counter in the last 2,
 * so packed timestamps compare bytewise in timestamp order.
 */

export interface Hlc {
  /** Milliseconds since the epoch: the largest wall-clock reading seen. */
  physical: number;
  /** Orders the timestamps given within the same `physical` ms. */
  logical: number;
}

export const HLC_BYTES = 8;
/** The counter's bound (2 bytes). Beyond it the physical part moves on by 1 ms instead. */
export const MAX_LOGICAL = 0xffff;
const MAX_PHYSICAL = 2 ** 48 - 1;

export const ZERO_HLC: Hlc = { physical: 0, logical: 0 };

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.physical - b.physical || a.logical - b.logical;
}

/** One step past `h`: the counter, or the next ms once the counter is full. */
function after(h: Hlc): Hlc {
  return h.logical < MAX_LOGICAL ? { physical: h.physical, logical: h.logical + 1 } : { physical: h.physical + 1, logical: 0 };
}

/** The timestamp of a local event (a message accepted) at wall time `wall`: above `last`, and at least `wall`. */
export function tick(last: Hlc, wall: number): Hlc {
  const physical = Math.floor(wall);
  return physical > last.physical ? { physical, logical: 0 } : after(last);
}

/**
 * The clock after receiving `remote` at wall time `wall`: above both `last` and `remote`, and at
 * least `wall`. A remote timestamp ahead of the local wall clock carries its physical part over
 * (that is what keeps causality); `skewMs` says by how much it was ahead, for the caller to bound.
 */
export function merge(last: Hlc, remote: Hlc, wall: number): { hlc: Hlc; skewMs: number } {
  const physical = Math.floor(wall);
  const skewMs = Math.max(0, remote.physical - physical);
  const top = compareHlc(remote, last) > 0 ? remote : last;
  const hlc = physical > top.physical ? { physical, logical: 0 } : after(top);
  return { hlc, skewMs };
}

export function packHlc(h: Hlc): Uint8Array {
  if (!Number.isInteger(h.physical) || h.physical < 0 || h.physical > MAX_PHYSICAL || !Number.isInteger(h.logical) || h.logical < 0 || h.logical > MAX_LOGICAL) {
    throw new RangeError(`not a hybrid logical clock timestamp: ${h.physical}.${h.logical}`);
  }
  // Byte by byte: a DataView per stamp costs several times the whole rest of a stamp.
  const bytes = new Uint8Array(HLC_BYTES);
  const high = Math.floor(h.physical / 2 ** 32);
  const low = h.physical >>> 0;
  bytes[0] = high >>> 8;
  bytes[1] = high & 0xff;
  bytes[2] = low >>> 24;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = h.logical >>> 8;
  bytes[7] = h.logical & 0xff;
  return bytes;
}

/** The timestamp of 8 packed bytes, or undefined when they are not one. */
export function unpackHlc(bytes: Uint8Array): Hlc | undefined {
  if (bytes.byteLength !== HLC_BYTES) return undefined;
  const [b0, b1, b2, b3, b4, b5, b6, b7] = bytes as unknown as [number, number, number, number, number, number, number, number];
  return { physical: (b0 * 256 + b1) * 2 ** 32 + ((b2 << 24) >>> 0) + b3 * 65_536 + b4 * 256 + b5, logical: b6 * 256 + b7 };
}

/** `<physical>.<logical>`, zero-padded so that the texts sort as the timestamps do. */
export function hlcText(h: Hlc): string {
  return `${String(h.physical).padStart(15, '0')}.${String(h.logical).padStart(5, '0')}`;
}
