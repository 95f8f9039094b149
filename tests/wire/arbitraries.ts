/**
 * fast-check arbitraries of typed DHCPv6 / failover messages in canonical form (the form
 * the decoder produces), for the round-trip laws.
 *
 * @module
 */

import fc from "fast-check";
import { formatIPv6Bytes } from "../../lib/util/ipv6_octets.ts";
import { TYPED_OPTION_CODES } from "../../lib/wire/layout.ts";
import type { DhcpOption, FailoverMsgType, Message } from "../../lib/wire/types.ts";

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u24 = fc.integer({ min: 0, max: 0xffffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Canonical IPv6 text, biased towards zero groups so `::` forms appear. */
export const address: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), u16), { minLength: 8, maxLength: 8 })
  .map((g) => {
    const b = new Uint8Array(16);
    g.forEach((v, i) => {
      b[2 * i] = v >> 8;
      b[2 * i + 1] = v & 0xff;
    });
    return formatIPv6Bytes(b);
  });

/** Octets as the canonical label text does: printable except `.` `\`, else `\DDD`. */
function labelText(bytes: number[]): string {
  return bytes.map((c) =>
    c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c
      ? String.fromCharCode(c)
      : "\\" + String(c).padStart(3, "0")
  ).join("");
}

const label = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,14}$/),
  fc.array(u8, { minLength: 1, maxLength: 8 }).map(labelText),
);

/** A domain name in canonical text (no trailing dot). */
export const domainName: fc.Arbitrary<string> = fc
  .array(label, { minLength: 1, maxLength: 4 })
  .map((l) => l.join("."));

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const text = fc.string({ unit: "binary", maxLength: 12 });
const unknownCode = u16.filter((c) => !TYPED_OPTION_CODES.has(c));

/** Leaf options (no nesting). */
export const leafOption: fc.Arbitrary<DhcpOption> = fc.oneof(
  bytes(3, 20).map((duid) => ({ code: 1 as const, duid })),
  bytes(3, 20).map((duid) => ({ code: 2 as const, duid })),
  fc.array(u16, { maxLength: 5 }).map((r) => ({ code: 6 as const, requestedOptions: r })),
  u8.map((v) => ({ code: 7 as const, preference: v })),
  u16.map((v) => ({ code: 8 as const, elapsedTime: v })),
  address.map((a) => ({ code: 12 as const, serverAddress: a })),
  fc.record({ statusCode: fc.integer({ min: 0, max: 22 }), statusMessage: text }).map((r) => ({
    code: 13 as const,
    ...r,
  })),
  fc.constant({ code: 14 as const }),
  bytes(0, 12).map((b) => ({ code: 18 as const, interfaceId: b })),
  u8.map((v) => ({ code: 19 as const, reconfMsgType: v })),
  fc.constant({ code: 20 as const }),
  fc.array(address, { maxLength: 3 }).map((a) => ({ code: 23 as const, dnsServers: a })),
  fc.array(domainName, { maxLength: 3 }).map((d) => ({ code: 24 as const, domains: d })),
  u32.map((v) => ({ code: 32 as const, informationRefreshTime: v })),
  fc.record({ flags: u8, domainName: fc.oneof(domainName, fc.constant("")), partial: fc.boolean() })
    .map((r) =>
      r.partial
        ? { code: 39 as const, flags: r.flags, domainName: r.domainName, partial: true }
        : { code: 39 as const, flags: r.flags, domainName: r.domainName }
    ),
  u32.map((v) => ({ code: 46 as const, cltTime: v })),
  fc.record({ vssType: u8, vssInfo: bytes(0, 8) }).map((r) => ({ code: 68 as const, ...r })),
  u32.map((v) => ({ code: 82 as const, solMaxRt: v })),
  u32.map((v) => ({ code: 83 as const, infMaxRt: v })),
  u32.map((v) => ({ code: 100 as const, baseTime: v })),
  fc.integer({ min: 1, max: 8 }).map((v) => ({ code: 114 as const, bindingStatus: v })),
  u16.map((v) => ({ code: 115 as const, flags: v })),
  domainName.map((n) => ({ code: 117 as const, hostName: n })),
  domainName.map((n) => ({ code: 118 as const, zoneName: n })),
  u16.map((v) => ({ code: 119 as const, flags: v })),
  u32.map((v) => ({ code: 120 as const, expirationTime: v })),
  u32.map((v) => ({ code: 121 as const, maxUnackedBndupd: v })),
  u32.map((v) => ({ code: 122 as const, mclt: v })),
  u32.map((v) => ({ code: 123 as const, partnerLifetime: v })),
  u32.map((v) => ({ code: 124 as const, partnerLifetimeSent: v })),
  u32.map((v) => ({ code: 125 as const, partnerDownTime: v })),
  u32.map((v) => ({ code: 126 as const, partnerRawCltTime: v })),
  fc.record({ majorVersion: u16, minorVersion: u16 }).map((r) => ({ code: 127 as const, ...r })),
  u32.map((v) => ({ code: 128 as const, keepaliveTime: v })),
  fc.record({ reconfigureTime: u32, reconfigureKey: bytes(0, 16) }).map((r) => ({
    code: 129 as const,
    ...r,
  })),
  text.map((t) => ({ code: 130 as const, relationshipName: t })),
  u8.map((v) => ({ code: 131 as const, flags: v })),
  fc.integer({ min: 1, max: 10 }).map((v) => ({ code: 132 as const, serverState: v })),
  u32.map((v) => ({ code: 133 as const, startTimeOfState: v })),
  u32.map((v) => ({ code: 134 as const, stateExpirationTime: v })),
  fc.record({ code: unknownCode, data: bytes(0, 10) }).map((r) => ({ ...r, raw: true as const })),
);

