/**
 * The built-in conformance suite (`failover6 partner --suite conformance`): scenarios from the
 * digest's §14 checklist and the RFC 8156 flows, each for the role of the partner it makes sense
 * for (partner as primary tests a secondary, and the reverse). Written as data of the same shape
 * scenario files load into. They need nothing from the system under test but a relationship
 * with us; the addresses they use come from variables a run may override (`--var
 * subnet=2001:db8:5:0`).
 *
 * @module
 */

import type { Role, Scenario, Step } from "./types.ts";

/** Variables the suite uses, and their defaults. */
export const SUITE_VARS: Readonly<Record<string, string>> = {
  /** First four groups of the /64 the test addresses come from. */
  subnet: "2001:db8:0:1",
  /** A delegable prefix for the standalone IAPREFIX case. */
  prefix: "2001:db8:ff00::/56",
  /** Client DUIDs (DUID-LL). */
  client: "00030001020304050601",
  client2: "00030001020304050602",
};

const addr = (n: number) => `\${subnet}::${n.toString(16)}`;

const bndupd = (address: string, extra: Record<string, unknown> = {}): Step[] => [
  { kind: "send", msgType: 24, lease: { client: "${client}", address, ...extra } },
  {
    kind: "expect",
    msgType: 25,
    match: { transactionId: "${xid}", errorStatus: null },
    checks: ["bndreply-mirrors"],
  },
];

const handshake: Step = { kind: "handshake" };

function s(
  name: string,
  role: Role,
  reference: string,
  description: string,
  steps: Step[],
  extra: Partial<Scenario> = {},
): Scenario {
  return { name, role, reference, description, steps, source: "conformance", ...extra };
}

/**
 * The conformance scenarios, in run order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONFORMANCE } from "@failover6/failover6";
 *
 * const names = CONFORMANCE.map((s) => s.name);
 * assert.ok(names.includes("bndupd-bndreply"));
 * assert.ok(CONFORMANCE.every((s) => s.role === "primary" || s.role === "secondary"));
 * ```
 */
