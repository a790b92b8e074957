// @ts-check
/**
 * The packed form of a write batch that crosses to the write thread (write-thread.ts): per
 * operation a type byte, the key's and the value's lengths (uint32 LE), then their bytes. Plain
 * JavaScript, type-checked, because the write thread loads it without tsx (see there).
 */

export const PUT = 1;
export const DEL = 2;
/** Bytes before an operation's key: type, key length, value length. */
export const HEADER = 9;

/**
 * Calls `put` or `del` for each packed operation, in order, with views into `packed` (no copies).
 * @param {Uint8Array} packed
 * @param {(key: Uint8Array, value: Uint8Array) => void} put
 * @param {(key: Uint8Array) => void} del
 */
export function unpackOps(packed, put, del) {
  const view = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  while (at < view.byteLength) {
    const type = view[at];
    const keyLength = view.readUInt32LE(at + 1);
    const valueLength = view.readUInt32LE(at + 5);
    const key = view.subarray(at + HEADER, at + HEADER + keyLength);
    at += HEADER + keyLength;
    if (type === PUT) {
      put(key, view.subarray(at, at + valueLength));
      at += valueLength;
    } else if (type === DEL) {
      del(key);
    } else {
      throw new Error(`bad operation type ${String(type)} in a packed batch`);
    }
  }
}
