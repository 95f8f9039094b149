/**
 * IPv6 arithmetic on `bigint`: parsing, RFC 5952 text, prefixes and ranges.
 *
 * An address is a `bigint` in `[0, 2^128)`; a prefix is an address plus a length.
 * Parsing never throws: it returns `undefined` for text that is not an address.
 *
 * @module
 */

import { formatIPv6Bytes, parseIPv6Into } from "./ipv6_octets.ts";

/** The number of addresses in the whole IPv6 space, 2^128. */
export const IPV6_SPACE: bigint = 1n << 128n;

/** The largest IPv6 address, `ffff:…:ffff`. */
export const IPV6_MAX: bigint = IPV6_SPACE - 1n;

/** An IPv6 prefix: `address` has no bits set beyond `length`. */
export interface Prefix {
  /** The first address of the prefix (host bits zero). */
  address: bigint;
  /** Prefix length in bits, 0–128. */
  length: number;
}

/** An inclusive range of addresses, `start <= end`. */
export interface AddressRange {
  /** First address in the range. */
  start: bigint;
  /** Last address in the range (inclusive). */
  end: bigint;
}

/** Scratch octets of the conversions below (synchronous, so one buffer serves every call). */
const OCTETS = new Uint8Array(16);
const OCTETS_VIEW = new DataView(OCTETS.buffer);
const LOW_64 = (1n << 64n) - 1n;

/**
 * Parses IPv6 text (any RFC 4291 §2.2 form, including `::` and a trailing dotted quad).
 * A zone (`%eth0`) is not accepted. Returns `undefined` when the text is not an address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIPv6 } from "@failover6/failover6";
 *
 * assert.equal(parseIPv6("2001:db8::1"), 0x2001_0db8_0000_0000_0000_0000_0000_0001n);
 * assert.equal(parseIPv6("::ffff:192.0.2.1"), 0xffff_c000_0201n);
 * assert.equal(parseIPv6("2001:db8::1%eth0"), undefined);
 * ```
 */
export function parseIPv6(text: string): bigint | undefined {
  if (!parseIPv6Into(text, OCTETS, 0)) return undefined;
  return (OCTETS_VIEW.getBigUint64(0) << 64n) | OCTETS_VIEW.getBigUint64(8);
}

/**
 * Formats an address as RFC 5952 text: lower case, no leading zeros, the longest run
 * (first if tied) of two or more zero groups shortened to `::`; IPv4-mapped addresses
 * (`::ffff:0:0/96`) end in a dotted quad (RFC 5952 §5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIPv6 } from "@failover6/failover6";
 *
 * assert.equal(formatIPv6(0x2001_0db8_0000_0000_0000_0000_0000_0001n), "2001:db8::1");
 * assert.equal(formatIPv6(0n), "::");
 * ```
 */
export function formatIPv6(addr: bigint): string {
  if (addr < 0n || addr > IPV6_MAX) throw new RangeError(`not an IPv6 address: ${addr}`);
  OCTETS_VIEW.setBigUint64(0, addr >> 64n);
  OCTETS_VIEW.setBigUint64(8, addr & LOW_64);
  return formatIPv6Bytes(OCTETS, 0);
}

/** The mask with the first `length` bits set. */
export function prefixMask(length: number): bigint {
  if (!Number.isInteger(length) || length < 0 || length > 128) {
    throw new RangeError(`bad prefix length: ${length}`);
  }
  return length === 0 ? 0n : (IPV6_MAX >> BigInt(128 - length)) << BigInt(128 - length);
}

/** Result of {@linkcode parsePrefix}. */
export type PrefixParse =
  | { ok: true; prefix: Prefix }
  | { ok: false; reason: "syntax" | "address" | "length" | "host-bits" };

/**
 * Parses `addr/len`. With `strict` (the default) host bits beyond the length must be zero;
 * otherwise they are cleared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPrefix, parsePrefix } from "@failover6/failover6";
 *
 * const r = parsePrefix("2001:db8:f0::/48");
 * assert.ok(r.ok);
 * assert.equal(formatPrefix(r.prefix), "2001:db8:f0::/48");
 * assert.deepEqual(parsePrefix("2001:db8::1/32"), { ok: false, reason: "host-bits" });
 * ```
 */
export function parsePrefix(text: string, strict = true): PrefixParse {
  if (typeof text !== "string") return { ok: false, reason: "syntax" };
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, reason: "syntax" };
  const address = parseIPv6(text.slice(0, slash));
  if (address === undefined) return { ok: false, reason: "address" };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return { ok: false, reason: "length" };
  const length = Number(lenText);
  if (length > 128) return { ok: false, reason: "length" };
  const network = address & prefixMask(length);
  if (strict && network !== address) return { ok: false, reason: "host-bits" };
  return { ok: true, prefix: { address: network, length } };
}

