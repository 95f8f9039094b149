/**
 * IP and MAC address text forms: IPv6 in RFC 5952 canonical form, IPv4 dotted quad, and the
 * parsers the packet builders need.
 *
 * @module
 */

import { formatIPv6Bytes, parseIPv6Bytes } from "../util/ipv6_octets.ts";

/** Formats 4 octets at `b[i]` as a dotted quad. */
export function formatIpv4(b: Uint8Array, i = 0): string {
  return `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
}

const CACHE_SIZE = 64;
const cacheKeys = new Uint8Array(CACHE_SIZE * 16);
const cacheText: (string | undefined)[] = new Array(CACHE_SIZE);

/**
 * Formats 16 octets at `b[i]` in RFC 5952 form: lower case, no leading zeros, the longest run
 * (first on a tie) of two or more zero groups as `::`, IPv4-mapped addresses as `::ffff:a.b.c.d`.
 * A small cache makes repeated addresses (the usual case in a capture) cheap.
 */
export function formatIpv6(b: Uint8Array, i = 0): string {
  const slot = (b[i + 15] ^ (b[i + 14] << 2) ^ (b[i + 13] << 4) ^ b[i + 7]) & (CACHE_SIZE - 1);
  const base = slot * 16;
  const cached = cacheText[slot];
  if (cached !== undefined) {
    let k = 0;
    while (k < 16 && cacheKeys[base + k] === b[i + k]) k++;
    if (k === 16) return cached;
  }
  const text = formatIPv6Bytes(b, i);
  for (let k = 0; k < 16; k++) cacheKeys[base + k] = b[i + k];
  cacheText[slot] = text;
  return text;
}

/** Thrown by the address parsers for text that is not an address. */
export class AddressSyntaxError extends Error {
  /** The text that failed to parse. */
  readonly text: string;
  /** Builds the error. */
  constructor(kind: string, text: string) {
    super(`not an ${kind} address: ${JSON.stringify(text)}`);
    this.name = "AddressSyntaxError";
    this.text = text;
  }
}

/** Parses a dotted-quad IPv4 address to 4 octets. */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new AddressSyntaxError("IPv4", text);
  const out = new Uint8Array(4);
  parts.forEach((p, k) => {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new AddressSyntaxError("IPv4", text);
    out[k] = Number(p);
  });
  return out;
}

/** Parses any RFC 4291 textual IPv6 address (with `::` and an optional dotted-quad tail). */
export function parseIpv6(text: string): Uint8Array {
  const out = parseIPv6Bytes(text);
  if (out === undefined) throw new AddressSyntaxError("IPv6", text);
  return out;
}

/** Parses a MAC address `aa:bb:cc:dd:ee:ff` (or with `-`) to 6 octets. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new AddressSyntaxError("Ethernet", text);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}
