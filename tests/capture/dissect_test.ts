/** Link, IP and transport layers on hand-built frames. */

import assert from "node:assert/strict";
import { parseIpv6 } from "../../lib/capture/address.ts";
import { dissect, type Dissection } from "../../lib/capture/dissect.ts";
import type { CaptureRecord } from "../../lib/capture/record.ts";
import { concat, ether, F, hex, ipv4, ipv6, tcp, udp } from "./_helpers.ts";

const A = parseIpv6("2001:db8::1");
const B = parseIpv6("2001:db8::2");
const PAY = new TextEncoder().encode("hello dhcp");

function rec(linkType: number, data: Uint8Array, originalLength = data.length): CaptureRecord {
  return {
    frame: 7,
    timestamp: "1.000000",
    format: "pcap",
    linkType,
    capturedLength: data.length,
    originalLength,
    data,
    offset: 0,
  };
}

function udpOf(d: Dissection) {
  assert.equal(
    d.kind,
    "udp",
    JSON.stringify(d.kind === "skipped" || d.kind === "malformed" ? d.detail : d.kind),
  );
  return d as Extract<Dissection, { kind: "udp" }>;
}

const v6udp = ipv6(A, B, 17, udp(546, 547, PAY));

Deno.test("Ethernet IPv6 UDP, with trailing Ethernet padding trimmed", () => {
  const d = udpOf(dissect(rec(1, concat([ether(0x86dd), v6udp, new Uint8Array(6)]))));
  assert.deepEqual([d.link, d.vlanIds, d.ip.version, d.ip.src, d.ip.dst, d.sport, d.dport], [
    "ethernet",
    [],
    6,
    "2001:db8::1",
    "2001:db8::2",
    546,
    547,
  ]);
  assert.deepEqual(d.payload, PAY);
  assert.equal(d.truncated, false);
});

Deno.test("802.1Q and QinQ tags are reported outermost first", () => {
  let d = udpOf(dissect(rec(1, concat([ether(0x86dd, [[0x8100, 100]]), v6udp]))));
  assert.deepEqual(d.vlanIds, [100]);
  d = udpOf(
    dissect(rec(1, concat([ether(0x86dd, [[0x88a8, 0x2000 | 300], [0x8100, 42]]), v6udp]))),
  );
  assert.deepEqual(d.vlanIds, [300, 42], "PCP bits masked off");
  d = udpOf(dissect(rec(1, concat([ether(0x86dd, [[0x9100, 7], [0x8100, 8]]), v6udp]))));
  assert.deepEqual(d.vlanIds, [7, 8]);
  assert.deepEqual(d.payload, PAY);
});

Deno.test("Linux cooked v1 and v2", () => {
  const sll = concat([hex("0000 0001 0006 020000000001 0000 86dd"), v6udp]);
  let d = udpOf(dissect(rec(113, sll)));
  assert.equal(d.link, "sll");
  assert.deepEqual(d.payload, PAY);
  const sll2 = concat([hex("86dd 0000 00000002 0001 00 06 020000000001 0000"), v6udp]);
  d = udpOf(dissect(rec(276, sll2)));
  assert.equal(d.link, "sll2");
  assert.equal(d.ip.src, "2001:db8::1");
});

Deno.test("BSD loopback (null and loop), both byte orders of the family", () => {
  for (
    const [lt, fam] of [[0, "1e000000"], [0, "0000001e"], [0, "18000000"], [108, "0000001c"], [
      108,
      "0a000000",
    ]] as const
  ) {
    const d = udpOf(dissect(rec(lt, concat([hex(fam), v6udp]))));
    assert.equal(d.link, lt === 0 ? "null" : "loop");
    assert.equal(d.sport, 546);
  }
  const v4 = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, udp(67, 68, PAY));
  for (const fam of ["02000000", "00000002"]) {
    const d = udpOf(dissect(rec(0, concat([hex(fam), v4]))));
    assert.equal(d.ip.version, 4);
  }
  const other = dissect(rec(0, concat([hex("07000000"), v4])));
  assert.equal(other.kind, "skipped");
  assert.equal(other.kind === "skipped" && other.reason, "not-ip");
});

