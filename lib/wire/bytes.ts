/**
 * Octet helpers shared by the codec: hex text, equality, a growable writer.
 *
 * @module
 */

import { WireEncodeError } from "./errors.ts";

const HEX = "0123456789abcdef";
const MAX = [0, 0xff, 0xffff, 0xffffff, 0xffffffff];

/** Lower-case hex of `bytes`, optionally with a separator between octets (`"00:11"`). */
export function bytesToHex(bytes: Uint8Array, separator = ""): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0 && separator !== "") s += separator;
    s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  }
  return s;
}

/**
 * Octets from hex text; `:`, `-`, `.` and white space between digit pairs are ignored.
 * Returns undefined for text that is not whole octets of hex.
 */
export function hexToBytes(text: string): Uint8Array | undefined {
  // Fast path: plain hex digits (no separators), as stored DUIDs are.
  if (typeof text === "string" && text.length % 2 === 0) {
    const out = new Uint8Array(text.length / 2);
    let ok = true;
    for (let i = 0; i < out.length; i++) {
      const hi = hexValue(text.charCodeAt(2 * i));
      const lo = hexValue(text.charCodeAt(2 * i + 1));
      if (hi < 0 || lo < 0) {
        ok = false;
        break;
      }
      out[i] = (hi << 4) | lo;
    }
    if (ok) return out;
  }
  const clean = text.replace(/[\s:.\-]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The value of one hex digit's character code, or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** True if both arrays hold the same octets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A growable big-endian writer used by the encoder. */
export class ByteWriter {
  #buf: Uint8Array = new Uint8Array(256);
  #len = 0;

  /** Octets written so far. */
  get length(): number {
    return this.#len;
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /**
   * Writes an unsigned integer of `size` octets (1–4), checking its range. `path` names the
   * field in the error; it is turned into text only when the check fails.
   */
  uint(value: number, size: 1 | 2 | 3 | 4, path: string | { toString(): string }): void {
    const max = MAX[size];
    if (!(value >= 0 && value <= max && Number.isInteger(value))) {
      throw new WireEncodeError(String(path), `${value} is not an integer in 0..${max}`);
    }
    this.#ensure(size);
    for (let i = size - 1; i >= 0; i--) {
      this.#buf[this.#len + i] = value & 0xff;
      value = Math.floor(value / 256);
    }
    this.#len += size;
  }

  /** Writes raw octets. */
  bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** Overwrites a 16-bit value at `at` (for option lengths filled in afterwards). */
  patch16(at: number, value: number): void {
    this.#buf[at] = value >> 8;
    this.#buf[at + 1] = value & 0xff;
  }

  /** A copy of the octets written. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