/**
 * Formats a prefix as `addr/len` with RFC 5952 address text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPrefix } from "@failover6/failover6";
 *
 * assert.equal(formatPrefix({ address: 0x2001_0db8n << 96n, length: 32 }), "2001:db8::/32");
 * ```
 */
export function formatPrefix(p: Prefix): string {
  return `${formatIPv6(p.address)}/${p.length}`;
}

/** Compares two addresses: negative, zero or positive. */
export function compareIPv6(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `addr + n`, or `undefined` when the result leaves the IPv6 space. */
export function addIPv6(addr: bigint, n: bigint | number): bigint | undefined {
  const r = addr + BigInt(n);
  return r < 0n || r > IPV6_MAX ? undefined : r;
}

/** The last address of a prefix. */
export function prefixLast(p: Prefix): bigint {
  return p.address | (IPV6_MAX ^ prefixMask(p.length));
}

/** The prefix as an inclusive address range. */
export function prefixRange(p: Prefix): AddressRange {
  return { start: p.address, end: prefixLast(p) };
}

/**
 * Whether `addr` lies inside prefix `p`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIPv6, parsePrefix, prefixContains } from "@failover6/failover6";
 *
 * const r = parsePrefix("fd00:f6::/64");
 * assert.ok(r.ok);
 * assert.equal(prefixContains(r.prefix, parseIPv6("fd00:f6::1000")!), true);
 * assert.equal(prefixContains(r.prefix, parseIPv6("fd00:f7::1")!), false);
 * ```
 */
export function prefixContains(p: Prefix, addr: bigint): boolean {
  return (addr & prefixMask(p.length)) === p.address;
}

/** Whether prefix `inner` lies entirely inside prefix `outer`. */
export function prefixContainsPrefix(outer: Prefix, inner: Prefix): boolean {
  return inner.length >= outer.length && prefixContains(outer, inner.address);
}

/** Whether two inclusive ranges share at least one address. */
export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.start <= b.end && b.start <= a.end;
}

/** Number of addresses in an inclusive range. */
export function rangeSize(r: AddressRange): bigint {
  return r.end - r.start + 1n;
}

/** The `n`-th address (0-based) of a range, or `undefined` when `n` is outside it. */
export function nthAddress(r: AddressRange, n: bigint | number): bigint | undefined {
  const i = BigInt(n);
  if (i < 0n) return undefined;
  const a = r.start + i;
  return a > r.end ? undefined : a;
}

/**
 * The `n`-th prefix (0-based) of length `delegatedLength` inside `p`
 * (e.g. the 3rd /56 of a /48), or `undefined` when out of range.
 */
export function nthPrefix(
  p: Prefix,
  delegatedLength: number,
  n: bigint | number,
): Prefix | undefined {
  if (delegatedLength < p.length || delegatedLength > 128) return undefined;
  const i = BigInt(n);
  const count = 1n << BigInt(delegatedLength - p.length);
  if (i < 0n || i >= count) return undefined;
  return { address: p.address + (i << BigInt(128 - delegatedLength)), length: delegatedLength };
}

/** The 16 network-order bytes of an address. */
export function ipv6ToBytes(addr: bigint): Uint8Array {
  if (addr < 0n || addr > IPV6_MAX) throw new RangeError(`not an IPv6 address: ${addr}`);
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, addr >> 64n);
  view.setBigUint64(8, addr & LOW_64);
  return out;
}

/** The address held in 16 network-order bytes starting at `offset`. */
export function bytesToIPv6(bytes: Uint8Array, offset = 0): bigint {
  if (offset < 0 || offset + 16 > bytes.length) {
    throw new RangeError(`need 16 bytes at offset ${offset}, have ${bytes.length - offset}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 16);
  return (view.getBigUint64(0) << 64n) | view.getBigUint64(8);
}

/**
 * Canonical RFC 5952 text of an address given as text, or `undefined` if it is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalIPv6 } from "@failover6/failover6";
 *
 * assert.equal(canonicalIPv6("2001:0DB8:0:0::01"), "2001:db8::1");
 * assert.equal(canonicalIPv6("not an address"), undefined);
 * ```
 */
export function canonicalIPv6(text: string): string | undefined {
  return parseIPv6Into(text, OCTETS, 0) ? formatIPv6Bytes(OCTETS, 0) : undefined;
}
