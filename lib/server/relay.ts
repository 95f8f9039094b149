/**
 * Relayed traffic (RFC 8415 §9, §13.1, §18.3.10, §19.3): unwrapping nested Relay-forw
 * messages, wrapping the answer in Relay-repl messages through the same relays in reverse
 * order (hop-count, link-address and peer-address copied, Interface-Id echoed), and choosing
 * the client's subnet from the interface, the relays' Interface-Ids and link-addresses.
 *
 * @module
 */

import { formatIPv6, parseIPv6, prefixContains } from "../util/ipv6.ts";
import { bytesToHex } from "../wire/bytes.ts";
import { findOption, isMalformedOption } from "../wire/options.ts";
import type { ClientServerMessage, DhcpOption, Message, RelayMessage } from "../wire/types.ts";
import type { ServerSettings, SubnetSettings } from "./settings.ts";

/** One relay a message came through. */
export interface RelayHop {
  /** hop-count of its Relay-forw. */
  hopCount: number;
  /** link-address (RFC 5952). */
  linkAddress: string;
  /** peer-address (RFC 5952). */
  peerAddress: string;
  /** Interface-Id option data, when the relay sent one (echoed in the Relay-repl). */
  interfaceId?: Uint8Array;
}

/** Result of {@linkcode unwrapRelay}. */
export type Unwrapped =
  | {
    ok: true;
    /** The relays, outermost (the one that sent us the datagram) first; empty when direct. */
    hops: RelayHop[];
    /** The client's message. */
    message: ClientServerMessage;
  }
  | {
    ok: false;
    /** `relay-no-message`, `malformed` or `not-for-server` (a Relay-repl, or a failover message). */
    reason: "relay-no-message" | "malformed" | "not-for-server" | "unsupported-type";
    /** One line. */
    detail: string;
    /** Type of the innermost message reached, when known. */
    requestType?: number;
  };

/** Deepest relay chain followed (the decoder already stops at HOP_COUNT_LIMIT + 1). */
const MAX_HOPS = 32;

/**
 * Peels Relay-forw layers off `message`. A direct client message comes back with no hops.
 * Relay-repl, failover messages and Relay-forw without a decodable Relay Message fail.
 */
export function unwrapRelay(message: Message): Unwrapped {
  const hops: RelayHop[] = [];
  let m: Message = message;
  while (m.kind === "relay") {
    if (m.msgType !== 12) {
      return {
        ok: false,
        reason: "not-for-server",
        detail: "a Relay-reply is not for a server",
        requestType: m.msgType,
      };
    }
    if (hops.length >= MAX_HOPS) {
      return { ok: false, reason: "malformed", detail: "relay chain too deep", requestType: 12 };
    }
    if (m.options.some(isMalformedOption)) {
      return {
        ok: false,
        reason: "malformed",
        detail: `malformed option in Relay-forw at hop ${hops.length}`,
        requestType: 12,
      };
    }
    const inner = findOption(m.options, 9);
    if (!inner) {
      return {
        ok: false,
        reason: "relay-no-message",
        detail: `Relay-forw at hop ${hops.length} has no usable Relay Message option`,
        requestType: 12,
      };
    }
    const ifid = findOption(m.options, 18);
    hops.push({
      hopCount: m.hopCount,
      linkAddress: m.linkAddress,
      peerAddress: m.peerAddress,
      ...(ifid ? { interfaceId: ifid.interfaceId } : {}),
    });
    m = inner.message;
  }
  if (m.kind !== "client-server") {
    return {
      ok: false,
      reason: "unsupported-type",
      detail: `a failover message (type ${m.msgType}) on the DHCPv6 port`,
      requestType: m.msgType,
    };
  }
  return { ok: true, hops, message: m };
}

/**
 * Wraps `reply` for the relays in `hops` (outermost first): the innermost relay's Relay-repl
 * carries the reply, each outer one carries the inner Relay-repl. Interface-Id is echoed.
 */
export function wrapRelayReply(hops: readonly RelayHop[], reply: Message): Message {
  let m = reply;
  for (let i = hops.length - 1; i >= 0; i--) {
    const h = hops[i];
    const options: DhcpOption[] = [];
    if (h.interfaceId !== undefined) options.push({ code: 18, interfaceId: h.interfaceId });
    options.push({ code: 9, message: m });
    const r: RelayMessage = {
      kind: "relay",
      msgType: 13,
      hopCount: h.hopCount,
      linkAddress: h.linkAddress,
      peerAddress: h.peerAddress,
      options,
    };
    m = r;
  }
  return m;
}

/** Where a message came from, as far as link selection is concerned. */
export interface LinkContext {
  /** Relays, outermost first (empty for direct traffic). */
  hops: readonly RelayHop[];
  /** Interface the datagram arrived on, if known. */
  interfaceName?: string;
  /** Source address of the datagram. */
  sourceAddress: string;
}

function usableLinkAddress(text: string): bigint | undefined {
  const a = parseIPv6(text);
  if (a === undefined || a === 0n) return undefined;
  if ((a >> 118n) === 0x3fan) return undefined; // fe80::/10, link-local
  return a;
}

function subnetForHop(settings: ServerSettings, hop: RelayHop): SubnetSettings | undefined {
  if (hop.interfaceId !== undefined) {
    const hex = bytesToHex(hop.interfaceId);
    const s = settings.subnets.find((x) => x.interfaceIds.has(hex));
    if (s) return s;
  }
  const link = usableLinkAddress(hop.linkAddress);
  if (link === undefined) return undefined;
  const text = formatIPv6(link);
  const configured = settings.subnets.find((x) => x.linkAddresses.has(text));
  if (configured) return configured;
  return settings.subnets.find((x) => prefixContains(x.prefix, link));
}

/**
 * The client's subnet (RFC 8415 §13.1).
 *
 * Relayed: relays are tried from the one closest to the client outwards; for each, a
 * configured Interface-Id, then a configured link-address, then the subnet prefix that holds
 * its link-address (unspecified and link-local link-addresses select nothing).
 *
 * Direct: the interface the datagram arrived on, then a subnet prefix holding the source
 * address, then — when only one subnet is configured and it names no interfaces — that one.
 */
export function selectSubnet(
  settings: ServerSettings,
  ctx: LinkContext,
): SubnetSettings | undefined {
  if (ctx.hops.length > 0) {
    for (let i = ctx.hops.length - 1; i >= 0; i--) {
      const s = subnetForHop(settings, ctx.hops[i]);
      if (s) return s;
    }
    return undefined;
  }
  const only = settings.subnets.length === 1 ? settings.subnets[0] : undefined;
  if (only !== undefined && only.interfaces.size === 0) return only; // every rule below gives it
  if (ctx.interfaceName !== undefined) {
    const s = settings.subnets.find((x) => x.interfaces.has(ctx.interfaceName!));
    if (s) return s;
  }
  const src = usableLinkAddress(ctx.sourceAddress);
  if (src !== undefined) {
    const s = settings.subnets.find((x) => prefixContains(x.prefix, src));
    if (s) return s;
  }
  return undefined;
}
