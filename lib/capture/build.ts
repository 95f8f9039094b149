/**
 * Synthesises Ethernet/IPv6/UDP and Ethernet/IPv6/TCP frames with correct lengths and
 * checksums, and `TcpConversation`, which keeps sequence and acknowledgment numbers for a
 * recorded TCP session (handshake, data both ways, FIN). Pure: bytes in, bytes out.
 *
 * @module
 */

import { parseIpv6, parseMac } from "./address.ts";
import type { TcpFlags } from "./dissect.ts";
import { EtherType } from "./linktype.ts";

/** An address as text or as its octets. */
export type AddressInput = string | Uint8Array;

/** Ethernet-level choices shared by the builders. */
export interface EthernetOptions {
  /** Source MAC (default 02:00:00:00:00:01). */
  srcMac?: AddressInput;
  /** Destination MAC (default 02:00:00:00:00:02). */
  dstMac?: AddressInput;
  /** 802.1Q tags, outermost first (the outer ones of several use 802.1ad, 0x88a8). */
  vlanIds?: number[];
}

/** IPv6 header choices shared by the builders. */
export interface Ipv6Options extends EthernetOptions {
  /** Source IPv6 address. */
  src: AddressInput;
  /** Destination IPv6 address. */
  dst: AddressInput;
  /** Hop limit (default 64). */
  hopLimit?: number;
  /** Flow label (default 0). */
  flowLabel?: number;
}

/** A UDP datagram to build. */
export interface Udp6Spec extends Ipv6Options {
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** The payload octets. */
  payload: Uint8Array;
}

/** A TCP segment to build. */
export interface Tcp6Spec extends Ipv6Options {
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** Sequence number (uint32). */
  seq: number;
  /** Acknowledgment number (uint32; sent whatever `flags.ack` says). */
  ack?: number;
  /** Flags; unset ones are clear. */
  flags: Partial<TcpFlags>;
  /** Window (default 65535). */
  window?: number;
  /** TCP options, padded with zeros to a multiple of 4 octets. */
  options?: Uint8Array;
  /** Payload (default empty). */
  payload?: Uint8Array;
}

const DEFAULT_SRC_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const DEFAULT_DST_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);

function mac(x: AddressInput | undefined, dflt: Uint8Array): Uint8Array {
  return x === undefined ? dflt : typeof x === "string" ? parseMac(x) : x;
}

function ip6(x: AddressInput): Uint8Array {
  return typeof x === "string" ? parseIpv6(x) : x;
}

/** Sums 16-bit big-endian words of `b` into `sum` (ones' complement arithmetic, unfolded). */
function sum16(b: Uint8Array, from: number, to: number, sum: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < to) sum += b[i] << 8;
  return sum;
}