Deno.test("raw IP link types 101, 228, 229", () => {
  const v4 = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, udp(547, 547, PAY));
  assert.equal(udpOf(dissect(rec(101, v6udp))).ip.version, 6);
  assert.equal(udpOf(dissect(rec(101, v4))).ip.version, 4);
  assert.equal(udpOf(dissect(rec(228, v4))).ip.src, "192.0.2.1");
  assert.equal(udpOf(dissect(rec(229, v6udp))).ip.dst, "2001:db8::2");
  const bad = dissect(rec(101, Uint8Array.of(0x50, 0, 0, 0)));
  assert.equal(bad.kind === "skipped" && bad.reason, "not-ip");
});

Deno.test("IPv4 UDP and TCP, options, fragments", () => {
  const d = udpOf(
    dissect(
      rec(
        1,
        concat([ether(0x0800), ipv4([10, 1, 2, 3], [10, 3, 2, 1], 17, udp(1, 2, PAY), { ttl: 9 })]),
      ),
    ),
  );
  assert.deepEqual([d.ip.src, d.ip.dst, d.ip.hopLimit, d.ip.fragment], [
    "10.1.2.3",
    "10.3.2.1",
    9,
    undefined,
  ]);
  // IHL 6: one 4-octet option.
  const withOpt = ipv4(
    [10, 0, 0, 1],
    [10, 0, 0, 2],
    6,
    concat([Uint8Array.of(1, 1, 1, 0), tcp(1000, 647, 5, 0, F.SYN)]),
  );
  withOpt[0] = 0x46;
  const t = dissect(rec(228, withOpt));
  assert.equal(t.kind, "tcp");
  assert.equal(t.kind === "tcp" && t.sport, 1000);
  assert.equal(t.kind === "tcp" && t.flags.syn, true);
  const first = udpOf(
    dissect(rec(228, ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, udp(5, 6, PAY), { mf: true, id: 77 }))),
  );
  assert.deepEqual(first.ip.fragment, { offset: 0, more: true, id: 77 });
  const later = dissect(
    rec(228, ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, PAY, { fragOffset: 1480, id: 77 })),
  );
  assert.equal(later.kind === "skipped" && later.reason, "non-first-fragment");
});

Deno.test("IPv6 extension headers: hop-by-hop, routing, destination options, fragment", () => {
  const hbh = (nh: number) => Uint8Array.of(nh, 0, 5, 4, 0, 0, 0, 0); // PadN
  const rt = (nh: number) => Uint8Array.of(nh, 2, 0, 0, 0, 0, 0, 0, ...B); // type 0, one address
  const dst = (nh: number) => Uint8Array.of(nh, 1, 1, 12, ...new Array(12).fill(0));
  const frag = (nh: number, off: number, m: boolean) =>
    Uint8Array.of(nh, 0, (off >> 8) & 0xff, (off & 0xf8) | (m ? 1 : 0), 0, 0, 0x12, 0x34);
  const chain = concat([hbh(43), rt(60), dst(44), frag(17, 0, true), udp(546, 547, PAY)]);
  const d = udpOf(dissect(rec(229, ipv6(A, B, 0, chain))));
  assert.deepEqual(d.ip.extensionHeaders, [0, 43, 60, 44]);
  assert.equal(d.ip.protocol, 17);
  assert.deepEqual(d.ip.fragment, { offset: 0, more: true, id: 0x1234 });
  assert.deepEqual(d.payload, PAY);
  const later = dissect(rec(229, ipv6(A, B, 44, concat([frag(17, 1448, false), PAY]))));
  assert.equal(later.kind, "skipped");
  assert.equal(later.kind === "skipped" && later.reason, "non-first-fragment");
  assert.deepEqual(later.kind === "skipped" && later.ip?.fragment, {
    offset: 1448,
    more: false,
    id: 0x1234,
  });
  const none = dissect(rec(229, ipv6(A, B, 59, new Uint8Array(0))));
  assert.equal(none.kind === "skipped" && none.reason, "ip-protocol");
  const tcpAfterDst = dissect(
    rec(229, ipv6(A, B, 60, concat([dst(6), tcp(49152, 647, 1, 2, F.ACK | F.PSH, PAY)]))),
  );
  assert.equal(tcpAfterDst.kind, "tcp");
  assert.deepEqual(
    tcpAfterDst.kind === "tcp" && [tcpAfterDst.seq, tcpAfterDst.ack, tcpAfterDst.segmentLength],
    [1, 2, PAY.length],
  );
});

