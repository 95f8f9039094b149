/**
 * Link, IP and transport layers: turns a capture record into a UDP datagram or TCP segment
 * with addresses, ports and payload, or says why it is skipped or malformed. Pure; no copies
 * (payloads are views into the record).
 *
 * @module
 */

import { formatIpv4, formatIpv6 } from "./address.ts";
import { be16, be32, u32 } from "./bytes.ts";
import {
  AF_INET,
  AF_INET6_VALUES,
  EtherType,
  type LinkName,
  linkName,
  LinkType,
} from "./linktype.ts";
import type { CaptureRecord } from "./record.ts";

/** The IP layer of a dissected packet. */
export interface IpHeader {
  /** IP version. */
  version: 4 | 6;
  /** Source address (RFC 5952 text for IPv6). */
  src: string;
  /** Destination address. */
  dst: string;
  /** Upper-layer protocol number after any IPv6 extension headers (17 UDP, 6 TCP). */
  protocol: number;
  /** Hop limit (IPv6) or TTL (IPv4). */
  hopLimit: number;
  /** IPv6 extension header types walked, in order (empty for IPv4). */
  extensionHeaders: number[];
  /** Present when the datagram is an IP fragment (IPv4 flags/offset or IPv6 fragment header). */
  fragment?: { offset: number; more: boolean; id: number };
  /** Offset of the IP header in `record.data`. */
  headerOffset: number;
}

/** TCP control flags. */
export interface TcpFlags {
  /** FIN: the sender has no more data. */
  fin: boolean;
  /** SYN: synchronise sequence numbers. */
  syn: boolean;
  /** RST: reset the connection. */
  rst: boolean;
  /** PSH: push. */
  psh: boolean;
  /** ACK: the acknowledgment number is valid. */
  ack: boolean;
  /** URG: the urgent pointer is valid. */
  urg: boolean;
  /** ECE: ECN echo. */
  ece: boolean;
  /** CWR: congestion window reduced. */
  cwr: boolean;
}

/** Fields shared by UDP datagrams and TCP segments. */
export interface LayeredPacket {
  /** The record this came from. */
  record: CaptureRecord;
  /** Link layer. */
  link: LinkName;
  /** 802.1Q/802.1ad VLAN ids, outermost first (empty when untagged). */
  vlanIds: number[];
  /** True when the record was cut by the snapshot length (`capturedLength < originalLength`). */
  truncated: boolean;
}

/** A UDP datagram. */
export interface UdpDatagram extends LayeredPacket {
  /** Discriminant. */
  kind: "udp";
  /** The IP layer. */
  ip: IpHeader;
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** The UDP length field minus the 8-octet header: the payload length on the wire. */
  payloadLength: number;
  /** The captured payload (shorter than `payloadLength` when truncated or a first fragment). */
  payload: Uint8Array;
}

/** A TCP segment. */
export interface TcpSegment extends LayeredPacket {
  /** Discriminant. */
  kind: "tcp";
  /** The IP layer. */
  ip: IpHeader;
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** Sequence number (uint32). */
  seq: number;
  /** Acknowledgment number (uint32; meaningful when `flags.ack`). */
  ack: number;
  /** Control flags. */
  flags: TcpFlags;
  /** Advertised window (unscaled). */
  window: number;
  /** Payload length on the wire, from the IP length fields. */
  segmentLength: number;
  /** The captured payload (shorter than `segmentLength` when truncated). */
  payload: Uint8Array;
}

/** Why a well-formed record carries no UDP or TCP payload for us. */
export type SkipReason =
  | "empty"
  | "unsupported-link"
  | "not-ip"
  | "non-first-fragment"
  | "ip-protocol";

/** A record that is not UDP or TCP over IP (or is a later IP fragment). */
export interface SkippedPacket {
  /** Discriminant. */
  kind: "skipped";
  /** The record this came from. */
  record: CaptureRecord;
  /** Why it carries nothing for us. */
  reason: SkipReason;
  /** One line saying what was found, e.g. `ethertype 0x0806`. */
  detail: string;
  /** Link layer, when recognised. */
  link?: LinkName;
  /** 802.1Q/802.1ad VLAN ids, outermost first. */
  vlanIds: number[];
  /** The IP layer, when reached. */
  ip?: IpHeader;
  /** True when the record was cut by the snapshot length. */
  truncated: boolean;
}

