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
  const bytes = new Uint8Array(HLC_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, Math.floor(h.physical / 2 ** 32));
  view.setUint32(2, h.physical % 2 ** 32);
  view.setUint16(6, h.logical);
  return bytes;
}

/** The timestamp of 8 packed bytes, or undefined when they are not one. */
export function unpackHlc(bytes: Uint8Array): Hlc | undefined {
  if (bytes.byteLength !== HLC_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { physical: view.getUint16(0) * 2 ** 32 + view.getUint32(2), logical: view.getUint16(6) };
}

/** `<physical>.<logical>`, zero-padded so that the texts sort as the timestamps do. */
export function hlcText(h: Hlc): string {
  return `${String(h.physical).padStart(15, '0')}.${String(h.logical).padStart(5, '0')}`;
}