Deno.test("TCP header fields and flags", () => {
  const seg = tcp(647, 49152, 0xfffffff0, 0x80000001, F.FIN | F.ACK | F.PSH, PAY);
  const d = dissect(rec(229, ipv6(B, A, 6, seg)));
  assert.equal(d.kind, "tcp");
  if (d.kind !== "tcp") return;
  assert.deepEqual([d.sport, d.dport, d.seq, d.ack, d.window], [
    647,
    49152,
    0xfffffff0,
    0x80000001,
    65535,
  ]);
  assert.deepEqual(d.flags, {
    fin: true,
    syn: false,
    rst: false,
    psh: true,
    ack: true,
    urg: false,
    ece: false,
    cwr: false,
  });
  assert.deepEqual(d.payload, PAY);
});

Deno.test("truncated capture: payload cut, lengths kept, flagged", () => {
  const frame = concat([ether(0x86dd), v6udp]);
  const d = udpOf(dissect(rec(1, frame.subarray(0, frame.length - 4), frame.length)));
  assert.equal(d.truncated, true);
  assert.equal(d.payloadLength, PAY.length);
  assert.deepEqual(d.payload, PAY.subarray(0, PAY.length - 4));
  const cutInHeader = dissect(rec(1, frame.subarray(0, 30), frame.length));
  assert.equal(cutInHeader.kind, "malformed");
  assert.equal(cutInHeader.kind === "malformed" && cutInHeader.layer, "ip");
  assert.equal(cutInHeader.kind === "malformed" && cutInHeader.truncated, true);
  assert.equal(cutInHeader.kind === "malformed" && cutInHeader.offset, 14);
});

Deno.test("malformed headers are reported with layer, field and offset, never thrown", () => {
  const cases: [Uint8Array, string, string, number][] = [];
  const longLen = v6udp.slice();
  longLen[5] += 20; // payload length beyond the frame, not truncated
  cases.push([longLen, "ip", "payload length", 4]);
  const shortUdp = v6udp.slice();
  shortUdp[40 + 5] = 4; // UDP length 4
  cases.push([shortUdp, "udp", "length", 44]);
  const bigUdp = v6udp.slice();
  bigUdp[40 + 5] = 200;
  cases.push([bigUdp, "udp", "length", 44]);
  const badOff = ipv6(A, B, 6, tcp(1, 2, 3, 4, F.ACK));
  badOff[40 + 12] = 0x30; // data offset 12
  cases.push([badOff, "tcp", "data offset", 52]);
  const v5 = v6udp.slice();
  v5[0] = 0x50;
  cases.push([v5, "ip", "version", 0]);
  for (const [bytes, layer, field, offset] of cases) {
    const d = dissect(rec(229, bytes));
    assert.equal(d.kind, "malformed", `${layer} ${field}`);
    if (d.kind !== "malformed") continue;
    assert.deepEqual([d.layer, d.field, d.offset], [layer, field, offset], d.detail);
  }
  for (let n = 0; n < v6udp.length; n++) {
    const d = dissect(rec(229, v6udp.subarray(0, n)));
    assert.ok(d.kind === "malformed" || d.kind === "skipped", `cut at ${n}`);
  }
});

Deno.test("skipped: empty record, unknown link, non-IP ethertype, other protocols", () => {
  const empty = dissect(rec(1, new Uint8Array(0), 90));
  assert.equal(empty.kind === "skipped" && empty.reason, "empty");
  const unknown = dissect(rec(147, v6udp));
  assert.equal(unknown.kind === "skipped" && unknown.reason, "unsupported-link");
  const arp = dissect(rec(1, concat([ether(0x0806), new Uint8Array(28)])));
  assert.equal(arp.kind === "skipped" && arp.reason, "not-ip");
  const icmp = dissect(rec(229, ipv6(A, B, 58, Uint8Array.of(135, 0, 0, 0))));
  assert.equal(icmp.kind === "skipped" && icmp.reason, "ip-protocol");
});