/** A record whose headers cannot be parsed: cut short or inconsistent. */
export interface MalformedPacket {
  /** Discriminant. */
  kind: "malformed";
  /** The record this came from. */
  record: CaptureRecord;
  /** The layer at fault. */
  layer: "link" | "ip" | "udp" | "tcp";
  /** The header field at fault, e.g. `payload length`. */
  field: string;
  /** Offset in `record.data` of the field (or of the header that is cut short). */
  offset: number;
  /** One line saying what is wrong. */
  detail: string;
  /** Link layer, when recognised. */
  link?: LinkName;
  /** 802.1Q/802.1ad VLAN ids, outermost first. */
  vlanIds: number[];
  /** The IP layer, when reached. */
  ip?: IpHeader;
  /** True when the record was cut by the snapshot length, the likely cause. */
  truncated: boolean;
}

/** What `dissect` makes of a record. */
export type Dissection = UdpDatagram | TcpSegment | SkippedPacket | MalformedPacket;

type Net = "ipv4" | "ipv6" | "auto";

class Stop {
  constructor(readonly result: SkippedPacket | MalformedPacket) {}
}

/**
 * Dissects one capture record down to UDP or TCP.
 *
 * IPv6 extension headers (hop-by-hop, routing, destination options, fragment, AH, mobility,
 * HIP, shim6) are walked; a non-first fragment is skipped (`non-first-fragment`); no IP
 * reassembly is done. Ethernet padding is trimmed using the IP length fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildUdp6Frame, dissect, LinkType } from "@failover6/failover6";
 *
 * const data = buildUdp6Frame({
 *   src: "fe80::1",
 *   dst: "ff02::1:2",
 *   sport: 546,
 *   dport: 547,
 *   payload: new Uint8Array([1, 0, 0, 1]),
 * });
 * const d = dissect({
 *   frame: 1,
 *   timestamp: null,
 *   format: "pcapng",
 *   linkType: LinkType.ETHERNET,
 *   capturedLength: data.length,
 *   originalLength: data.length,
 *   data,
 *   offset: 0,
 * });
 * assert.equal(d.kind, "udp");
 * if (d.kind === "udp") {
 *   assert.deepEqual([d.ip.src, d.sport, d.dport], ["fe80::1", 546, 547]);
 *   assert.deepEqual([...d.payload], [1, 0, 0, 1]);
 * }
 * ```
 */
