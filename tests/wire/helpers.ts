/**
 * Hand-building octets for wire tests: hex text, integers, TLV options.
 *
 * @module
 */

/** Octets from hex text; spaces, `:` and `|` are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s:|]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new Error(`bad hex ${text}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Big-endian unsigned integer of `size` octets. */
export function be(value: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = value & 0xff;
    value = Math.floor(value / 256);
  }
  return out;
}

/** Concatenation. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/** One option: code, length of `data` (or `length` if given), data. */
export function opt(
  code: number,
  data: Uint8Array = new Uint8Array(),
  length?: number,
): Uint8Array {
  return cat(be(code, 2), be(length ?? data.length, 2), data);
}

/** ASCII/UTF-8 octets. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** 16 octets of an IPv6 address written as 8 groups, e.g. `addr("2001 db8 0 0 0 0 0 1")`. */
export function addr(groups: string): Uint8Array {
  return cat(...groups.trim().split(/\s+/).map((g) => be(parseInt(g, 16), 2)));
}

/** Client/server header. */
export function csHeader(msgType: number, xid: number): Uint8Array {
  return cat(be(msgType, 1), be(xid, 3));
}

/** Failover header. */
export function foHeader(msgType: number, xid: number, sentTime: number): Uint8Array {
  return cat(be(msgType, 1), be(xid, 3), be(sentTime, 4));
}

/** Relay header. */
export function relayHeader(
  msgType: number,
  hop: number,
  link: Uint8Array,
  peer: Uint8Array,
): Uint8Array {
  return cat(be(msgType, 1), be(hop, 1), link, peer);
}