export const CONFORMANCE: readonly Scenario[] = [
  s(
    "connect-accept",
    "primary",
    "RFC 8156 §6.1.1, §6.1.2; digest §14",
    "CONNECT is answered by an accepting CONNECTREPLY: same xid, the five options, our MCLT",
    [
      { kind: "send", msgType: 31 },
      {
        kind: "expect",
        msgType: 32,
        checks: ["connectreply-accept"],
        match: { "options.OPTION_F_PROTOCOL_VERSION.majorVersion": 1 },
      },
    ],
  ),
  s(
    "connect-reject-skew",
    "primary",
    "RFC 8156 §6.1.2, §7.1",
    "a CONNECT whose sent-time is 60 s off is rejected with ExcessiveTimeSkew (22), and no STATE follows",
    [
      { kind: "skew", offset: "60s" },
      { kind: "send", msgType: 31 },
      {
        kind: "expect",
        msgType: 32,
        checks: ["connectreply-reject"],
        match: { "options.OPTION_STATUS_CODE.statusCode": 22 },
      },
      { kind: "expect-none", msgType: 34, within: "1s" },
    ],
    { auto: { contact: false } },
  ),
  s(
    "connect-reject-version",
    "primary",
    "RFC 8156 §6.1.2 (NotSupported from RFC 7653)",
    "a CONNECT with protocol version 2.0 is rejected with NotSupported (14), and no STATE follows",
    [
      {
        kind: "send",
        msgType: 31,
        override: { OPTION_F_PROTOCOL_VERSION: { majorVersion: 2, minorVersion: 0 } },
      },
      {
        kind: "expect",
        msgType: 32,
        checks: ["connectreply-reject"],
        match: { "options.OPTION_STATUS_CODE.statusCode": 14 },
      },
      { kind: "expect-none", msgType: 34, within: "1s" },
    ],
    { auto: { contact: false } },
  ),
  s(
    "state-exchange",
    "primary",
    "RFC 8156 §6.1, §6.1.2, §6.3",
    "after CONNECTREPLY both sides send STATE; the peer's STATE is its next message and well formed",
    [handshake, { kind: "wait", duration: "1s" }],
  ),
  s(
    "connect-as-secondary",
    "secondary",
    "RFC 8156 §6.1, §6.1.1, §6.1.3, §6.3",
    "the primary's first message is a complete CONNECT, and it sends STATE after our CONNECTREPLY",
    [
      { kind: "expect", msgType: 31, checks: ["connect-options"] },
      { kind: "send", msgType: 32 },
      { kind: "send", msgType: 34 },
      { kind: "expect", msgType: 34, checks: ["state-options"] },
    ],
  ),
  s(
    "connectreply-mclt-mismatch",
    "secondary",
    "RFC 8156 §6.1.3",
    "a CONNECTREPLY whose MCLT differs from the CONNECT's makes the primary send DISCONNECT and drop",
    [
      { kind: "expect", msgType: 31, save: { theirMclt: "options.OPTION_F_MCLT.mclt" } },
      { kind: "send", msgType: 32, override: { OPTION_F_MCLT: "${theirMclt+60}" } },
      { kind: "expect", msgType: 33 },
      { kind: "expect-close", within: "5s" },
    ],
    { auto: { contact: false } },
  ),
  s(
    "bndupd-bndreply",
    "primary",
    "RFC 8156 §7.4, §7.5.3, §7.6; digest §14",
    "BNDREPLY echoes the xid, mirrors CLIENT_DATA and standalone IAPREFIX, echoes PARTNER_LIFETIME exactly",
    [
      handshake,
      ...bndupd(addr(0x100)),
      { kind: "send", msgType: 24, lease: { prefix: "${prefix}", status: "FREE-BACKUP" } },
      {
        kind: "expect",
        msgType: 25,
        match: { transactionId: "${xid}", errorStatus: null },
        checks: ["bndreply-mirrors"],
      },
    ],
  ),
  s(
    "conflict-outdated",
    "primary",
    "RFC 8156 §7.5.4 Figure 4 (time(1))",
    "an EXPIRED update for a lease still ACTIVE before its state-expiration-time is rejected with OutdatedBindingInformation (19)",
    [
      handshake,
      ...bndupd(addr(0x101)),
      {
        kind: "send",
        msgType: 24,
        lease: { client: "${client}", address: addr(0x101), status: "EXPIRED" },
      },
      { kind: "expect", msgType: 25, match: { transactionId: "${xid}", errorStatus: 19 } },
    ],
  ),
  s(
    "conflict-address-in-use",
    "secondary",
    "RFC 8156 §7.5.4 Figure 4 (accept(3))",
    "the primary rejects an ACTIVE lease for another client, with older client contact, with AddressInUse (16)",
    [
      handshake,
      ...bndupd(addr(0x102)),
      {
        kind: "send",
        msgType: 24,
        lease: { client: "${client2}", address: addr(0x102), cltTime: 600 },
      },
      { kind: "expect", msgType: 25, match: { transactionId: "${xid}", errorStatus: 16 } },
    ],
  ),
  s(
    "missing-binding-information",
    "primary",
    "RFC 8156 §7.5.3",
    "a BNDUPD with neither CLIENT_DATA nor IAPREFIX is rejected with MissingBindingInformation (18)",
    [
      handshake,
      { kind: "send", msgType: 24, options: [] },
      { kind: "expect", msgType: 25, match: { transactionId: "${xid}", errorStatus: 18 } },
    ],
  ),
  s(
    "updreqall-sync",
    "primary",
    "RFC 8156 §5.3.6, §5.3.7, §7.4",
    "UPDREQALL is answered by well-formed BNDUPDs, and UPDDONE only after every BNDREPLY",
    [
      handshake,
      ...bndupd(addr(0x110)),
      ...bndupd(addr(0x111)),
      ...bndupd(addr(0x112)),
      { kind: "withhold-bndreply", on: true },
      { kind: "send", msgType: 29 },
      { kind: "set", vars: { request: "${xid}" } },
      { kind: "expect", msgType: 24, count: 3, checks: ["bndupd-shape"] },
      { kind: "expect-none", msgType: 30, within: "1s" },
      { kind: "withhold-bndreply", on: false },
      { kind: "expect", msgType: 30, within: "10s", match: { transactionId: "${request}" } },
    ],
  ),
  s(
    "updreq-sync",
    "primary",
    "RFC 8156 §5.3.5, §5.3.7, §5.4",
    "UPDREQ is answered by UPDDONE carrying the UPDREQ's transaction-id",
    [
      handshake,
      { kind: "send", msgType: 28 },
      { kind: "expect", msgType: 30, within: "10s", match: { transactionId: "${xid}" } },
    ],
  ),
  s(
    "poolreq",
    "secondary",
    "RFC 8156 §5.3.3, §5.3.4",
    "the primary answers POOLREQ with POOLRESP carrying the POOLREQ's transaction-id",
    [
      handshake,
      { kind: "send", msgType: 26 },
      { kind: "expect", msgType: 27, match: { transactionId: "${xid}" } },
      { kind: "wait", duration: "1s" },
    ],
  ),
  s(
    "keepalive-contact",
    "primary",
    "RFC 8156 §5.3.12, §6.5",
    "the peer sends CONTACT when it has sent nothing for FO_SEND_TIME (our keepalive ÷ 4)",
    [
      handshake,
      { kind: "expect", msgType: 35, within: "${keepalive/4+2}" },
      { kind: "expect", msgType: 35, within: "${keepalive/4+2}" },
    ],
  ),
  s(
    "keepalive-timeout",
    "primary",
    "RFC 8156 §6.5",
    "the peer drops the connection after its FO_KEEPALIVE_TIME without a message from us",
    [
      handshake,
      { kind: "auto", auto: { contact: false } },
      { kind: "expect-close", within: "${peerKeepalive+3}" },
    ],
  ),
  s(
    "flow-control",
    "primary",
    "RFC 8156 §5.5.5, §6.1.1; digest §1.10",
    "with MAX_UNACKED_BNDUPD 2 announced, the peer never has more than 2 BNDUPDs unanswered",
    [
      handshake,
      ...bndupd(addr(0x120)),
      ...bndupd(addr(0x121)),
      ...bndupd(addr(0x122)),
      ...bndupd(addr(0x123)),
      { kind: "withhold-bndreply", on: true },
      { kind: "send", msgType: 29 },
      { kind: "set", vars: { request: "${xid}" } },
      { kind: "expect", msgType: 24, count: 2 },
      { kind: "expect-none", msgType: 24, within: "2s" },
      { kind: "withhold-bndreply", on: false },
      { kind: "expect", msgType: 30, within: "10s", match: { transactionId: "${request}" } },
    ],
    { settings: { maxUnacked: 2 } },
  ),
  s(
    "skew-later-message",
    "primary",
    "RFC 8156 §7.1",
    "a message whose sent-time is 60 s off, after the connection is up, makes the peer drop it",
    [
      handshake,
      { kind: "skew", offset: "60s" },
      { kind: "send", msgType: 35 },
      { kind: "expect-close", within: "5s" },
    ],
  ),
  s(
    "message-before-connect",
    "primary",
    "RFC 8156 §6.1, §6.1.2",
    "a BNDUPD before CONNECT is not processed: no BNDREPLY comes back",
    [
      { kind: "send", msgType: 24, lease: { client: "${client}", address: addr(0x130) } },
      { kind: "expect-none", msgType: 25, within: "2s" },
    ],
    { auto: { contact: false } },
  ),
  s(
    "garbage-frame",
    "primary",
    "RFC 8156 §5.1; issue 4 item 4",
    "a frame that is not a failover message does not bring the peer down: it accepts a new connection",
    [
      handshake,
      { kind: "corrupt-frame", corruption: "garbage" },
      { kind: "wait", duration: "1s" },
      { kind: "cut" },
      { kind: "reconnect" },
      handshake,
    ],
  ),
];

/**
 * The conformance scenarios for a role, optionally only the named ones (unknown names throw).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONFORMANCE, conformanceFor } from "@failover6/failover6";
 *
 * const asPrimary = conformanceFor("primary");
 * assert.equal(asPrimary.length, CONFORMANCE.filter((s) => s.role === "primary").length);
 * assert.deepEqual(conformanceFor("primary", ["state-exchange"]).map((s) => s.name), [
 *   "state-exchange",
 * ]);
 * assert.throws(() => conformanceFor("primary", ["no-such-scenario"]), RangeError);
 * ```
 */
export function conformanceFor(role: Role, only?: string[]): Scenario[] {
  if (!only || only.length === 0) return CONFORMANCE.filter((x) => x.role === role);
  const out: Scenario[] = [];
  for (const name of only) {
    const sc = CONFORMANCE.find((x) => x.name === name);
    if (!sc) {
      throw new RangeError(
        `no conformance scenario "${name}" (${CONFORMANCE.map((x) => x.name).join(", ")})`,
      );
    }
    if (sc.role !== role) {
      throw new RangeError(`conformance scenario "${name}" needs --role ${sc.role}`);
    }
    out.push(sc);
  }
  return out;
}