export function dissect(record: CaptureRecord): Dissection {
  const truncated = record.capturedLength < record.originalLength;
  const d = record.data;
  const vlanIds: number[] = [];
  let link: LinkName | undefined;
  let ip: IpHeader | undefined;
  const skip = (reason: SkipReason, detail: string) =>
    new Stop({ kind: "skipped", record, reason, detail, link, vlanIds, ip, truncated });
  const bad = (layer: MalformedPacket["layer"], field: string, offset: number, detail: string) =>
    new Stop({
      kind: "malformed",
      record,
      layer,
      field,
      offset,
      detail,
      link,
      vlanIds,
      ip,
      truncated,
    });
  const need = (layer: MalformedPacket["layer"], what: string, at: number, n: number) => {
    if (at + n > d.length) {
      throw bad(
        layer,
        what,
        at,
        `${what} needs ${n} octets at offset ${at}, ${Math.max(0, d.length - at)} captured`,
      );
    }
  };

  try {
    if (d.length === 0) {
      throw skip(
        "empty",
        `record with no captured octets (original length ${record.originalLength})`,
      );
    }
    const name = linkName(record.linkType);
    if (name === null) throw skip("unsupported-link", `link type ${record.linkType}`);
    link = name;

    // ---- link layer
    let off = 0;
    let net: Net;
    const fromEtherType = (t: number, at: number): Net => {
      // Follow VLAN tags (802.1Q, 802.1ad, pre-standard 0x9100) to the inner type.
      while (t === EtherType.VLAN || t === EtherType.QINQ || t === EtherType.QINQ_OLD) {
        need("link", "VLAN tag", at, 4);
        vlanIds.push(be16(d, at) & 0x0fff);
        t = be16(d, at + 2);
        at += 4;
      }
      off = at;
      if (t === EtherType.IPV6) return "ipv6";
      if (t === EtherType.IPV4) return "ipv4";
      throw skip(
        "not-ip",
        t < 0x0600 ? `802.3 frame (length ${t})` : `ethertype 0x${t.toString(16).padStart(4, "0")}`,
      );
    };
    switch (record.linkType) {
      case LinkType.ETHERNET:
        need("link", "Ethernet header", 0, 14);
        net = fromEtherType(be16(d, 12), 14);
        break;
      case LinkType.LINUX_SLL:
        need("link", "Linux cooked header", 0, 16);
        net = fromEtherType(be16(d, 14), 16);
        break;
      case LinkType.LINUX_SLL2:
        need("link", "Linux cooked v2 header", 0, 20);
        net = fromEtherType(be16(d, 0), 20);
        break;
      case LinkType.NULL:
      case LinkType.LOOP: {
        need("link", "loopback family", 0, 4);
        const le = u32(d, 0, true);
        const be = u32(d, 0, false);
        // The family is in the capturing host's byte order (NULL) or network order (LOOP);
        // old files get it wrong either way, so accept both.
        if (le === AF_INET || be === AF_INET) net = "ipv4";
        else if (AF_INET6_VALUES.includes(le) || AF_INET6_VALUES.includes(be)) net = "ipv6";
        else {throw skip(
            "not-ip",
            `loopback address family ${record.linkType === LinkType.LOOP ? be : le}`,
          );}
        off = 4;
        break;
      }
      case LinkType.IPV4:
        net = "ipv4";
        break;
      case LinkType.IPV6:
        net = "ipv6";
        break;
      default:
        net = "auto";
    }
    if (net === "auto") {
      const v = d[0] >> 4;
      if (v === 4) net = "ipv4";
      else if (v === 6) net = "ipv6";
      else throw skip("not-ip", `raw packet with IP version ${v}`);
    }

    // ---- IP layer
    let p: number; // start of the upper-layer header
    let declaredEnd: number; // end of the IP datagram per its length fields
    if (net === "ipv4") {
      need("ip", "IPv4 header", off, 20);
      const version = d[off] >> 4;
      if (version !== 4) throw bad("ip", "version", off, `IPv4 header with version ${version}`);
      const ihl = (d[off] & 0x0f) * 4;
      if (ihl < 20) throw bad("ip", "header length", off, `IPv4 header length ${ihl} below 20`);
      need("ip", "IPv4 header", off, ihl);
      const total = be16(d, off + 2);
      const fl = be16(d, off + 6);
      const fragOffset = (fl & 0x1fff) * 8;
      const more = (fl & 0x2000) !== 0;
      ip = {
        version: 4,
        src: formatIpv4(d, off + 12),
        dst: formatIpv4(d, off + 16),
        protocol: d[off + 9],
        hopLimit: d[off + 8],
        extensionHeaders: [],
        headerOffset: off,
      };
      if (more || fragOffset > 0) ip.fragment = { offset: fragOffset, more, id: be16(d, off + 4) };
      if (total === 0) declaredEnd = d.length; // TSO captures leave it 0
      else if (total < ihl) {
        throw bad(
          "ip",
          "total length",
          off + 2,
          `IPv4 total length ${total} below header length ${ihl}`,
        );
      } else declaredEnd = off + total;
      p = off + ihl;
    } else {
      need("ip", "IPv6 header", off, 40);
      const version = d[off] >> 4;
      if (version !== 6) throw bad("ip", "version", off, `IPv6 header with version ${version}`);
      const plen = be16(d, off + 4);
      ip = {
        version: 6,
        src: formatIpv6(d, off + 8),
        dst: formatIpv6(d, off + 24),
        protocol: d[off + 6],
        hopLimit: d[off + 7],
        extensionHeaders: [],
        headerOffset: off,
      };
      declaredEnd = plen === 0 && ip.protocol === 0 ? d.length : off + 40 + plen; // jumbogram
      p = off + 40;
      for (;;) {
        const nh = ip.protocol;
        if (nh === 44) {
          need("ip", "fragment header", p, 8);
          const fo = be16(d, p + 2);
          ip.fragment = { offset: (fo >> 3) * 8, more: (fo & 1) === 1, id: be32(d, p + 4) };
          ip.extensionHeaders.push(nh);
          ip.protocol = d[p];
          p += 8;
        } else if (
          nh === 0 || nh === 43 || nh === 60 || nh === 51 || nh === 135 || nh === 139 || nh === 140
        ) {
          need("ip", "extension header", p, 2);
          const len = nh === 51 ? (d[p + 1] + 2) * 4 : (d[p + 1] + 1) * 8;
          need("ip", "extension header", p, len);
          ip.extensionHeaders.push(nh);
          ip.protocol = d[p];
          p += len;
        } else break;
        if (p > declaredEnd) {
          throw bad(
            "ip",
            "payload length",
            off + 4,
            `IPv6 extension headers run past the payload length`,
          );
        }
      }
    }
    if (declaredEnd > d.length && !truncated) {
      throw bad(
        "ip",
        net === "ipv4" ? "total length" : "payload length",
        off + (net === "ipv4" ? 2 : 4),
        `IP datagram length ${declaredEnd - off} exceeds the ${d.length - off} octets of the frame`,
      );
    }
    if (ip.fragment && ip.fragment.offset > 0) {
      throw skip(
        "non-first-fragment",
        `IP fragment at offset ${ip.fragment.offset} (id ${ip.fragment.id})`,
      );
    }
    const ipEnd = Math.min(declaredEnd, d.length);
    const fragmented = ip.fragment !== undefined;

    // ---- transport layer
    if (ip.protocol === 17) {
      need("udp", "UDP header", p, 8);
      if (p + 8 > ipEnd) throw bad("udp", "UDP header", p, "UDP header runs past the IP datagram");
      let len = be16(d, p + 4);
      if (len === 0 && ip.version === 6) len = declaredEnd - p; // jumbogram
      if (len < 8) throw bad("udp", "length", p + 4, `UDP length ${len} below 8`);
      if (p + len > declaredEnd && !fragmented) {
        throw bad(
          "udp",
          "length",
          p + 4,
          `UDP length ${len} exceeds the ${declaredEnd - p} octets of the IP payload`,
        );
      }
      return {
        kind: "udp",
        record,
        link,
        vlanIds,
        truncated,
        ip,
        sport: be16(d, p),
        dport: be16(d, p + 2),
        payloadLength: len - 8,
        payload: d.subarray(p + 8, Math.min(p + len, ipEnd)),
      };
    }
    if (ip.protocol === 6) {
      need("tcp", "TCP header", p, 20);
      const doff = (d[p + 12] >> 4) * 4;
      if (doff < 20) throw bad("tcp", "data offset", p + 12, `TCP data offset ${doff} below 20`);
      if (p + doff > declaredEnd) {
        throw bad(
          "tcp",
          "data offset",
          p + 12,
          `TCP header length ${doff} runs past the IP datagram`,
        );
      }
      need("tcp", "TCP header", p, doff);
      const f = d[p + 13];
      return {
        kind: "tcp",
        record,
        link,
        vlanIds,
        truncated,
        ip,
        sport: be16(d, p),
        dport: be16(d, p + 2),
        seq: be32(d, p + 4),
        ack: be32(d, p + 8),
        flags: {
          fin: (f & 0x01) !== 0,
          syn: (f & 0x02) !== 0,
          rst: (f & 0x04) !== 0,
          psh: (f & 0x08) !== 0,
          ack: (f & 0x10) !== 0,
          urg: (f & 0x20) !== 0,
          ece: (f & 0x40) !== 0,
          cwr: (f & 0x80) !== 0,
        },
        window: be16(d, p + 14),
        segmentLength: declaredEnd - p - doff,
        payload: d.subarray(p + doff, ipEnd),
      };
    }
    throw skip("ip-protocol", `IP protocol ${ip.protocol}`);
  } catch (e) {
    if (e instanceof Stop) return e.result;
    throw e;
  }
}