/** RFC 1071 Internet checksum of `b[from..to)`, starting from a partial sum. */
export function internetChecksum(b: Uint8Array, from = 0, to = b.length, initial = 0): number {
  let sum = sum16(b, from, to, initial);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Writes Ethernet (+ VLAN tags) and IPv6 headers; returns the upper-layer offset. */
function writeHeaders(
  out: Uint8Array,
  o: Ipv6Options,
  nextHeader: number,
  upperLength: number,
): number {
  out.set(mac(o.dstMac, DEFAULT_DST_MAC), 0);
  out.set(mac(o.srcMac, DEFAULT_SRC_MAC), 6);
  let p = 12;
  const tags = o.vlanIds ?? [];
  tags.forEach((id, k) => {
    const tpid = k < tags.length - 1 ? EtherType.QINQ : EtherType.VLAN;
    out[p] = tpid >> 8;
    out[p + 1] = tpid & 0xff;
    out[p + 2] = (id >> 8) & 0x0f;
    out[p + 3] = id & 0xff;
    p += 4;
  });
  out[p] = 0x86;
  out[p + 1] = 0xdd;
  p += 2;
  const flow = o.flowLabel ?? 0;
  out[p] = 0x60;
  out[p + 1] = (flow >> 16) & 0x0f;
  out[p + 2] = (flow >> 8) & 0xff;
  out[p + 3] = flow & 0xff;
  out[p + 4] = upperLength >> 8;
  out[p + 5] = upperLength & 0xff;
  out[p + 6] = nextHeader;
  out[p + 7] = o.hopLimit ?? 64;
  out.set(ip6(o.src), p + 8);
  out.set(ip6(o.dst), p + 24);
  return p + 40;
}

/** Partial checksum of the IPv6 pseudo-header (addresses at `ipStart+8`). */
function pseudoSum(out: Uint8Array, ipStart: number, length: number, nextHeader: number): number {
  return sum16(out, ipStart + 8, ipStart + 40, 0) + Math.floor(length / 0x10000) +
    (length & 0xffff) +
    nextHeader;
}

function headerLength(o: EthernetOptions): number {
  return 14 + 4 * (o.vlanIds?.length ?? 0) + 40;
}

/**
 * Builds an Ethernet/IPv6/UDP frame with a correct UDP checksum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildUdp6Frame } from "@failover6/failover6";
 *
 * const frame = buildUdp6Frame({
 *   src: "fe80::1",
 *   dst: "ff02::1:2",
 *   sport: 546,
 *   dport: 547,
 *   payload: new Uint8Array([1, 0, 0, 1]),
 * });
 * assert.equal(frame.length, 14 + 40 + 8 + 4); // Ethernet, IPv6, UDP, payload
 * ```
 */
export function buildUdp6Frame(spec: Udp6Spec): Uint8Array {
  const udpLength = 8 + spec.payload.length;
  if (udpLength > 0xffff) {
    throw new RangeError(`UDP payload of ${spec.payload.length} octets is too long`);
  }
  const out = new Uint8Array(headerLength(spec) + udpLength);
  const p = writeHeaders(out, spec, 17, udpLength);
  out[p] = spec.sport >> 8;
  out[p + 1] = spec.sport & 0xff;
  out[p + 2] = spec.dport >> 8;
  out[p + 3] = spec.dport & 0xff;
  out[p + 4] = udpLength >> 8;
  out[p + 5] = udpLength & 0xff;
  out.set(spec.payload, p + 8);
  let ck = internetChecksum(out, p, out.length, pseudoSum(out, p - 40, udpLength, 17));
  if (ck === 0) ck = 0xffff;
  out[p + 6] = ck >> 8;
  out[p + 7] = ck & 0xff;
  return out;
}

/**
 * Builds an Ethernet/IPv6/TCP frame with a correct TCP checksum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildTcp6Frame } from "@failover6/failover6";
 *
 * const syn = buildTcp6Frame({
 *   src: "2001:db8::1",
 *   dst: "2001:db8::2",
 *   sport: 40000,
 *   dport: 647,
 *   seq: 1000,
 *   flags: { syn: true },
 * });
 * assert.equal(syn.length, 14 + 40 + 20); // Ethernet, IPv6, TCP header
 * ```
 */
export function buildTcp6Frame(spec: Tcp6Spec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const optLen = ((spec.options?.length ?? 0) + 3) & ~3;
  const hdr = 20 + optLen;
  if (hdr > 60) throw new RangeError(`TCP options of ${spec.options?.length} octets are too long`);
  const segLength = hdr + payload.length;
  if (segLength > 0xffff) {
    throw new RangeError(`TCP payload of ${payload.length} octets is too long`);
  }
  const out = new Uint8Array(headerLength(spec) + segLength);
  const p = writeHeaders(out, spec, 6, segLength);
  const put32 = (at: number, v: number) => {
    out[at] = v >>> 24;
    out[at + 1] = (v >>> 16) & 0xff;
    out[at + 2] = (v >>> 8) & 0xff;
    out[at + 3] = v & 0xff;
  };
  out[p] = spec.sport >> 8;
  out[p + 1] = spec.sport & 0xff;
  out[p + 2] = spec.dport >> 8;
  out[p + 3] = spec.dport & 0xff;
  put32(p + 4, spec.seq >>> 0);
  put32(p + 8, (spec.ack ?? 0) >>> 0);
  const f = spec.flags;
  out[p + 12] = (hdr / 4) << 4;
  out[p + 13] = (f.fin ? 0x01 : 0) | (f.syn ? 0x02 : 0) | (f.rst ? 0x04 : 0) | (f.psh ? 0x08 : 0) |
    (f.ack ? 0x10 : 0) | (f.urg ? 0x20 : 0) | (f.ece ? 0x40 : 0) | (f.cwr ? 0x80 : 0);
  const win = spec.window ?? 65535;
  out[p + 14] = win >> 8;
  out[p + 15] = win & 0xff;
  if (spec.options) out.set(spec.options, p + 20);
  out.set(payload, p + hdr);
  const ck = internetChecksum(out, p, out.length, pseudoSum(out, p - 40, segLength, 6));
  out[p + 16] = ck >> 8;
  out[p + 17] = ck & 0xff;
  return out;
}

/** One side of a `TcpConversation`. */
export interface TcpEndpoint {
  /** IPv6 address. */
  address: string;
  /** TCP port. */
  port: number;
  /** MAC address (defaults differ per side). */
  mac?: string;
  /** Initial sequence number (default: a fixed value per side). */
  isn?: number;
}

/** Which side sends. */
export type TcpSide = "client" | "server";

/**
 * Sequence bookkeeping for a synthesised TCP session: every method returns finished
 * Ethernet frames and advances the sender's sequence number, with each segment
 * acknowledging everything the other side has sent so far.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpConversation } from "@failover6/failover6";
 *
 * const conv = new TcpConversation(
 *   { address: "2001:db8::1", port: 40000 },
 *   { address: "2001:db8::2", port: 647 },
 * );
 * const frames = [
 *   ...conv.handshake(), // SYN, SYN-ACK, ACK
 *   ...conv.send("client", new Uint8Array(3000)), // 1440 + 1440 + 120 octets
 *   conv.close("client"),
 * ];
 * assert.equal(frames.length, 7);
 * ```
 */
export class TcpConversation {
  #ep: Record<TcpSide, { address: Uint8Array; port: number; mac: Uint8Array; seq: number }>;
  #mss: number;
  #window: number;

  /** `mss` caps the payload of one segment (default 1440); `window` is advertised (65535). */
  constructor(
    client: TcpEndpoint,
    server: TcpEndpoint,
    options: { mss?: number; window?: number } = {},
  ) {
    const side = (e: TcpEndpoint, dfltMac: Uint8Array, dfltIsn: number) => ({
      address: parseIpv6(e.address),
      port: e.port,
      mac: e.mac === undefined ? dfltMac : parseMac(e.mac),
      seq: (e.isn ?? dfltIsn) >>> 0,
    });
    this.#ep = {
      client: side(client, DEFAULT_SRC_MAC, 0x0a0b0c0d),
      server: side(server, DEFAULT_DST_MAC, 0x70605040),
    };
    this.#mss = options.mss ?? 1440;
    this.#window = options.window ?? 65535;
  }

  /** The next sequence number each side will use. */
  get nextSeq(): Record<TcpSide, number> {
    return { client: this.#ep.client.seq, server: this.#ep.server.seq };
  }

  #frame(from: TcpSide, flags: Partial<TcpFlags>, payload?: Uint8Array, ack = true): Uint8Array {
    const s = this.#ep[from];
    const r = this.#ep[from === "client" ? "server" : "client"];
    const frame = buildTcp6Frame({
      srcMac: s.mac,
      dstMac: r.mac,
      src: s.address,
      dst: r.address,
      sport: s.port,
      dport: r.port,
      seq: s.seq,
      ack: ack ? r.seq : 0,
      flags: ack ? { ...flags, ack: true } : flags,
      window: this.#window,
      payload,
    });
    s.seq = (s.seq + (payload?.length ?? 0) + (flags.syn ? 1 : 0) + (flags.fin ? 1 : 0)) >>> 0;
    return frame;
  }

  /** SYN, SYN-ACK, ACK. */
  handshake(): Uint8Array[] {
    return [
      this.#frame("client", { syn: true }, undefined, false),
      this.#frame("server", { syn: true }),
      this.#frame("client", {}),
    ];
  }

  /** Data from `from`, cut into segments of at most `mss` octets (PSH on the last). */
  send(from: TcpSide, payload: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < payload.length; i += this.#mss) {
      const part = payload.subarray(i, Math.min(payload.length, i + this.#mss));
      out.push(this.#frame(from, { psh: i + this.#mss >= payload.length }, part));
    }
    return out;
  }

  /** A pure acknowledgment from `from`. */
  ack(from: TcpSide): Uint8Array {
    return this.#frame(from, {});
  }

  /** FIN from `from`. */
  close(from: TcpSide): Uint8Array {
    return this.#frame(from, { fin: true });
  }

  /** RST from `from`. */
  reset(from: TcpSide): Uint8Array {
    return this.#frame(from, { rst: true });
  }
}
