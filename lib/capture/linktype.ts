/**
 * LINKTYPE_* values (tcpdump.org link-layer header types) the dissector understands.
 *
 * @module
 */

/**
 * Link-layer header types understood by `dissect`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LinkType, PcapngWriter } from "@failover6/failover6";
 *
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * assert.equal(writer.addInterface({ linkType: LinkType.ETHERNET }), 0);
 * assert.equal(writer.addInterface({ linkType: LinkType.LINUX_SLL2, name: "any" }), 1);
 * await writer.close();
 * ```
 */
export const LinkType = {
  /** BSD loopback: 4-octet address family in the capturing host's byte order. */
  NULL: 0,
  /** Ethernet II (with 802.1Q / 802.1ad tags). */
  ETHERNET: 1,
  /** Raw IPv4 or IPv6, told apart by the version nibble. */
  RAW: 101,
  /** OpenBSD loopback: 4-octet address family in network byte order. */
  LOOP: 108,
  /** Linux cooked capture v1. */
  LINUX_SLL: 113,
  /** Raw IPv4. */
  IPV4: 228,
  /** Raw IPv6. */
  IPV6: 229,
  /** Linux cooked capture v2. */
  LINUX_SLL2: 276,
} as const;

/** Short names of the link layers `dissect` reports. */
export type LinkName = "null" | "ethernet" | "raw" | "loop" | "sll" | "sll2" | "ipv4" | "ipv6";

const NAMES: Record<number, LinkName> = {
  0: "null",
  1: "ethernet",
  101: "raw",
  108: "loop",
  113: "sll",
  228: "ipv4",
  229: "ipv6",
  276: "sll2",
};

/** The short name of a supported link type, or `null`. */
export function linkName(linkType: number): LinkName | null {
  return NAMES[linkType] ?? null;
}

/** EtherType values. */
export const EtherType = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  /** Pre-standard QinQ outer tag, still seen in the field. */
  QINQ_OLD: 0x9100,
} as const;

/** Address family values for IPv6 used by BSD-derived loopback headers (Linux, NetBSD/OpenBSD, FreeBSD, macOS). */
export const AF_INET6_VALUES: readonly number[] = [10, 24, 28, 30];
/** Address family value for IPv4 in loopback headers. */
export const AF_INET = 2;