const clientServerTypes = fc.integer({ min: 1, max: 23 }).filter((t) => t !== 12 && t !== 13);
const failoverTypes = fc.integer({ min: 24, max: 35 }) as fc.Arbitrary<FailoverMsgType>;

/** Option trees and messages, mutually recursive, depth-bounded. */
const tree = fc.letrec<{ option: DhcpOption; options: DhcpOption[]; message: Message }>((tie) => ({
  option: fc.oneof(
    { depthSize: "small", maxDepth: 6, depthIdentifier: "tree", withCrossShrink: true },
    leafOption,
    fc.record({ iaid: u32, t1: u32, t2: u32, options: tie("options") }).map((r) => ({
      code: 3 as const,
      ...r,
    })),
    fc.record({ iaid: u32, options: tie("options") }).map((r) => ({ code: 4 as const, ...r })),
    fc.record({
      address,
      preferredLifetime: u32,
      validLifetime: u32,
      options: tie("options"),
    }).map((r) => ({ code: 5 as const, ...r })),
    fc.record({ iaid: u32, t1: u32, t2: u32, options: tie("options") }).map((r) => ({
      code: 25 as const,
      ...r,
    })),
    fc.record({
      preferredLifetime: u32,
      validLifetime: u32,
      prefixLength: fc.integer({ min: 0, max: 128 }),
      prefix: address,
      options: tie("options"),
    }).map((r) => ({ code: 26 as const, ...r })),
    tie("options").map((options) => ({ code: 45 as const, options })),
    tie("options").map((options) => ({ code: 116 as const, options })),
    tie("message").map((message) => ({ code: 9 as const, message })),
    fc.record({ peerAddress: address, message: tie("message") }).map((r) => ({
      code: 47 as const,
      ...r,
    })),
  ),
  options: fc.array(tie("option"), { maxLength: 4, depthIdentifier: "tree" }),
  message: fc.oneof(
    { depthSize: "small", maxDepth: 6, depthIdentifier: "tree" },
    fc.record({ msgType: clientServerTypes, transactionId: u24, options: tie("options") }).map((
      r,
    ) => ({ kind: "client-server" as const, ...r })),
    fc.record({
      msgType: failoverTypes,
      transactionId: u24,
      sentTime: u32,
      options: tie("options"),
    })
      .map((r) => ({ kind: "failover" as const, ...r })),
    fc.record({
      msgType: fc.constantFrom(12 as const, 13 as const),
      hopCount: u8,
      linkAddress: address,
      peerAddress: address,
      options: tie("options"),
    }).map((r) => ({ kind: "relay" as const, ...r })),
  ),
}));

/** Any message of types 1–35 with nested options (IA trees, CLIENT_DATA, relays). */
export const message: fc.Arbitrary<Message> = tree.message;

/** A failover BNDUPD-shaped message: CLIENT_DATA > IA_NA|IA_PD > IAADDR|IAPREFIX > F_*. */
export const bndupd: fc.Arbitrary<Message> = fc.record({
  transactionId: u24,
  sentTime: u32,
  duid: bytes(3, 20),
  baseTime: u32,
  leases: fc.array(
    fc.record({
      pd: fc.boolean(),
      iaid: u32,
      addr: address,
      plen: fc.integer({ min: 0, max: 128 }),
      status: fc.integer({ min: 1, max: 8 }),
      times: fc.array(u32, { minLength: 5, maxLength: 5 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
}).map((r) => ({
  kind: "failover" as const,
  msgType: 24 as const,
  transactionId: r.transactionId,
  sentTime: r.sentTime,
  options: [{
    code: 45 as const,
    options: [
      { code: 1 as const, duid: r.duid },
      { code: 100 as const, baseTime: r.baseTime },
      ...r.leases.map((l): DhcpOption => {
        const inner: DhcpOption[] = [
          { code: 114, bindingStatus: l.status },
          { code: 133, startTimeOfState: l.times[0] },
          { code: 134, stateExpirationTime: l.times[1] },
          { code: 46, cltTime: l.times[2] },
          { code: 123, partnerLifetime: l.times[3] },
          { code: 120, expirationTime: l.times[4] },
        ];
        return l.pd
          ? {
            code: 25,
            iaid: l.iaid,
            t1: 1800,
            t2: 2880,
            options: [{
              code: 26,
              preferredLifetime: 3600,
              validLifetime: 7200,
              prefixLength: l.plen,
              prefix: l.addr,
              options: inner,
            }],
          }
          : {
            code: 3,
            iaid: l.iaid,
            t1: 1800,
            t2: 2880,
            options: [{
              code: 5,
              address: l.addr,
              preferredLifetime: 3600,
              validLifetime: 7200,
              options: inner,
            }],
          };
      }),
    ],
  }],
}));
